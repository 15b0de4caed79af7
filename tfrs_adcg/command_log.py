"""The log of the TensorFlow command lines (``tfrs_adcg.train``, export).

Their INFO lines are progress and results; TensorFlow's and absl's own INFO
lines (a line per checkpoint, signature input renames while exporting) are
not, and stay hidden. Warnings and errors of every library are shown.
"""

import logging

_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_LIBRARIES = ("tensorflow", "absl")


def configure() -> None:
  """INFO lines of this package, warnings and errors of the libraries."""
  logging.basicConfig(level=logging.INFO, format=_FORMAT)
  for library in _LIBRARIES:
    logging.getLogger(library).setLevel(logging.WARNING)

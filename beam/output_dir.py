"""An output directory a pipeline owns: refused, or cleared, if already used;
and the small files written whole into it."""

import logging
import os
from typing import Sequence

from apache_beam.io.filesystems import FileSystems

_LOGGER = logging.getLogger(__name__)


def prepare(output: str, existing: Sequence[str], overwrite: bool,
            holds: str, subdirs: Sequence[str]) -> None:
  """Creates ``output`` and its ``subdirs`` on any Beam filesystem.

  Args:
    output: The directory (local, gs://, ...).
    existing: Files of an earlier run found in it.
    overwrite: Delete ``existing`` instead of refusing.
    holds: What an earlier run left, for the message ("preprocessed data").
    subdirs: Subdirectories the pipeline writes into.

  Raises:
    ValueError: if ``existing`` is not empty and ``overwrite`` is false.
  """
  if existing and not overwrite:
    raise ValueError(
        f"--output {output!r} already holds {holds} ({existing[0]}, ...): "
        "pass --overwrite to replace it, or choose another directory.")
  if existing:
    _LOGGER.info("Deleting %d files of an earlier run in %s.", len(existing),
                 output)
    FileSystems.delete(list(existing))
  for directory in ("",) + tuple(subdirs):
    path = os.path.join(output, directory)
    if not FileSystems.exists(path):
      FileSystems.mkdirs(path)


def write_text(path: str, text: str) -> str:
  """Writes ``text`` as UTF-8 into a new file at ``path``, on any Beam
  filesystem; returns ``path``. For the small files one worker (or the
  driver) writes whole: vocabularies, the catalog, summary and manifest."""
  with FileSystems.create(path) as f:
    f.write(text.encode("utf-8"))
  return path

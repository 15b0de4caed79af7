"""What the command lines print: this package's progress and results only.

By default ``run_command`` shows the INFO lines of this package's loggers
(``beam``, ``tfrs_adcg``, ``export``) and only the warnings and errors of
the libraries under them: no Beam runner or worker-harness INFO lines (the
worker processes log at ``WORKER_LOG_LEVEL``, and of what the DirectRunner's
worker processes log, only errors are shown), no FutureWarnings that Beam's
GCP dependencies print in every process that imports them. ``--log_level``
(``-v`` for INFO) sets the level of every logger and keeps the warnings.
TensorFlow's C++ log is quiet unless ``TF_CPP_MIN_LOG_LEVEL`` says otherwise
(``tfrs_adcg`` sets its default before TensorFlow loads).

A bad flag or input ends the command with one line, ``<prog>: error:
<message>`` and exit status 2, no traceback; other errors keep theirs.
"""

import argparse
import logging
import os
import sys
from typing import Any, Callable, List, Optional, Sequence

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
OWN_LOGGERS = ("__main__", "beam", "tfrs_adcg", "export")
WORKER_LOG_LEVEL = "WARNING"
# Logs what the DirectRunner's worker processes log ("Worker: ..."), such as
# a warning about their options in each process.
_WORKER_RELAY_LOGGER = "apache_beam.runners.portability.local_job_service"
_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_WORKER_LEVEL_OPTION = "--default_sdk_harness_log_level"


def add_flags(parser: argparse.ArgumentParser) -> None:
  """Adds ``--log_level`` and ``-v`` to a command's parser."""
  parser.add_argument(
      "--log_level", choices=LOG_LEVELS, default=None,
      help="Log level of every library (Beam, its workers) as well; "
      "default: this package's progress and results only.")
  parser.add_argument("-v", "--verbose", dest="log_level",
                      action="store_const", const="INFO",
                      help="Same as --log_level INFO.")


def log_level(argv: Sequence[str]) -> Optional[str]:
  """The ``--log_level`` of a command line (None: the quiet default)."""
  parser = argparse.ArgumentParser(add_help=False)
  add_flags(parser)
  return parser.parse_known_args(list(argv))[0].log_level


def configure(level: Optional[str]) -> None:
  """Sets up the log of a command; ``level`` None is the quiet default."""
  logging.basicConfig(format=_FORMAT, level=level or logging.WARNING,
                      force=True)
  if level is None:
    for name in OWN_LOGGERS:
      logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger(_WORKER_RELAY_LOGGER).setLevel(logging.ERROR)
    # Worker processes inherit it: Beam's GCP dependencies warn at import.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")


def quiet_workers(argv: Sequence[str], level: Optional[str]) -> List[str]:
  """``argv`` with the Beam workers' log level, unless it sets one."""
  argv = list(argv)
  if any(arg.split("=", 1)[0] == _WORKER_LEVEL_OPTION for arg in argv):
    return argv
  return argv + [_WORKER_LEVEL_OPTION, level or WORKER_LOG_LEVEL]


def run_command(main: Callable[[Sequence[str]], Any], prog: str,
                argv: Optional[Sequence[str]] = None) -> None:
  """Runs a command's ``main`` on ``argv`` (default: ``sys.argv[1:]``).

  Configures the log (``configure``), and turns a ``ValueError`` (a bad
  flag or input, e.g. ``rows.InputError``) into ``<prog>: error: ...`` on
  stderr and exit status 2.
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  level = log_level(argv)
  configure(level)
  try:
    main(quiet_workers(argv, level))
  except ValueError as e:
    if level == "DEBUG":
      raise
    print(f"{prog}: error: {e}", file=sys.stderr)
    sys.exit(2)

"""What the command lines print: this package's progress and results only.

By default ``run_command`` shows the INFO lines of this package's loggers
(``beam``, ``tfrs_adcg``, ``export``) and only the warnings and errors of
the libraries under them: no Beam runner or worker-harness INFO lines (the
worker processes log at ``WORKER_LOG_LEVEL``, our loggers at INFO; of what
the DirectRunner's worker processes log, our lines, such as progress, and
errors are shown, as plain lines), no FutureWarnings that Beam's GCP
dependencies print in every process that imports them. ``--log_level``
(``-v`` for INFO) sets the level of every logger and keeps the warnings,
those the GCP libraries print at import included (``tfrs_adcg`` reads the
flag before they load).
TensorFlow's C++ log is quiet unless ``TF_CPP_MIN_LOG_LEVEL`` says otherwise
(``tfrs_adcg`` sets its default before TensorFlow loads).

A bad flag or input ends the command with one line, ``<prog>: error:
<message>`` and exit status 2, no traceback; other errors keep theirs.
"""

import argparse
import json
import logging
import os
import sys
from typing import Any, Callable, List, Optional, Sequence

from apache_beam.portability.api import beam_fn_api_pb2
from google.protobuf import text_format

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
OWN_LOGGERS = ("__main__", "beam", "tfrs_adcg", "export")
WORKER_LOG_LEVEL = "WARNING"
# The long stages (parsing, scoring) log their progress at most this often,
# each process its own.
PROGRESS_SECONDS = 30.0
# Logs what the DirectRunner's worker processes log ("Worker: ..."), such as
# a warning about their options in each process.
_WORKER_RELAY_LOGGER = "apache_beam.runners.portability.local_job_service"
_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_WORKER_LEVEL_OPTION = "--default_sdk_harness_log_level"
_WORKER_OVERRIDES_OPTION = "--sdk_harness_log_level_overrides"


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
    relay = logging.getLogger(_WORKER_RELAY_LOGGER)
    relay.setLevel(logging.INFO)
    if not any(isinstance(f, OwnWorkerLines) for f in relay.filters):
      relay.addFilter(OwnWorkerLines())
    # Worker processes inherit it: Beam's GCP dependencies warn at import.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")


class OwnWorkerLines(logging.Filter):
  """Of the lines the DirectRunner relays from its worker processes, keeps
  errors and this package's own lines, each as its message alone.

  The relay logs a worker's ``LogEntry`` as ``Worker: <its text format>``;
  an entry's logger is not in it, but its source file is.
  """

  def __init__(self):
    super().__init__()
    self._own_dirs = tuple(
        os.path.join(os.path.dirname(os.path.dirname(__file__)), name, "")
        for name in OWN_LOGGERS if name != "__main__")

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno >= logging.ERROR:
      return True
    try:
      entry = text_format.Parse(str(record.args[0]),
                                beam_fn_api_pb2.LogEntry())
    except (IndexError, TypeError, text_format.ParseError):
      return False
    if not entry.log_location.startswith(self._own_dirs):
      return False
    record.msg, record.args = entry.message, ()
    return True


def quiet_workers(argv: Sequence[str], level: Optional[str]) -> List[str]:
  """``argv`` with the Beam workers' log levels, unless it sets them: by
  default, warnings, and this package's INFO lines (its progress)."""
  argv = list(argv)
  options = {arg.split("=", 1)[0] for arg in argv}
  if _WORKER_LEVEL_OPTION not in options:
    argv += [_WORKER_LEVEL_OPTION, level or WORKER_LOG_LEVEL]
  if level is None and _WORKER_OVERRIDES_OPTION not in options:
    argv += [_WORKER_OVERRIDES_OPTION,
             json.dumps({name: "INFO" for name in OWN_LOGGERS
                         if name != "__main__"})]
  return argv


def run_command(run: Callable[[Sequence[str]], Any], prog: str,
                argv: Optional[Sequence[str]] = None) -> None:
  """Runs a pipeline's ``run`` on ``argv`` (default: ``sys.argv[1:]``).

  Configures the log (``configure``), and turns a ``ValueError`` (a bad
  flag or input, e.g. ``rows.InputError``) into ``<prog>: error: ...`` on
  stderr and exit status 2.
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  level = log_level(argv)
  configure(level)
  try:
    run(quiet_workers(argv, level))
  except ValueError as e:
    if level == "DEBUG":
      raise
    print(f"{prog}: error: {e}", file=sys.stderr)
    sys.exit(2)

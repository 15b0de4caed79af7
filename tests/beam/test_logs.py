"""Command-line logs: our own lines by default, errors without traceback."""

import json
import logging
import os

from apache_beam.portability.api import beam_fn_api_pb2
import pytest

from beam import logs


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch):
  monkeypatch.delenv("PYTHONWARNINGS", raising=False)
  root = logging.getLogger()
  handlers, level = root.handlers[:], root.level
  own_levels = {name: logging.getLogger(name).level
                for name in logs.OWN_LOGGERS + (logs._WORKER_RELAY_LOGGER,)}  # pylint: disable=protected-access
  yield
  root.handlers[:] = handlers
  root.setLevel(level)
  for name, own_level in own_levels.items():
    logging.getLogger(name).setLevel(own_level)


def test_log_level_flags():
  assert logs.log_level(["--input", "x"]) is None
  assert logs.log_level(["-v", "--input", "x"]) == "INFO"
  assert logs.log_level(["--log_level", "DEBUG"]) == "DEBUG"


def test_quiet_default_shows_our_info_and_only_library_warnings():
  logs.configure(None)
  assert logging.getLogger("beam.preprocess").isEnabledFor(logging.INFO)
  assert logging.getLogger("__main__").isEnabledFor(logging.INFO)
  assert not logging.getLogger("apache_beam.runners").isEnabledFor(
      logging.INFO)
  assert os.environ["PYTHONWARNINGS"] == "ignore::FutureWarning"


def test_verbose_shows_the_libraries_too():
  logs.configure("INFO")
  assert logging.getLogger("apache_beam.runners").isEnabledFor(logging.INFO)
  assert "PYTHONWARNINGS" not in os.environ


def test_workers_log_warnings_and_our_progress_unless_told_otherwise():
  argv = logs.quiet_workers(["--runner", "DirectRunner"], None)
  assert argv[:4] == ["--runner", "DirectRunner",
                      "--default_sdk_harness_log_level", "WARNING"]
  assert argv[4] == "--sdk_harness_log_level_overrides"
  assert json.loads(argv[5]) == {"beam": "INFO", "tfrs_adcg": "INFO",
                                 "export": "INFO"}
  assert logs.quiet_workers([], "DEBUG") == [
      "--default_sdk_harness_log_level", "DEBUG"]
  own = ["--default_sdk_harness_log_level=ERROR",
         "--sdk_harness_log_level_overrides={}"]
  assert logs.quiet_workers(own, None) == own


def _relayed(level, message, path):
  """A worker's log line as the DirectRunner's relay logs it."""
  entry = beam_fn_api_pb2.LogEntry(message=message,
                                   log_location=f"{path}:12")
  return logging.LogRecord(logs._WORKER_RELAY_LOGGER, level, __file__, 1,  # pylint: disable=protected-access
                           "Worker: %s", (str(entry).replace("\n", " "),),
                           None)


def test_relayed_worker_lines_are_ours_and_errors_as_plain_messages():
  ours = os.path.join(os.path.dirname(logs.__file__), "parse_events.py")
  library = os.path.join(os.path.dirname(beam_fn_api_pb2.__file__), "x.py")
  keep = logs.OwnWorkerLines()
  progress = _relayed(logging.INFO, '1,000 "event" rows read so far.', ours)
  assert keep.filter(progress)
  assert progress.getMessage() == '1,000 "event" rows read so far.'
  assert not keep.filter(_relayed(logging.WARNING, "options", library))
  assert not keep.filter(_relayed(logging.INFO, "bundle", library))
  assert keep.filter(_relayed(logging.ERROR, "boom", library))


def test_a_bad_input_is_one_error_line_and_exit_status_2(capsys):
  def run(argv):
    assert argv[-4:-2] == ["--default_sdk_harness_log_level", "WARNING"]
    raise ValueError("events.csv has no column(s) ['user_id']")

  with pytest.raises(SystemExit) as exit_info:
    logs.run_command(run, "beam.preprocess", ["--input", "events.csv"])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (
      "beam.preprocess: error: events.csv has no column(s) ['user_id']\n")


def test_other_errors_keep_their_traceback():
  def run(argv):
    raise RuntimeError("a bug")

  with pytest.raises(RuntimeError, match="a bug"):
    logs.run_command(run, "beam.preprocess", [])

"""Command-line logs: our own lines by default, errors without traceback."""

import logging
import os

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


def test_workers_log_warnings_unless_told_otherwise():
  assert logs.quiet_workers(["--runner", "DirectRunner"], None) == [
      "--runner", "DirectRunner", "--default_sdk_harness_log_level",
      "WARNING"]
  assert logs.quiet_workers([], "DEBUG")[-1] == "DEBUG"
  own = ["--default_sdk_harness_log_level=ERROR"]
  assert logs.quiet_workers(own, None) == own


def test_a_bad_input_is_one_error_line_and_exit_status_2(capsys):
  def main(argv):
    assert argv[-2:] == ["--default_sdk_harness_log_level", "WARNING"]
    raise ValueError("events.csv has no column(s) ['user_id']")

  with pytest.raises(SystemExit) as exit_info:
    logs.run_command(main, "beam.preprocess", ["--input", "events.csv"])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (
      "beam.preprocess: error: events.csv has no column(s) ['user_id']\n")


def test_other_errors_keep_their_traceback():
  def main(argv):
    raise RuntimeError("a bug")

  with pytest.raises(RuntimeError, match="a bug"):
    logs.run_command(main, "beam.preprocess", [])

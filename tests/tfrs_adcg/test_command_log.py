"""The TensorFlow commands' log: our INFO lines, the libraries' warnings."""

import logging

import pytest

from tfrs_adcg import command_log


@pytest.fixture(autouse=True)
def _restore_logging():
  root = logging.getLogger()
  handlers, level = root.handlers[:], root.level
  libraries = {name: logging.getLogger(name).level
               for name in ("tensorflow", "absl")}
  yield
  root.handlers[:] = handlers
  root.setLevel(level)
  for name, library_level in libraries.items():
    logging.getLogger(name).setLevel(library_level)


def test_our_info_lines_and_only_library_warnings():
  logging.getLogger().handlers[:] = []
  command_log.configure()
  assert logging.getLogger("tfrs_adcg.train").isEnabledFor(logging.INFO)
  assert logging.getLogger("export.savedmodel").isEnabledFor(logging.INFO)
  for library in ("tensorflow", "absl"):
    assert not logging.getLogger(library).isEnabledFor(logging.INFO)
    assert logging.getLogger(library).isEnabledFor(logging.WARNING)

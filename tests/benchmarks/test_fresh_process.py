"""Tests of benchmarks.fresh_process: a function in a new process."""

import os

import pytest

from benchmarks import fresh_process


def test_runs_in_another_process_and_returns_its_result_and_peak():
  pid, peak_mib = fresh_process.run(os.getpid)
  assert pid != os.getpid()
  assert peak_mib > 0
  assert fresh_process.run(divmod, 7, 2)[0] == (3, 1)


def test_a_process_that_dies_or_raises_is_an_error_with_its_exit_code():
  with pytest.raises(RuntimeError, match=r"abort.*exit code -6"):
    fresh_process.run(os.abort)
  with pytest.raises(RuntimeError, match=r"int\('x',\).*exit code 1"):
    fresh_process.run(int, "x")

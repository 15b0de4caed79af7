"""Tests of benchmarks.process_memory on a real parent and child process."""

import os
import sys

from benchmarks import process_memory

ALLOCATED = 50 * 2**20
# A parent and the child it starts each fill ALLOCATED bytes (written, so
# resident); the child holds them for a second.
_CHILD = f"import time; data = b'x' * {ALLOCATED}; time.sleep(1)"
_PARENT = (f"import subprocess, sys; data = b'x' * {ALLOCATED}; "
           f"subprocess.run([sys.executable, '-c', {_CHILD!r}], check=True)")


def test_run_sampling_tree_sums_a_grandchilds_memory():
  finished, peak = process_memory.run_sampling_tree(
      [sys.executable, "-c", _PARENT], interval=0.05)
  assert finished.returncode == 0, finished.stderr
  # The sum over the tree, not the largest process.
  assert peak.rss_bytes >= 2 * ALLOCATED
  assert peak.processes == 2
  assert peak.sdk_workers == 0


def test_run_sampling_tree_captures_output_and_failure():
  finished, peak = process_memory.run_sampling_tree(
      [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"])
  assert finished.returncode == 3
  assert finished.stdout == "out\n"
  assert peak.processes == 1 and peak.rss_bytes > 0


def test_process_tree_of_this_process():
  tree = process_memory.process_tree(os.getpid())
  assert tree[0] == os.getpid()
  assert os.getppid() not in tree


def test_is_sdk_worker_counts_the_python_not_its_shell():
  module = process_memory.SDK_WORKER_MODULE
  is_sdk_worker = process_memory.is_sdk_worker
  assert is_sdk_worker(["/venv/bin/python", "-m", module, ""])
  assert not is_sdk_worker(["/bin/sh", "-c", f"python -m {module}"])
  assert not is_sdk_worker(["python", "-m", "beam.preprocess"])

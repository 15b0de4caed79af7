"""The resident memory of a process tree, sampled while a command runs.

A Beam DirectRunner in multi-processing mode starts worker processes of its
own, so the memory a pipeline costs is not the runner's high-water mark: it
is the sum over the runner and every descendant, alive at the same moment.
``run_sampling_tree`` runs a command and samples that sum from ``/proc``
(Linux) on a thread meanwhile, with the processes alive at once and how
many of them are Beam worker processes.
"""

import collections
import dataclasses
import os
import subprocess
import threading
from typing import Dict, List, Sequence, Tuple

SAMPLE_SECONDS = 0.2  # How often the process tree's memory is sampled.
# The module a DirectRunner worker process runs in multi_processing mode.
SDK_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"


def _parent_pids() -> Dict[int, int]:
  """The parent of every process alive now, from /proc/<pid>/stat."""
  parents = {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat", "rb") as f:
        stat = f.read()
    except OSError:  # Exited since the listing.
      continue
    # After the command name, in parentheses and maybe with spaces: the
    # state, then the parent's pid.
    parents[int(entry)] = int(stat[stat.rindex(b")") + 1:].split()[1])
  return parents


def process_tree(root: int) -> List[int]:
  """``root`` and every descendant of it alive now (Linux)."""
  children = collections.defaultdict(list)
  for pid, parent in _parent_pids().items():
    children[parent].append(pid)
  tree, pending = [], [root]
  while pending:
    pid = pending.pop()
    tree.append(pid)
    pending.extend(children[pid])
  return tree


def is_sdk_worker(argv: Sequence[str]) -> bool:
  """Whether a command line is a DirectRunner worker process's.

  The module must be a whole argument: the ``sh -c "python -m ..."`` Beam
  starts each worker with is not a second worker.
  """
  return SDK_WORKER_MODULE in argv


@dataclasses.dataclass
class TreeSample:
  """A process tree's summed resident memory and its processes."""
  rss_bytes: int = 0
  processes: int = 0
  sdk_workers: int = 0


def sample_tree(root: int) -> TreeSample:
  """The summed RSS (``/proc/<pid>/statm``) of ``root``'s tree, now."""
  page_bytes = os.sysconf("SC_PAGE_SIZE")
  sample = TreeSample()
  for pid in process_tree(root):
    try:
      with open(f"/proc/{pid}/statm", "rb") as f:
        resident_pages = int(f.read().split()[1])
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode("utf-8", "replace").split("\0")
    except OSError:  # Exited since the walk.
      continue
    sample.rss_bytes += resident_pages * page_bytes
    sample.processes += 1
    sample.sdk_workers += is_sdk_worker(argv)
  return sample


def run_sampling_tree(command: Sequence[str],
                      interval: float = SAMPLE_SECONDS
                      ) -> Tuple[subprocess.CompletedProcess, TreeSample]:
  """Runs ``command`` to its end, sampling its process tree meanwhile.

  Every ``interval`` seconds a thread sums the resident memory of the
  subprocess and all its descendants (a Beam runner and its worker
  processes, say). Pages shared between processes count in each, as in any
  sum of RSS; a peak shorter than ``interval`` may be missed.

  Returns:
    The finished process, its stdout and stderr captured as text, and the
    peaks over the samples: of the summed RSS (not of any one process), of
    the processes alive at once and of the Beam worker processes among them.
  """
  process = subprocess.Popen(command, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
  peak = TreeSample()
  done = threading.Event()

  def sample() -> None:
    while True:
      now = sample_tree(process.pid)
      peak.rss_bytes = max(peak.rss_bytes, now.rss_bytes)
      peak.processes = max(peak.processes, now.processes)
      peak.sdk_workers = max(peak.sdk_workers, now.sdk_workers)
      if done.wait(interval):
        return

  sampler = threading.Thread(target=sample, name="SampleTreeRss",
                             daemon=True)
  sampler.start()
  try:
    stdout, stderr = process.communicate()
  except BaseException:
    process.kill()
    raise
  finally:
    done.set()
    sampler.join()
  return (subprocess.CompletedProcess(list(command), process.returncode,
                                      stdout, stderr), peak)

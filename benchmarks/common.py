"""What every benchmark shares: the machine, timing, and writing results."""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List, Sequence

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "results")


def machine() -> Dict[str, object]:
  """Cores, CPU model, memory and date: stated beside every figure."""
  cpu = platform.processor() or "unknown"
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
  return {"cores": os.cpu_count(), "cpu": cpu,
          "memory_gib": round(memory_gib, 1),
          "python": platform.python_version(),
          "date": datetime.date.today().isoformat()}


def machine_line(info: Dict[str, object]) -> str:
  return (f"{info['cores']} cores, {info['cpu']}, {info['memory_gib']} GiB, "
          f"{info['date']}")


def memory_mib(field: str) -> float:
  """A memory figure of this process from /proc/self/status, in MiB (Linux):
  ``VmRSS`` now, ``VmHWM`` its peak.

  Use ``VmHWM`` for the peak of a child process rather than ``ru_maxrss``,
  which a child started by fork and exec inherits from its parent.
  """
  with open("/proc/self/status", encoding="utf-8") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024
  raise ValueError(f"No {field} in /proc/self/status.")


def peak_rss_mib() -> float:
  """Peak resident memory of this process so far, in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timings(function: Callable[[], object], repeats: int,
            warmup: int = 2) -> List[float]:
  """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
  for _ in range(warmup):
    function()
  seconds = []
  for _ in range(repeats):
    started = time.perf_counter()
    function()
    seconds.append(time.perf_counter() - started)
  return seconds


def percentile(values: Sequence[float], q: float) -> float:
  ordered = sorted(values)
  position = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
  return ordered[position]


def median(values: Sequence[float]) -> float:
  return statistics.median(values)


def add_results_dir_flag(parser: argparse.ArgumentParser) -> None:
  """``--results_dir``: where a benchmark writes (the repository's default)."""
  parser.add_argument("--results_dir", default=RESULTS_DIR,
                      help="Directory of the JSON, markdown and PNG results.")


def write_results(results_dir: str, name: str, results: Dict[str, object],
                  markdown: str) -> str:
  """Writes <results_dir>/<name>.json and .md; returns the md path."""
  os.makedirs(results_dir, exist_ok=True)
  with open(os.path.join(results_dir, f"{name}.json"), "w",
            encoding="utf-8") as f:
    json.dump(results, f, indent=2)
  path = os.path.join(results_dir, f"{name}.md")
  with open(path, "w", encoding="utf-8") as f:
    f.write(markdown.rstrip() + "\n")
  return path


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]
                   ) -> str:
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)

"""Latency percentiles of several serving signatures, timed interleaved.

The machine a benchmark runs on is shared: another process's burst slows
whichever index is being timed at that moment. Timing each index's calls
one after the other puts such a burst on one index alone; here the calls
are interleaved in blocks (every index's block of a round before the next
round, in an order shuffled per round), so load that comes and goes falls
on all of them alike. A block starts with untimed warmup calls: the
previous index's search leaves the caches to this one's. Python's garbage
collector is off while a block is timed, as ``timeit`` does: its pauses
belong to the benchmark's process, not to the signature.

A p99 needs calls enough that it is not the maximum: with n calls it is the
value ranked ``0.99 (n - 1)`` from the fastest (``common.percentile``), the
11th slowest of 1,000.
"""

import gc
import random
import time
from typing import Callable, Dict, List, Mapping

from benchmarks import common

PERCENTILES = (50, 95, 99)


def interleaved_timings(functions: Mapping[str, Callable[[], object]],
                        calls: int, block: int, warmup: int,
                        seed: int = 0) -> Dict[str, List[float]]:
  """Wall-clock seconds of ``calls`` timed calls of each function.

  Args:
    functions: What to time, by name; each called without arguments.
    calls: Timed calls of each function.
    block: Timed calls of a function in a row (the last block of each may
      be shorter).
    warmup: Untimed calls before each block.
    seed: Shuffles the order of the functions in each round.

  Returns:
    Each name's ``calls`` seconds, in the order they were taken.
  """
  if calls < 1 or block < 1 or warmup < 0:
    raise ValueError(f"calls ({calls}) and block ({block}) must be positive "
                     f"and warmup ({warmup}) not negative.")
  order = list(functions)
  shuffle = random.Random(seed).shuffle
  seconds = {name: [] for name in order}
  enabled = gc.isenabled()
  try:
    for done in range(0, calls, block):
      shuffle(order)
      for name in order:
        function = functions[name]
        for _ in range(warmup):
          function()
        gc.disable()
        for _ in range(min(block, calls - done)):
          started = time.perf_counter()
          function()
          seconds[name].append(time.perf_counter() - started)
        if enabled:
          gc.enable()
  finally:
    if enabled:
      gc.enable()
  return seconds


def percentiles_ms(seconds: List[float], prefix: str) -> Dict[str, float]:
  """``{prefix}_p50_ms``, ``_p95_ms`` and ``_p99_ms`` of ``seconds``, in
  milliseconds rounded to 0.01."""
  return {f"{prefix}_p{q}_ms": round(1000 * common.percentile(seconds, q), 2)
          for q in PERCENTILES}

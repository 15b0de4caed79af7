"""Counts for the manifest: ``(name, n)`` pairs, counted per bundle and summed.

A DoFn that counts per element would send one element per count through the
pipeline; ``BundleCounts`` keeps a counter per bundle instead and emits it
when the bundle finishes. Names nest with "/" (``events_dropped/duplicate``
becomes ``{"events_dropped": {"duplicate": n}}`` in the manifest). Counts are
PCollections, not Beam metrics, so every runner delivers them exactly.
``SumCounts`` sums them into one dict.
"""

import collections
from typing import Dict, Iterator, Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms import window

COUNTS = "counts"  # The output tag of counting DoFns.


class BundleCounts:
  """A counter that a DoFn resets in start_bundle and emits in finish_bundle."""

  def __init__(self):
    self._counts = collections.Counter()

  def add(self, name: str, n: int = 1) -> None:
    self._counts[name] += n

  def emit(self, tag: Optional[str] = COUNTS) -> Iterator:
    """Yields the counts as finish_bundle outputs and resets them.

    Args:
      tag: The output tag, or None for the main output.
    """
    for item in self._counts.items():
      value = window.GlobalWindows.windowed_value(item)
      yield value if tag is None else pvalue.TaggedOutput(tag, value)
    self._counts.clear()


class SumCounts(beam.CombineFn):
  """(name, n) pairs to {name: the sum of its n}."""

  def create_accumulator(self):
    return collections.Counter()

  def add_input(self, sums, pair):
    name, n = pair
    sums[name] += n
    return sums

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    for sums in accumulators:
      merged.update(sums)
    return merged

  def extract_output(self, sums) -> Dict[str, int]:
    return dict(sums)

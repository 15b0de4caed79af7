"""Counts for the manifest: ``(name, n)`` pairs, counted per bundle and summed.

A DoFn that counts per element would send one element per count through the
pipeline; ``BundleCounts`` keeps a counter per bundle instead and emits it
when the bundle finishes. Names nest with "/" (``events_dropped/duplicate``
becomes ``{"events_dropped": {"duplicate": n}}`` in the manifest). Counts are
PCollections, not Beam metrics, so every runner delivers them exactly.
"""

import collections
from typing import Iterator, Optional

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

"""A CombineFn wrapper whose accumulators cross workers as one pickle each.

With combiner lifting, every accumulator of a large per-key combine (a
dedup shard, a user's timeline) is sent across the shuffle. Beam's default
accumulator coder walks nested containers object by object, and a runner may
decode and re-encode what it groups; for accumulators holding thousands of
small tuples that costs more than the combining. ``PickledAccumulators``
hooks ``CombineFn.compact`` (called before an accumulator goes over the
wire) to turn the compacted accumulator into a single ``pickle`` blob, which
is a few times cheaper to write, move and read.
"""

import pickle
from typing import Any, Iterable

import apache_beam as beam


class PickledAccumulators(beam.CombineFn):
  """Combines like ``fn``; accumulators leave a worker pickled.

  ``merge_accumulators`` and ``extract_output`` take ``fn``'s accumulators
  or their pickled bytes, so ``fn``'s own accumulators must not be bytes.

  Args:
    fn: The CombineFn to wrap.
  """

  def __init__(self, fn: beam.CombineFn):
    super().__init__()
    self._fn = fn

  def setup(self, *args, **kwargs):
    self._fn.setup(*args, **kwargs)

  def teardown(self, *args, **kwargs):
    self._fn.teardown(*args, **kwargs)

  def create_accumulator(self):
    return self._fn.create_accumulator()

  def add_input(self, accumulator, element):
    return self._fn.add_input(_unpickled(accumulator), element)

  def merge_accumulators(self, accumulators: Iterable[Any]):
    return self._fn.merge_accumulators(
        _unpickled(accumulator) for accumulator in accumulators)

  def compact(self, accumulator) -> bytes:
    return pickle.dumps(self._fn.compact(_unpickled(accumulator)),
                        protocol=pickle.HIGHEST_PROTOCOL)

  def extract_output(self, accumulator):
    return self._fn.extract_output(_unpickled(accumulator))


def _unpickled(accumulator):
  if isinstance(accumulator, bytes):
    return pickle.loads(accumulator)
  return accumulator

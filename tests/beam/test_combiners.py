"""PickledAccumulators combines like the CombineFn it wraps."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to

from beam import combiners


class _SortedFn(beam.CombineFn):
  """Collects values into a sorted list."""

  def create_accumulator(self):
    return []

  def add_input(self, accumulator, element):
    accumulator.append(element)
    return accumulator

  def merge_accumulators(self, accumulators):
    return [value for accumulator in accumulators for value in accumulator]

  def compact(self, accumulator):
    return sorted(accumulator)

  def extract_output(self, accumulator):
    return sorted(accumulator)


def test_compact_pickles_and_merge_takes_both_forms():
  fn = combiners.PickledAccumulators(_SortedFn())
  first = fn.add_input(fn.add_input(fn.create_accumulator(), 3), 1)
  second = fn.add_input(fn.create_accumulator(), 2)
  compacted = fn.compact(first)
  assert isinstance(compacted, bytes)
  assert fn.extract_output(compacted) == [1, 3]
  assert fn.extract_output(fn.merge_accumulators([compacted, second])) == [
      1, 2, 3]


def test_as_a_lifted_combiner():
  with test_pipeline.TestPipeline() as pipeline:
    result = (pipeline
              | beam.Create([("a", 2), ("b", 1), ("a", 1)])
              | beam.CombinePerKey(combiners.PickledAccumulators(_SortedFn())))
    assert_that(result, equal_to([("a", [1, 2]), ("b", [1])]))

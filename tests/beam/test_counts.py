"""Counts per bundle, and their sum in one dict."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing import util

from beam import counts


class _CountWordsFn(beam.DoFn):
  """Counts its words per bundle under their first letter."""

  def __init__(self):
    super().__init__()
    self._counts = counts.BundleCounts()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, word):
    self._counts.add(word[0])
    yield word

  def finish_bundle(self):
    yield from self._counts.emit()


def test_bundle_counts_summed_into_one_dict():
  words = ["apple", "avocado", "banana", "cherry", "apricot"]
  with test_pipeline.TestPipeline() as pipeline:
    counted = (pipeline
               | beam.Create(words)
               | beam.ParDo(_CountWordsFn()).with_outputs(counts.COUNTS,
                                                          main="words"))
    sums = counted[counts.COUNTS] | beam.CombineGlobally(counts.SumCounts())
    util.assert_that(sums, util.equal_to([{"a": 3, "b": 1, "c": 1}]))
    util.assert_that(counted.words, util.equal_to(words), label="Words")


def test_sum_counts_of_nothing_is_empty():
  with test_pipeline.TestPipeline() as pipeline:
    sums = (pipeline
            | beam.Create([], reshuffle=False).with_output_types(
                beam.typehints.Tuple[str, int])
            | beam.CombineGlobally(counts.SumCounts()))
    util.assert_that(sums, util.equal_to([{}]))


def test_sum_counts_merges_accumulators():
  fn = counts.SumCounts()
  first = fn.add_input(fn.add_input(fn.create_accumulator(), ("x", 2)),
                       ("y", 1))
  second = fn.add_input(fn.create_accumulator(), ("x", 5))
  assert fn.extract_output(fn.merge_accumulators([first, second])) == {
      "x": 7, "y": 1}

"""Vocabulary counts and files, candidate frequencies."""

import apache_beam as beam
from apache_beam.testing import test_pipeline

from beam import vocabulary
from tfrs_adcg import schema

def test_write_vocabularies_most_frequent_first(tmp_path):
  id_counts = {(schema.ITEM_ID, "b"): 2, (schema.ITEM_ID, "a"): 2,
               (schema.ITEM_ID, "c"): 5, (schema.EVENT_TYPE, "view"): 1}
  (tmp_path / schema.VOCAB_DIR).mkdir()
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | beam.Create([id_counts])
         | vocabulary.WriteVocabularies(
             str(tmp_path), [schema.ITEM_ID, schema.EVENT_TYPE,
                             schema.ADVERTISER_ID]))
  read = lambda feature: open(schema.vocab_path(str(tmp_path), feature)).read()
  assert read(schema.ITEM_ID) == "c\t5\na\t2\nb\t2\n"
  assert read(schema.EVENT_TYPE) == "view\t1\n"
  assert read(schema.ADVERTISER_ID) == ""  # Written even without ids.


def test_frequency_lines_floor_zero_positives():
  lines = vocabulary.frequency_lines([("a", 3), ("b", 0), ("c", 1)])
  assert lines == ["a\t3\t0.75", "c\t1\t0.25", "b\t0\t0.125"]
  assert vocabulary.frequency_lines([("a", 0), ("b", 0)]) == [
      "a\t0\t0.5", "b\t0\t0.5"]


def test_write_candidate_frequencies(tmp_path):
  id_counts = {(schema.ADVERTISER_ID, "a1"): 9, (schema.ADVERTISER_ID, "a2"): 1,
               (schema.ADVERTISER_ID, "a3"): 4, (schema.ITEM_ID, "i1"): 6}
  with test_pipeline.TestPipeline() as pipeline:
    totals = pipeline | "IdCounts" >> beam.Create([id_counts])
    _ = (pipeline
         | "Positives" >> beam.Create([("a1", 2), ("a3", 1), ("a1", 1)])
         | vocabulary.WriteCandidateFrequencies(str(tmp_path), totals,
                                                schema.ADVERTISER_ID))
  text = (tmp_path / schema.CANDIDATE_FREQUENCIES).read_text()
  assert text == "a1\t3\t0.75\na3\t1\t0.25\na2\t0\t0.125\n"


def test_write_candidate_frequencies_without_positives(tmp_path):
  id_counts = {(schema.ITEM_ID, "i1"): 6, (schema.ITEM_ID, "i2"): 1}
  with test_pipeline.TestPipeline() as pipeline:
    totals = pipeline | "IdCounts" >> beam.Create([id_counts])
    _ = (pipeline
         | "Positives" >> beam.Create([]).with_output_types(
             beam.typehints.Tuple[str, int])
         | vocabulary.WriteCandidateFrequencies(str(tmp_path), totals,
                                                schema.ITEM_ID))
  text = (tmp_path / schema.CANDIDATE_FREQUENCIES).read_text()
  assert text == "i1\t0\t0.5\ni2\t0\t0.5\n"

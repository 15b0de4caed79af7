"""Tests of beam.candidate_writers: records in each output format."""

import glob
import json

import apache_beam as beam
from apache_beam.testing import test_pipeline
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from beam import candidate_writers
from beam import last_events
from beam import rows
from tfrs_adcg import schema

RECORDS = [
    {schema.USER_ID: f"user_{n}", schema.CANDIDATE_IDS: ["adv_2", "adv_\u00e9"],
     schema.SCORES: [0.75, -0.25 * n], schema.MODEL_VERSION: 1767225600,
     schema.AS_OF: "2026-02-01T00:00:00Z",
     schema.GENERATED_AT: "2026-02-02T03:04:05Z"}
    for n in range(5)]


def _from_example(serialized: bytes) -> dict:
  """A record through tf.train.Example itself, not the module's reader."""
  feature = tf.train.Example.FromString(serialized).features.feature
  text = lambda name: feature[name].bytes_list.value[0].decode()
  return {
      schema.USER_ID: text(schema.USER_ID),
      schema.CANDIDATE_IDS: [
          v.decode() for v in feature[schema.CANDIDATE_IDS].bytes_list.value],
      schema.SCORES: list(feature[schema.SCORES].float_list.value),
      schema.MODEL_VERSION: feature[schema.MODEL_VERSION].int64_list.value[0],
      schema.AS_OF: text(schema.AS_OF),
      schema.GENERATED_AT: text(schema.GENERATED_AT),
  }


def test_tf_examples_read_back_as_their_records():
  for record in RECORDS:
    serialized = candidate_writers.tf_example(record)
    assert candidate_writers.from_tf_example(serialized) == _from_example(
        serialized)
    assert candidate_writers.from_tf_example(serialized)[
        schema.CANDIDATE_IDS] == record[schema.CANDIDATE_IDS]


def _read(output, output_format):
  paths = sorted(glob.glob(str(
      output / f"{schema.CANDIDATES}-*-of-*"
      f"{candidate_writers.SUFFIXES[output_format]}")))
  assert paths
  if output_format == rows.JSONL:
    return [json.loads(line) for path in paths
            for line in open(path, encoding="utf-8")]
  if output_format == rows.PARQUET:
    return [record for path in paths
            for record in pq.read_table(path).to_pylist()]
  return [_from_example(serialized.numpy()) for serialized
          in tf.data.TFRecordDataset(paths, compression_type="GZIP")]


@pytest.mark.parametrize("output_format", candidate_writers.OUTPUT_FORMATS)
def test_write_candidates_round_trips_each_format(tmp_path, output_format):
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | beam.Create(RECORDS)
         | candidate_writers.WriteCandidates(str(tmp_path), output_format,
                                             num_shards=2))
  written = sorted(_read(tmp_path, output_format),
                   key=lambda record: record[schema.USER_ID])
  assert written == RECORDS  # The scores are exact in float32.


def test_the_parquet_schema_holds_every_record_field():
  assert candidate_writers.parquet_schema().names == list(RECORDS[0])


def test_a_json_line_is_one_utf8_line():
  line = candidate_writers.json_line(RECORDS[0])
  assert "\n" not in line and "adv_\u00e9" in line
  assert json.loads(line) == RECORDS[0]


def test_an_unknown_format_is_refused(tmp_path):
  with pytest.raises(ValueError, match="output_format must be one of"):
    candidate_writers.WriteCandidates(str(tmp_path), "csv", 0)


def test_write_skipped_users(tmp_path):
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | beam.Create([("u1", last_events.NO_HISTORY, 3)])
         | candidate_writers.WriteSkippedUsers(str(tmp_path)))
  paths = glob.glob(str(tmp_path / schema.SKIPPED_USERS_DIR / "users-*.jsonl"))
  assert [json.loads(line) for path in paths
          for line in open(path, encoding="utf-8")] == [
              {schema.USER_ID: "u1", "reason": last_events.NO_HISTORY,
               last_events.EVENTS_AFTER_AS_OF: 3}]

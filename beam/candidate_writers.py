"""Candidate records into files: JSON lines, Parquet or gzipped TFRecords.

A candidate record is one user's answer, a dict of ``schema`` field names:
user id, candidate ids best first, their scores, model version, as_of and
generated_at (ISO-8601). ``WriteCandidates`` writes records into
``<output>/candidates-SSSSS-of-NNNNN<suffix>`` in one of ``OUTPUT_FORMATS``;
``WriteSkippedUsers`` writes the users the job could not score.
"""

import json
import os
from typing import Any, Dict, Tuple

import apache_beam as beam
import pyarrow as pa

from beam import last_events
from beam import rows
from tfrs_adcg import schema

TFRECORD = "tfrecord"
OUTPUT_FORMATS = (rows.JSONL, rows.PARQUET, TFRECORD)
SUFFIXES = {rows.JSONL: ".jsonl", rows.PARQUET: ".parquet",
            TFRECORD: schema.TFRECORD_SUFFIX}

SKIPPED_USERS_NAME = "users"

Record = Dict[str, Any]


def json_line(record: Record) -> str:
  return json.dumps(record, ensure_ascii=False)


def tf_example(record: Record) -> bytes:
  """A record as a serialized ``tf.train.Example``."""
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top

  example = example_pb2.Example()
  feature = example.features.feature
  for name in (schema.USER_ID, schema.AS_OF, schema.GENERATED_AT):
    feature[name].bytes_list.value.append(record[name].encode())
  feature[schema.CANDIDATE_IDS].bytes_list.value.extend(
      [candidate.encode() for candidate in record[schema.CANDIDATE_IDS]])
  feature[schema.SCORES].float_list.value.extend(record[schema.SCORES])
  feature[schema.MODEL_VERSION].int64_list.value.append(
      record[schema.MODEL_VERSION])
  return example.SerializeToString()


def from_tf_example(serialized: bytes) -> Record:
  """The record of a ``tf_example``: how a consumer reads the TFRecord
  output back."""
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top

  feature = example_pb2.Example.FromString(serialized).features.feature
  record = {name: feature[name].bytes_list.value[0].decode()
            for name in (schema.USER_ID, schema.AS_OF, schema.GENERATED_AT)}
  record[schema.CANDIDATE_IDS] = [
      candidate.decode()
      for candidate in feature[schema.CANDIDATE_IDS].bytes_list.value]
  record[schema.SCORES] = list(feature[schema.SCORES].float_list.value)
  record[schema.MODEL_VERSION] = feature[
      schema.MODEL_VERSION].int64_list.value[0]
  return record


def parquet_schema() -> pa.Schema:
  """The Parquet schema of the candidate records."""
  return pa.schema([
      (schema.USER_ID, pa.string()),
      (schema.CANDIDATE_IDS, pa.list_(pa.string())),
      (schema.SCORES, pa.list_(pa.float32())),
      (schema.MODEL_VERSION, pa.int64()),
      (schema.AS_OF, pa.string()),
      (schema.GENERATED_AT, pa.string()),
  ])


def candidates_prefix(output: str) -> str:
  """The path prefix of the candidate shards in ``output``."""
  return os.path.join(output, schema.CANDIDATES)


class WriteCandidates(beam.PTransform):
  """Records to ``<output>/candidates-SSSSS-of-NNNNN<suffix>`` shards.

  Args:
    output: The output directory.
    output_format: One of ``OUTPUT_FORMATS``.
    num_shards: Shards to write; 0 lets the runner decide.
  """

  def __init__(self, output: str, output_format: str, num_shards: int):
    super().__init__()
    if output_format not in OUTPUT_FORMATS:
      raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got "
                       f"{output_format!r}.")
    self._prefix = candidates_prefix(output)
    self._format = output_format
    self._num_shards = num_shards

  def expand(self, records):
    suffix = SUFFIXES[self._format]
    if self._format == rows.PARQUET:
      return records | "WriteParquet" >> beam.io.WriteToParquet(
          self._prefix, parquet_schema(), file_name_suffix=suffix,
          num_shards=self._num_shards)
    if self._format == TFRECORD:
      return (records
              | "ToExamples" >> beam.Map(tf_example)
              | "WriteTFRecord" >> beam.io.WriteToTFRecord(
                  self._prefix, file_name_suffix=suffix,
                  num_shards=self._num_shards))
    return (records
            | "ToJson" >> beam.Map(json_line)
            | "WriteJson" >> beam.io.WriteToText(
                self._prefix, file_name_suffix=suffix,
                num_shards=self._num_shards))


def skipped_line(skipped: Tuple[str, str, int]) -> str:
  """``(user_id, reason, events after as_of)`` as a JSON line."""
  user, reason, after = skipped
  return json.dumps({schema.USER_ID: user, "reason": reason,
                     last_events.EVENTS_AFTER_AS_OF: after}, ensure_ascii=False)


class WriteSkippedUsers(beam.PTransform):
  """``(user_id, reason, events after as_of)`` to JSON lines
  ``<output>/skipped_users/users-SSSSS-of-NNNNN.jsonl``."""

  def __init__(self, output: str):
    super().__init__()
    self._prefix = os.path.join(output, schema.SKIPPED_USERS_DIR,
                                SKIPPED_USERS_NAME)

  def expand(self, skipped):
    return (skipped
            | "ToJson" >> beam.Map(skipped_line)
            | "Write" >> beam.io.WriteToText(self._prefix,
                                             file_name_suffix=".jsonl"))

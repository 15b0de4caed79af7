"""The example schema round-trips and guards data directories."""

import json

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema


def test_encode_then_parse_round_trips():
  history = {
      schema.ADVERTISER_ID: ["a1", "a2"],
      schema.ITEM_ID: ["i1", ""],
      schema.EVENT_TYPE: ["view", "signup"],
      schema.TIMESTAMP: [100, 200],
  }
  record = schema.encode_example("u1", 300, history, ["a3"], ["i9"])
  parsed = tf.io.parse_example(tf.constant([record]), schema.feature_spec())
  assert parsed[schema.USER_ID].numpy().tolist() == [b"u1"]
  assert parsed[schema.CUTOFF].numpy().tolist() == [300]
  assert parsed[schema.ADVERTISER_ID].to_list() == [[b"a1", b"a2"]]
  assert parsed[schema.ITEM_ID].to_list() == [[b"i1", b""]]
  assert parsed[schema.TIMESTAMP].to_list() == [[100, 200]]
  assert parsed[schema.LABEL_ADVERTISER_IDS].to_list() == [[b"a3"]]
  assert parsed[schema.LABEL_ITEM_IDS].to_list() == [[b"i9"]]


def test_encode_rejects_ragged_history():
  history = {name: ["x"] for name in schema.STRING_SEQUENCE_FEATURES}
  history[schema.TIMESTAMP] = [1, 2]
  with pytest.raises(ValueError, match="differ in length"):
    schema.encode_example("u", 3, history, [])


def test_read_manifest_errors_are_clear(tmp_path):
  with pytest.raises(schema.SchemaError, match="beam.preprocess"):
    schema.read_manifest(str(tmp_path / "missing"))
  (tmp_path / schema.MANIFEST).write_text(json.dumps({"schema_version": 0}))
  with pytest.raises(schema.SchemaError, match="schema version 0"):
    schema.read_manifest(str(tmp_path))
  (tmp_path / schema.MANIFEST).write_text(
      json.dumps({"schema_version": schema.SCHEMA_VERSION, "counts": {}}))
  assert schema.read_manifest(str(tmp_path))["counts"] == {}

"""The example schema round-trips and guards data directories."""

import json
import random

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


def _random_history(rng, length):
  ids = ["a1", "ünï€", "日本", "", "x" * 200]
  return {
      schema.ADVERTISER_ID: [rng.choice(ids) for _ in range(length)],
      schema.ITEM_ID: [rng.choice(ids) for _ in range(length)],
      schema.EVENT_TYPE: [rng.choice(["view", "checkout"])
                          for _ in range(length)],
      # Epoch seconds, and a few times outside their 5-byte varints.
      schema.TIMESTAMP: sorted(rng.choice([rng.randrange(2**28, 2**35), 0,
                                           2**35, 2**40, 2**63 - 1])
                               for _ in range(length)),
  }


@pytest.mark.parametrize("seed", range(4))
def test_history_windows_encode_like_plain_lists(seed):
  rng = random.Random(seed)
  length = rng.choice([0, 1, 5, 40])
  history = _random_history(rng, length)
  if seed % 2:  # Only epoch seconds: encoded all at once.
    history[schema.TIMESTAMP] = sorted(
        rng.randrange(2**28, 2**35) for _ in range(length))
  encoded = schema.encode_history(history)
  for _ in range(10):
    start = rng.randrange(length + 1)
    end = rng.randrange(start, length + 1)
    labels = rng.sample(["a1", "ünï€", "b"], rng.randrange(3))
    items = rng.sample(["i1", "日本"], rng.randrange(2))
    user = rng.choice(["u1", "ü" * 300])
    cutoff = rng.choice([1767225600, 2**40])
    plain = {name: values[start:end] for name, values in history.items()}
    assert (schema.encode_example(user, cutoff,
                                  schema.history_window(encoded, start, end),
                                  labels, items)
            == schema.encode_example(user, cutoff, plain, labels, items))
    parsed = tf.io.parse_example(
        tf.constant([schema.encode_example(
            user, cutoff, schema.history_window(encoded, start, end), labels,
            items)]), schema.feature_spec())
    assert parsed[schema.TIMESTAMP].to_list() == [plain[schema.TIMESTAMP]]
    assert parsed[schema.ITEM_ID].to_list() == [
        [v.encode() for v in plain[schema.ITEM_ID]]]
    assert parsed[schema.USER_ID].numpy().tolist() == [user.encode()]


def test_read_manifest_errors_are_clear(tmp_path):
  with pytest.raises(schema.SchemaError, match="beam.preprocess"):
    schema.read_manifest(str(tmp_path / "missing"))
  (tmp_path / schema.MANIFEST).write_text(json.dumps({"schema_version": 0}))
  with pytest.raises(schema.SchemaError, match="schema version 0"):
    schema.read_manifest(str(tmp_path))
  (tmp_path / schema.MANIFEST).write_text(
      json.dumps({"schema_version": schema.SCHEMA_VERSION, "counts": {}}))
  assert schema.read_manifest(str(tmp_path))["counts"] == {}

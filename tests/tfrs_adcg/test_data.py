"""tf.data input: training pairs, eval batches, data dir checks."""

import json

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import data
from tfrs_adcg import schema


def test_each_positive_becomes_one_training_pair(tiny_data_dir):
  dataset = data.training_dataset(
      data.shard_paths(str(tiny_data_dir), schema.TRAIN), batch_size=4,
      max_seq_len=2, shuffle_buffer=100, seed=0)
  history, positives, example_labels = next(iter(dataset))
  assert history[schema.ADVERTISER_ID].shape == (4, 2)
  pairs = sorted(
      (tuple(h.decode() for h in row), p.decode(),
       tuple(label.decode() for label in labels))
      for row, p, labels in zip(history[schema.ADVERTISER_ID].numpy(),
                                positives.numpy(), example_labels.numpy()))
  # u1 (labels a, c) keeps its last two events; u2 and u3 are padded. Each
  # pair carries its example's labels, padded to the widest.
  assert pairs == [(("a", ""), "b", ("b", "")), (("b", "b"), "a", ("a", "c")),
                   (("b", "b"), "c", ("a", "c")), (("c", ""), "a", ("a", ""))]
  timestamps = history[schema.TIMESTAMP].numpy()
  assert sorted(map(tuple, timestamps.tolist()))[0] == (
      1_700_000_001, schema.INT_PAD)


def test_training_dataset_repeats_in_full_batches(tiny_data_dir):
  dataset = data.training_dataset(
      data.shard_paths(str(tiny_data_dir), schema.TRAIN), batch_size=3,
      max_seq_len=2, shuffle_buffer=100, seed=0)
  batches = list(dataset.take(5))
  assert all(positives.shape == (3,) for _, positives, _ in batches)


def test_evaluation_batches_skip_examples_without_positives(tiny_data_dir):
  batches = list(data.evaluation_dataset(
      data.shard_paths(str(tiny_data_dir), schema.EVAL), max_seq_len=3))
  assert len(batches) == 1
  batch = batches[0]
  assert batch[schema.ADVERTISER_ID].numpy().tolist() == [[b"b", b"c", b""]]
  assert batch[schema.LABEL_ADVERTISER_IDS].to_list() == [[b"c", b"b"]]


def test_recent_history_keeps_the_tail():
  features = {
      name: tf.ragged.constant([[1, 2, 3], [4]] if name == schema.TIMESTAMP
                               else [["x", "y", "z"], ["w"]], dtype=(
                                   tf.int64 if name == schema.TIMESTAMP
                                   else tf.string))
      for name in schema.SEQUENCE_FEATURES
  }
  dense = data.recent_history(features, max_seq_len=2)
  assert dense[schema.TIMESTAMP].numpy().tolist() == [[2, 3], [4, 0]]
  assert dense[schema.ITEM_ID].numpy().tolist() == [[b"y", b"z"], [b"w", b""]]


def test_check_data_dir_accepts_a_complete_dir(tiny_data_dir):
  manifest = data.check_data_dir(str(tiny_data_dir))
  assert manifest["config"]["max_seq_len"] == 4


def test_check_data_dir_missing(tmp_path):
  with pytest.raises(schema.SchemaError, match="does not exist"):
    data.check_data_dir(str(tmp_path / "nowhere"))


def test_check_data_dir_empty(tmp_path):
  with pytest.raises(schema.SchemaError, match="no manifest.json"):
    data.check_data_dir(str(tmp_path))


def test_check_data_dir_other_schema_version(tiny_data_dir):
  manifest = tiny_data_dir / schema.MANIFEST
  manifest.write_text(json.dumps({"schema_version": schema.SCHEMA_VERSION + 1,
                                  "config": {"max_seq_len": 4}}))
  with pytest.raises(schema.SchemaError, match="schema version"):
    data.check_data_dir(str(tiny_data_dir))


def test_check_data_dir_without_training_shards(tiny_data_dir):
  for path in data.shard_paths(str(tiny_data_dir), schema.TRAIN):
    tf.io.gfile.remove(path)
  with pytest.raises(schema.SchemaError, match="no train shards"):
    data.check_data_dir(str(tiny_data_dir))


def test_check_data_dir_reads_the_task(tiny_data_dir):
  assert data.data_task(data.check_data_dir(str(tiny_data_dir))) == (
      schema.ADVERTISER_TASK)
  manifest = tiny_data_dir / schema.MANIFEST
  content = json.loads(manifest.read_text())
  content["config"]["task"] = schema.ITEM_TASK
  manifest.write_text(json.dumps(content))
  assert data.data_task(data.check_data_dir(str(tiny_data_dir))) == (
      schema.ITEM_TASK)
  content["config"]["task"] = "shop"
  manifest.write_text(json.dumps(content))
  with pytest.raises(schema.SchemaError, match="--task shop"):
    data.check_data_dir(str(tiny_data_dir))


def test_item_labels_are_the_positives_of_the_item_task(tiny_data_dir):
  paths = data.shard_paths(str(tiny_data_dir), schema.TRAIN)
  _, positives, _ = next(iter(data.training_dataset(
      paths, batch_size=1, max_seq_len=4, shuffle_buffer=1, seed=0,
      label_feature=schema.LABEL_ITEM_IDS)))
  assert positives.numpy()[0].startswith(b"item-")

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


def truncate(path, keep: float = 0.5) -> None:
  """Cuts a file to ``keep`` of its bytes, as a killed copy leaves it."""
  content = path.read_bytes()
  path.write_bytes(content[:int(len(content) * keep)])


def test_corrupt_shards_names_the_truncated_and_the_corrupted(tiny_data_dir):
  assert not data.corrupt_shards(str(tiny_data_dir))
  train_shard, = data.shard_paths(str(tiny_data_dir), schema.TRAIN)
  eval_shard, = data.shard_paths(str(tiny_data_dir), schema.EVAL)
  truncate(tiny_data_dir / train_shard)
  flipped = bytearray((tiny_data_dir / eval_shard).read_bytes())
  flipped[len(flipped) // 2] ^= 0xFF
  (tiny_data_dir / eval_shard).write_bytes(bytes(flipped))
  found = dict(data.corrupt_shards(str(tiny_data_dir)))
  assert sorted(found) == sorted([train_shard, eval_shard])
  assert found[train_shard].startswith("truncated record at ")
  assert not any(noise in reason for reason in found.values()
                 for noise in ("{{", "[Op:", "'"))


def test_a_data_loss_names_the_shard_and_the_remedy(tiny_data_dir):
  shard, = data.shard_paths(str(tiny_data_dir), schema.TRAIN)
  truncate(tiny_data_dir / shard)
  dataset = data.training_dataset([shard], batch_size=2, max_seq_len=2,
                                  shuffle_buffer=10, seed=0)
  with pytest.raises(data.CorruptShardError) as raised:
    with data.naming_corrupt_shards(str(tiny_data_dir)):
      next(iter(dataset))
  message = str(raised.value)
  assert shard in message and "python -m beam.preprocess" in message
  assert raised.value.__suppress_context__  # No TensorFlow trace under it.


def test_a_data_loss_no_shard_explains_is_raised_as_it_is(tiny_data_dir):
  with pytest.raises(tf.errors.DataLossError):
    with data.naming_corrupt_shards(str(tiny_data_dir)):
      raise tf.errors.DataLossError(None, None, "elsewhere")

"""A run's config against its data and the run it resumes."""

import functools

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import data
from tfrs_adcg import run_config
from tfrs_adcg import schema
from tfrs_adcg import train
from tfrs_adcg.config import TrainConfig


def test_item_task_is_read_from_the_data_and_mismatches_refused(
    item_preprocessed_dir, item_synthetic_dir, preprocessed_dir, tmp_path):
  catalog = str(item_synthetic_dir / "items.parquet")
  with pytest.raises(ValueError, match="does not match the data"):
    train.main(["--data", str(item_preprocessed_dir), "--model_dir",
                str(tmp_path / "a"), "--task", "advertiser"])
  with pytest.raises(ValueError, match="--item_catalog"):
    train.main(["--data", str(item_preprocessed_dir), "--model_dir",
                str(tmp_path / "b")])
  with pytest.raises(ValueError, match="item-level data"):
    train.main(["--data", str(preprocessed_dir), "--model_dir",
                str(tmp_path / "c"), "--item_catalog", catalog])
  with pytest.raises(ValueError, match="must be a Parquet file"):
    train.main(["--data", str(item_preprocessed_dir), "--model_dir",
                str(tmp_path / "d"), "--item_catalog",
                str(item_synthetic_dir / "events.csv")])
  assert not any((tmp_path / name).exists() for name in "abcd")


def write_examples(data_dir, examples) -> None:
  """A train shard of (history advertisers, labels) examples, one user's."""
  data_dir.mkdir(exist_ok=True)
  path = data_dir / f"{schema.TRAIN}-00000-of-00001{schema.TFRECORD_SUFFIX}"
  with tf.io.TFRecordWriter(str(path), "GZIP") as writer:
    for advertisers, labels in examples:
      history = {
          schema.TIMESTAMP: [1_700_000_000 + i for i in range(len(advertisers))],
          schema.ADVERTISER_ID: advertisers,
          schema.ITEM_ID: [""] * len(advertisers),
          schema.EVENT_TYPE: ["view"] * len(advertisers),
      }
      writer.write(schema.encode_example("u", 1_800_000_000, history, labels,
                                         []))


def test_repeat_vectors_default_to_pooled_queries_on_data_of_returns(
    preprocessed_dir, tmp_path):
  def resolved(data_dir, **fields):
    return run_config.resolve_config(
        TrainConfig(data=str(data_dir), model_dir="m", **fields), {})
  # On the synthetic log every conversion follows a visit to its advertiser.
  assert run_config.REPEAT_VECTORS > 0
  assert resolved(preprocessed_dir).num_repeat_vectors == (
      run_config.REPEAT_VECTORS)
  assert resolved(preprocessed_dir,
                  num_repeat_vectors=0).num_repeat_vectors == 0
  assert resolved(preprocessed_dir, objective="dense").num_repeat_vectors == 0
  # A log whose positives are never in their own history: none.
  no_returns = tmp_path / "data"
  write_examples(no_returns, [(["a", "b"], ["c"]), (["c"], ["d", "a"])])
  assert resolved(no_returns).num_repeat_vectors == 0


def test_repeat_share_counts_positives_in_their_own_recent_history(
    tmp_path):
  write_examples(tmp_path, [(["a", "b", "c"], ["a", "d"]),
                            (["e"], ["e"]), (["f", "g"], ["h"])])
  paths = data.shard_paths(str(tmp_path), schema.TRAIN)
  share = functools.partial(
      data.repeat_share, paths, label_feature=schema.LABEL_ADVERTISER_IDS,
      candidate_feature=schema.ADVERTISER_ID)
  assert share(max_seq_len=3, max_examples=10) == pytest.approx(2 / 4)
  # "a" is older than the last two events; only the first example counted.
  assert share(max_seq_len=2, max_examples=10) == pytest.approx(1 / 4)
  assert share(max_seq_len=3, max_examples=1) == pytest.approx(1 / 2)



def test_resuming_names_every_changed_setting():
  previous = TrainConfig(data="d", model_dir="m")
  run_config.check_resumable(previous, previous)
  with pytest.raises(ValueError, match=r"'m' holds a run trained with other "
                     r"settings: embedding_dim 64 \(now 32\); seed 42 "
                     r"\(now 1\)\."):
    run_config.check_resumable(
        TrainConfig(data="d", model_dir="m", embedding_dim=32, seed=1),
        previous)
  # Epochs and patience may grow, but for the schedule that epochs sets.
  run_config.check_resumable(
      TrainConfig(data="d", model_dir="m", epochs=200, patience=8), previous)
  with pytest.raises(ValueError, match=r"epochs 20 \(now 40\)"):
    run_config.check_resumable(
        TrainConfig(data="d", model_dir="m", epochs=40,
                    learning_rate_schedule="warmup_cosine"),
        TrainConfig(data="d", model_dir="m", epochs=20,
                    learning_rate_schedule="warmup_cosine"))


@pytest.mark.parametrize("field, value", [
    ("pooling", "mean"), ("dropout", 0.1), ("temperature", 0.1),
    ("item_id_dropout", 0.2), ("dense_target", "next"),
    ("shuffle_buffer", 10)])
def test_every_model_spec_field_and_the_input_stream_must_be_kept(field,
                                                                  value):
  previous = TrainConfig(data="d", model_dir="m")
  with pytest.raises(ValueError, match=f"other settings: {field} "):
    run_config.check_resumable(
        TrainConfig(data="d", model_dir="m", **{field: value}), previous)


def test_a_history_longer_than_the_data_is_refused():
  manifest = {"config": {"max_seq_len": 20}}
  run_config.check_history_length(
      TrainConfig(data="d", model_dir="m", max_seq_len=20), manifest)
  with pytest.raises(ValueError, match="--max_seq_len 21 is beyond the data"):
    run_config.check_history_length(
        TrainConfig(data="d", model_dir="m", max_seq_len=21), manifest)

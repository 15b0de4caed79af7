"""A run's config against its data and the run it resumes."""

import pytest

import tfrs_adcg  # noqa: F401
from tfrs_adcg import run_config
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


def test_repeat_vectors_default_to_pooled_queries():
  def resolved(**fields):
    return run_config.resolve_config(
        TrainConfig(data="d", model_dir="m", **fields), {})
  assert resolved().num_repeat_vectors == run_config.REPEAT_VECTORS
  assert run_config.REPEAT_VECTORS > 0
  assert resolved(num_repeat_vectors=0).num_repeat_vectors == 0
  assert resolved(objective="dense").num_repeat_vectors == 0



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
      TrainConfig(data="d", model_dir="m", epochs=40, patience=5), previous)
  with pytest.raises(ValueError, match="epochs 20"):
    run_config.check_resumable(
        TrainConfig(data="d", model_dir="m", epochs=40,
                    learning_rate_schedule="warmup_cosine"),
        TrainConfig(data="d", model_dir="m",
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

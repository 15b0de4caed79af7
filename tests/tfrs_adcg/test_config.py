"""The training configuration and its command line."""

import pytest

from tfrs_adcg import train
from tfrs_adcg.config import TrainConfig


def test_flags_to_config():
  config = train.parse_args([
      "--data", "d", "--model_dir", "m", "--epochs", "3", "--no_logq",
      "--pooling", "mean", "--max_seq_len", "50", "--strategy", "mirrored"])
  assert (config.data, config.model_dir, config.epochs) == ("d", "m", 3)
  assert not config.logq
  assert config.pooling == "mean"
  assert config.max_seq_len == 50
  assert config.strategy == "mirrored"
  defaults = train.parse_args(["--data", "d", "--model_dir", "m"])
  assert defaults == TrainConfig(data="d", model_dir="m")
  assert defaults.logq


def test_save_and_load(tmp_path):
  config = TrainConfig(data="d", model_dir=str(tmp_path), max_seq_len=7)
  config.save(str(tmp_path))
  assert TrainConfig.load(str(tmp_path)) == config


def test_load_from_a_dir_without_a_run(tmp_path):
  with pytest.raises(FileNotFoundError, match="config.json"):
    TrainConfig.load(str(tmp_path))


@pytest.mark.parametrize("overrides, message", [
    ({"pooling": "max"}, "pooling"),
    ({"strategy": "tpu"}, "strategy"),
    ({"embedding_dim": 30, "num_heads": 4}, "multiple of num_heads"),
    ({"batch_size": 0}, "batch_size"),
    ({"temperature": 0.0}, "temperature"),
    ({"num_time_buckets": 1}, "num_time_buckets"),
    ({"max_seq_len": 0}, "max_seq_len"),
    ({"steps_per_epoch": -1}, "steps_per_epoch"),
    ({"task": "shop"}, "task must be one of"),
    ({"task": "item"}, "--item_catalog"),
    ({"num_price_buckets": 1}, "num_price_buckets"),
    ({"item_id_dropout": 1.0}, "item_id_dropout"),
])
def test_invalid_values_are_refused(overrides, message):
  with pytest.raises(ValueError, match=message):
    TrainConfig(data="d", model_dir="m", **overrides)


def test_unknown_pooling_flag_exits():
  with pytest.raises(SystemExit):
    train.parse_args(["--data", "d", "--model_dir", "m", "--pooling", "max"])


def test_item_flags_parse():
  config = train.parse_args([
      "--data", "d", "--model_dir", "m", "--task", "item", "--item_catalog",
      "items.parquet", "--no_pretrained", "--advertiser_model_dir", "a"])
  assert config.item_task and not config.pretrained
  assert config.item_catalog == "items.parquet"
  assert config.advertiser_model_dir == "a"
  assert train.parse_args(["--data", "d", "--model_dir", "m"]).task is None

"""The training configuration and its command line."""

import dataclasses
import json

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


def test_config_json_is_flat(tmp_path):
  TrainConfig(data="d", model_dir="m").save(str(tmp_path))
  written = json.loads((tmp_path / "config.json").read_text())
  assert set(written) == {field.name
                          for field in dataclasses.fields(TrainConfig)}
  assert written["max_seq_len"] == 50 and written["data"] == "d"


# config.json of an advertiser run trained before the model spec existed.
OLDER_CONFIG = {
    "advertiser_model_dir": None, "batch_size": 64, "data": "/data",
    "dense_target": "window", "dropout": 0.3, "embedding_dim": 32,
    "epochs": 6, "export_dir": None, "export_index": "scann",
    "feed_forward_dim": None, "history_item_ids": False, "item_catalog": None,
    "item_id_dropout": 0.5, "learning_rate": 0.001,
    "learning_rate_schedule": "constant", "logq": True, "max_seq_len": 20,
    "model_dir": "/model", "negatives": "in_batch", "num_heads": 2,
    "num_layers": 1, "num_oov_buckets": 2, "num_price_buckets": 24,
    "num_repeat_vectors": 8, "num_sampled_negatives": 256,
    "num_time_buckets": 24, "num_user_vectors": 4, "objective": "pooled",
    "patience": 2, "pooling": "last", "pretrained": True, "seed": 42,
    "shuffle_buffer": 20000, "steps_per_epoch": 100, "strategy": "default",
    "task": "advertiser", "temperature": 0.05, "warmup_steps": 100}


def test_an_older_runs_config_loads(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps(OLDER_CONFIG))
  config = TrainConfig.load(str(tmp_path))
  assert dataclasses.asdict(config) == OLDER_CONFIG
  spec = config.model_spec()
  assert (spec.max_seq_len, spec.num_repeat_vectors, spec.task) == (
      20, 8, "advertiser")


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

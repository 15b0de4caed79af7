"""Training end to end: metrics, the model dir, resume, multi-worker, errors."""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import checkpoints
from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg import train
from tfrs_adcg import vocabulary
from tfrs_adcg.evaluation import Evaluator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# A small, quick model; the session's trained_model_dir uses the same.
SMALL = ["--batch_size", "64", "--embedding_dim", "32", "--num_layers", "1",
         "--num_heads", "2"]


def read_metrics(model_dir) -> dict:
  with open(os.path.join(model_dir, train.METRICS_FILE)) as f:
    return json.load(f)


def read_log(model_dir):
  with open(os.path.join(model_dir, train.TRAINING_LOG)) as f:
    return list(csv.DictReader(f))


def test_metrics_json_has_every_ranker_and_metric(trained_model_dir):
  results = read_metrics(trained_model_dir)
  assert list(results) == list(metrics.RANKERS)
  for values in results.values():
    assert list(values) == list(metrics.METRIC_NAMES)
    assert all(0.0 <= value <= 1.0 for value in values.values())
    assert values["recall@10"] <= values["recall@50"] <= values["recall@100"]


def test_short_training_lowers_the_loss_and_beats_popularity(
    trained_model_dir):
  losses = [float(row["loss"]) for row in read_log(trained_model_dir)]
  assert len(losses) >= 2
  assert losses[-1] < losses[0]
  results = read_metrics(trained_model_dir)
  for name in ("recall@10", "ndcg@10"):
    assert results["model"][name] > results["popularity"][name], name


def test_model_dir_is_self_contained_and_restores_the_best_epoch(
    trained_model_dir, preprocessed_dir, tmp_path):
  moved = tmp_path / "moved"
  shutil.copytree(trained_model_dir, moved)
  for name in ("tensorboard", checkpoints.CHECKPOINT_DIR):
    assert (moved / name).is_dir()
  assert checkpoints.has_best(str(moved))
  trained = model_lib.load_trained(str(moved))
  assert trained.config.max_seq_len == 20
  assets = vocabulary.read_vocabularies(str(moved / model_lib.ASSETS_DIR))
  corpus = [id_.decode() for id_ in trained.candidate_ids().numpy()]
  assert corpus == assets.candidate_ids()
  assert set(assets.positives) <= set(corpus)
  # The reloaded model ranks the eval users exactly as the run reported.
  results = Evaluator(
      trained, data.shard_paths(str(preprocessed_dir), schema.EVAL),
      assets.popularity_ranking()).evaluate(baselines=False)
  assert results["model"] == pytest.approx(
      read_metrics(trained_model_dir)["model"], abs=1e-6)


def test_resuming_with_another_architecture_is_refused(
    trained_model_dir, preprocessed_dir, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  with pytest.raises(ValueError, match="other model settings"):
    train.main(["--data", str(preprocessed_dir), "--model_dir", str(copy),
                "--embedding_dim", "16", "--max_seq_len", "20"])


def test_a_finished_run_evaluates_and_exports_without_training(
    trained_model_dir, preprocessed_dir, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  export_dir = tmp_path / "serving"
  result = train.main([
      "--data", str(preprocessed_dir), "--model_dir", str(copy),
      "--epochs", "6", "--max_seq_len", "20", "--export_dir",
      str(export_dir)] + SMALL)
  assert result.history == {}
  assert result.initial_epoch == result.epochs_done
  reported = read_metrics(trained_model_dir)
  for ranker, values in reported.items():
    assert result.metrics[ranker] == pytest.approx(values, abs=1e-6)
  versions = [path for path in export_dir.iterdir() if path.name.isdigit()]
  assert len(versions) == 1
  assert (versions[0] / "saved_model.pb").exists()


def test_missing_empty_and_other_version_data_dirs(tmp_path,
                                                    preprocessed_dir):
  model_dir = str(tmp_path / "model")
  with pytest.raises(schema.SchemaError, match="does not exist"):
    train.main(["--data", str(tmp_path / "nothing"), "--model_dir", model_dir])
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(schema.SchemaError, match="no manifest.json"):
    train.main(["--data", str(empty), "--model_dir", model_dir])
  old = tmp_path / "old"
  shutil.copytree(preprocessed_dir, old)
  manifest = json.loads((old / schema.MANIFEST).read_text())
  manifest["schema_version"] = schema.SCHEMA_VERSION - 1
  (old / schema.MANIFEST).write_text(json.dumps(manifest))
  with pytest.raises(schema.SchemaError, match="schema version"):
    train.main(["--data", str(old), "--model_dir", model_dir])
  assert not os.path.exists(model_dir)


def test_resume_after_the_process_is_killed(preprocessed_dir, tmp_path):
  model_dir = tmp_path / "model"
  args = ["--data", str(preprocessed_dir), "--model_dir", str(model_dir),
          "--patience", "100", "--max_seq_len", "20"] + SMALL
  process = subprocess.Popen(
      [sys.executable, "-m", "tfrs_adcg.train", "--epochs", "50"] + args,
      cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  checkpoint_dir = str(model_dir / checkpoints.CHECKPOINT_DIR)
  deadline = time.time() + 300
  try:
    while tf.train.latest_checkpoint(checkpoint_dir) is None:
      assert process.poll() is None, "training exited before a checkpoint"
      assert time.time() < deadline, "no checkpoint within 5 minutes"
      time.sleep(0.5)
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  done = int(tf.train.latest_checkpoint(checkpoint_dir).rsplit("-", 1)[1])
  assert 1 <= done < 50

  result = train.main(["--epochs", str(done + 1)] + args)
  assert result.initial_epoch == done
  assert result.epochs_done == done + 1
  assert len(result.history["loss"]) == 1
  log = read_log(model_dir)
  epochs = [int(row["epoch"]) for row in log]
  assert epochs[0] == 0 and epochs[-1] == done
  # Resumed from the trained weights, not from scratch.
  assert float(log[-1]["loss"]) < float(log[0]["loss"])
  assert read_metrics(model_dir)["model"]["recall@10"] > 0


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_two_workers_on_loopback_train_like_one(preprocessed_dir,
                                                trained_model_dir, tmp_path):
  """Two epochs on two workers against the single-process session model.

  The flags equal the session model's but for the epochs (its best epoch is
  one of the first few), and the global batch is the same, split in two.
  """
  model_dir = tmp_path / "multi_worker"
  cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    workers.append(subprocess.Popen(
        [sys.executable, "-m", "tfrs_adcg.train", "--data",
         str(preprocessed_dir), "--model_dir", str(model_dir),
         "--strategy", "multi_worker", "--epochs", "2",
         "--max_seq_len", "20"] + SMALL,
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True))
  errors = [worker.communicate(timeout=600)[1] for worker in workers]
  for worker, error in zip(workers, errors):
    assert worker.returncode == 0, error[-3000:]

  multi, single = read_metrics(model_dir), read_metrics(trained_model_dir)
  assert multi["popularity"] == single["popularity"]
  assert multi["model"]["recall@10"] > multi["popularity"]["recall@10"]
  assert multi["model"]["recall@10"] == pytest.approx(
      single["model"]["recall@10"], abs=0.1)
  # Only the chief wrote the model dir.
  assert model_lib.load_trained(str(model_dir)).config.strategy == (
      "multi_worker")

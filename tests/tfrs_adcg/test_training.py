"""Training end to end: metrics, the model dir, resume, multi-worker, errors.

The runs start as the command line does (``train.main``); the command's own
behaviour is tested in test_train.py.
"""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import baselines
from tfrs_adcg import checkpoints
from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg import train
from tfrs_adcg import training
from tfrs_adcg import vocabulary
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.evaluation import Evaluator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# A small, quick model; the session's trained_model_dir uses the same.
SMALL = ["--batch_size", "64", "--embedding_dim", "32", "--num_layers", "1",
         "--num_heads", "2"]


def read_metrics(model_dir, split: str = schema.EVAL) -> dict:
  """One split's metrics per ranker from metrics.json."""
  with open(os.path.join(model_dir, training.METRICS_FILE)) as f:
    return json.load(f)[split]


def read_log(model_dir):
  with open(os.path.join(model_dir, training.TRAINING_LOG)) as f:
    return list(csv.DictReader(f))


def test_metrics_json_has_every_ranker_and_metric(trained_model_dir):
  for split in (schema.VALID, schema.EVAL):
    results = read_metrics(trained_model_dir, split)
    assert list(results) == list(metrics.RANKERS)
    for values in results.values():
      assert list(values) == list(metrics.METRIC_NAMES)
      assert all(0.0 <= value <= 1.0 for value in values.values())
      assert values["recall@10"] <= values["recall@50"] <= values["recall@100"]


def test_the_epoch_is_chosen_on_valid(trained_model_dir):
  with open(os.path.join(trained_model_dir, training.METRICS_FILE)) as f:
    written = json.load(f)
  assert written[training.SELECTED_ON] == schema.VALID
  log = read_log(trained_model_dir)
  best = max(range(len(log)),
             key=lambda epoch: float(log[epoch]["val_mean_recall"]))
  assert written[training.BEST_EPOCH] == best + 1
  assert written[schema.VALID]["model"]["recall@10"] == pytest.approx(
      float(log[best]["val_recall_at_10"]), abs=1e-6)


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
  assert trained.spec.max_seq_len == 20
  assets = vocabulary.read_vocabularies(str(moved / model_lib.ASSETS_DIR))
  corpus = [id_.decode() for id_ in trained.candidate_ids().numpy()]
  assert corpus == assets.candidate_ids()
  assert set(assets.positives) <= set(corpus)
  # The reloaded model ranks the eval users exactly as the run reported.
  results = Evaluator(
      trained, data.shard_paths(str(preprocessed_dir), schema.EVAL),
      baselines.for_model(trained, assets)).evaluate(baselines=False)
  assert results["model"] == pytest.approx(
      read_metrics(trained_model_dir)["model"], abs=1e-6)


class _Stdout:

  def __init__(self, tty: bool):
    self._tty = tty

  def isatty(self) -> bool:
    return self._tty


@pytest.mark.parametrize("chief, tty, verbosity", [
    (True, True, 1), (True, False, 2), (False, True, 0), (False, False, 0)])
def test_progress_is_a_bar_on_a_terminal_and_a_line_an_epoch_in_a_log(
    monkeypatch, chief, tty, verbosity):
  monkeypatch.setattr(sys, "stdout", _Stdout(tty))
  assert training._fit_verbosity(chief) == verbosity  # pylint: disable=protected-access


def test_resuming_with_another_architecture_is_refused(
    trained_model_dir, preprocessed_dir, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  with pytest.raises(ValueError, match="other settings: embedding_dim 32 "
                     r"\(now 16\)"):
    train.main(["--data", str(preprocessed_dir), "--model_dir", str(copy),
                "--embedding_dim", "16", "--max_seq_len", "20"] + SMALL[:2])


@pytest.mark.parametrize("flags,field", [
    (["--negatives", "mixed"], "negatives"),
    (["--no_logq"], "logq"),
    (["--learning_rate", "0.01"], "learning_rate"),
    (["--batch_size", "32"], "batch_size"),
    (["--seed", "1"], "seed"),
])
def test_resuming_with_another_objective_or_optimisation_is_refused(
    trained_model_dir, preprocessed_dir, tmp_path, flags, field):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  argv = ["--data", str(preprocessed_dir), "--model_dir", str(copy),
          "--epochs", "6", "--max_seq_len", "20"] + SMALL
  with pytest.raises(ValueError, match=f"other settings: {field} "):
    train.main(argv + flags)


def test_resuming_with_other_data_is_refused(trained_model_dir,
                                             preprocessed_dir, tmp_path):
  copy, other = tmp_path / "copy", tmp_path / "other_data"
  shutil.copytree(trained_model_dir, copy)
  shutil.copytree(preprocessed_dir, other)
  with pytest.raises(ValueError, match="other settings: data "):
    train.main(["--data", str(other), "--model_dir", str(copy), "--epochs",
                "6", "--max_seq_len", "20"] + SMALL)


def test_max_seq_len_beyond_the_data_is_refused(preprocessed_dir, tmp_path):
  model_dir = tmp_path / "model"
  with pytest.raises(ValueError, match=(
      "--max_seq_len 21 is beyond the data: beam.preprocess kept at most 20 "
      "events")):
    train.main(["--data", str(preprocessed_dir), "--model_dir",
                str(model_dir), "--max_seq_len", "21"])
  assert not model_dir.exists()


# Tiny runs on tests/tfrs_adcg/conftest.py's hand-written data dir.
TINY = ["--max_seq_len", "4", "--batch_size", "2", "--steps_per_epoch", "3",
        "--embedding_dim", "8", "--num_heads", "2", "--shuffle_buffer", "10",
        "--dropout", "0"]


def test_a_truncated_shard_ends_training_with_an_error_naming_it(
    tiny_data_dir, tmp_path):
  shard, = data.shard_paths(str(tiny_data_dir), schema.TRAIN)
  content = open(shard, "rb").read()
  with open(shard, "wb") as f:
    f.write(content[:len(content) // 2])
  with pytest.raises(data.CorruptShardError) as raised:
    train.main(["--data", str(tiny_data_dir), "--model_dir",
                str(tmp_path / "model"), "--epochs", "1"] + TINY)
  assert shard in str(raised.value)
  assert "python -m beam.preprocess" in str(raised.value)
  # What a user sees: our frames only, no Keras or TensorFlow trace.
  frames = [frame.filename for frame in
            traceback.extract_tb(raised.value.__traceback__)]
  assert not [name for name in frames if "site-packages" in name], frames
  assert raised.value.__suppress_context__


def test_a_resumed_run_reads_the_batches_an_uninterrupted_one_would(
    tiny_data_dir, tmp_path):
  argv = ["--data", str(tiny_data_dir)] + TINY
  train.main(argv + ["--model_dir", str(tmp_path / "whole"), "--epochs", "3"])
  train.main(argv + ["--model_dir", str(tmp_path / "resumed"), "--epochs",
                     "1"])
  result = train.main(argv + ["--model_dir", str(tmp_path / "resumed"),
                              "--epochs", "3"])
  assert result.initial_epoch == 1 and result.epochs_done == 3
  whole, resumed = (read_log(tmp_path / name) for name in ("whole", "resumed"))
  assert [row["epoch"] for row in resumed] == ["0", "1", "2"]
  # The same batches after the same weights: the same losses.
  for row, resumed_row in zip(whole, resumed):
    assert float(resumed_row["loss"]) == pytest.approx(float(row["loss"]),
                                                       rel=1e-4)


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


def test_resume_after_the_process_is_killed(preprocessed_dir,
                                            trained_model_dir, tmp_path):
  """Killed, then resumed for one epoch: the epochs of the session model,
  trained with the same flags without a break."""
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
  log, whole = read_log(model_dir), read_log(trained_model_dir)
  assert [int(row["epoch"]) for row in log] == list(range(done + 1))
  assert float(log[0]["loss"]) == pytest.approx(float(whole[0]["loss"]),
                                                rel=1e-4)
  # Resumed from the trained weights on the batches that follow theirs (a
  # resumed epoch differs from the whole run's by its dropout draws only).
  assert float(log[-1]["loss"]) == pytest.approx(float(whole[done]["loss"]),
                                                 rel=0.05)
  assert read_metrics(model_dir)["model"]["recall@10"] > 0


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


# Two epochs on two workers: the session model's flags but for the epochs
# (its best epoch is one of the first few), the same global batch, split in
# two, and no dropout: a resumed run draws its dropout masks anew, and the
# repeat vectors' gates, which learn fast in the first epochs, follow other
# masks far enough to move the loss of the next epoch by several percent.
TWO_WORKERS = ["--strategy", "multi_worker", "--epochs", "2",
               "--max_seq_len", "20", "--dropout", "0"] + SMALL


def start_workers(data_dir, model_dir, log_prefix) -> list:
  """Starts both workers of a loopback cluster; each logs to a file."""
  cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    with open(f"{log_prefix}-{index}.log", "w") as log:
      workers.append(subprocess.Popen(
          [sys.executable, "-m", "tfrs_adcg.train", "--data", str(data_dir),
           "--model_dir", str(model_dir)] + TWO_WORKERS,
          cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log))
  return workers


def finish_workers(workers, log_prefix, timeout: float = 300) -> list:
  """Waits for the workers to succeed; returns their logs."""
  deadline = time.time() + timeout
  try:
    for worker in workers:
      worker.wait(timeout=max(1, deadline - time.time()))
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
        worker.wait()
  logs = []
  for index, worker in enumerate(workers):
    with open(f"{log_prefix}-{index}.log") as f:
      logs.append(f.read())
    assert worker.returncode == 0, logs[-1][-3000:]
  return logs


@pytest.fixture(scope="module")
def two_worker_model_dir(preprocessed_dir, tmp_path_factory):
  """The model dir of an uninterrupted two-worker run (``TWO_WORKERS``)."""
  out = tmp_path_factory.mktemp("two_workers")
  model_dir = out / "model"
  finish_workers(start_workers(preprocessed_dir, model_dir, out / "worker"),
                 out / "worker")
  return model_dir


def test_two_workers_on_loopback_train_like_one(two_worker_model_dir,
                                                trained_model_dir):
  """Two epochs on two workers against the single-process session model."""
  model_dir = two_worker_model_dir
  multi, single = read_metrics(model_dir), read_metrics(trained_model_dir)
  assert multi["popularity"] == single["popularity"]
  assert multi["model"]["recall@10"] > multi["popularity"]["recall@10"]
  assert multi["model"]["recall@10"] == pytest.approx(
      single["model"]["recall@10"], abs=0.1)
  # Only the chief wrote the model dir.
  assert TrainConfig.load(str(model_dir)).strategy == "multi_worker"


def test_two_workers_killed_and_resumed_end_as_an_uninterrupted_run(
    preprocessed_dir, two_worker_model_dir, tmp_path):
  model_dir = tmp_path / "model"
  checkpoint_dir = str(model_dir / checkpoints.CHECKPOINT_DIR)
  workers = start_workers(preprocessed_dir, model_dir, tmp_path / "killed")
  deadline = time.time() + 300
  try:
    while tf.train.latest_checkpoint(checkpoint_dir) is None:
      assert all(w.poll() is None for w in workers), "a worker exited early"
      assert time.time() < deadline, "no checkpoint within 5 minutes"
      time.sleep(0.2)
  finally:
    for worker in workers:
      worker.send_signal(signal.SIGKILL)
    for worker in workers:
      worker.wait()
  assert tf.train.latest_checkpoint(checkpoint_dir).endswith("ckpt-1")

  logs = finish_workers(
      start_workers(preprocessed_dir, model_dir, tmp_path / "resumed"),
      tmp_path / "resumed")
  # Both workers resumed from the chief's checkpoint of epoch 1.
  for log in logs:
    assert "Resuming after epoch 1 from" in log, log[-3000:]
  resumed, whole = read_log(model_dir), read_log(two_worker_model_dir)
  assert [row["epoch"] for row in resumed] == ["0", "1"]
  assert [row["epoch"] for row in whole] == ["0", "1"]
  # Epoch 1 ran before the kill: the same weights, the same loss.
  assert float(resumed[0]["loss"]) == pytest.approx(float(whole[0]["loss"]),
                                                    rel=1e-3)
  # Epoch 2 continued the input stream.
  assert float(resumed[1]["loss"]) == pytest.approx(float(whole[1]["loss"]),
                                                    rel=0.05)
  for split in (schema.VALID, schema.EVAL):
    got, expected = read_metrics(model_dir, split), read_metrics(
        two_worker_model_dir, split)
    assert got["popularity"] == expected["popularity"]
    for name, value in expected["model"].items():
      assert got["model"][name] == pytest.approx(value, abs=0.03), name

"""The command line of training: flags, one-line errors, train then export."""

import os
import shutil
import subprocess
import sys

import pytest

import tfrs_adcg  # noqa: F401
from tfrs_adcg import schema
from tfrs_adcg import train
from tfrs_adcg import training

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The session's trained_model_dir: a run of these flags resumes it.
SMALL = ["--batch_size", "64", "--embedding_dim", "32", "--num_layers", "1",
         "--num_heads", "2"]


def test_the_command_ends_a_bad_input_with_one_line(preprocessed_dir,
                                                    tmp_path):
  process = subprocess.run(
      [sys.executable, "-m", "tfrs_adcg.train", "--data",
       str(preprocessed_dir), "--model_dir", str(tmp_path / "model"),
       "--max_seq_len", "21"],
      cwd=REPO, capture_output=True, text=True, check=False)
  assert process.returncode == 2
  assert "Traceback" not in process.stderr
  assert process.stderr.splitlines()[-1].startswith(
      "tfrs_adcg.train: error: --max_seq_len 21 is beyond the data")


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
  reported = training.read_metrics(str(trained_model_dir))[schema.EVAL]
  for ranker, values in reported.items():
    assert result.metrics[ranker] == pytest.approx(values, abs=1e-6)
  versions = [path for path in export_dir.iterdir() if path.name.isdigit()]
  assert len(versions) == 1
  assert (versions[0] / "saved_model.pb").exists()

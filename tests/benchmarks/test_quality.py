"""Tests of benchmarks.quality on the session's tiny data, one short epoch a
model: that the results are well formed and honest, not how good they are."""

import json
import os

import pytest

from benchmarks import quality
from benchmarks import run
from tfrs_adcg import metrics
from tfrs_adcg import schema

HISTORY = 20  # The session data's histories (conftest.TINY_SEQ_LEN).
# The defaults, and the ablations that change the most code paths.
ABLATIONS = tuple(ablation for ablation in quality.ABLATIONS
                  if ablation[0] in ("defaults", "--negatives full",
                                     "--objective dense --negatives mixed"))
FLAGS = {"--epochs": "1", "--steps_per_epoch": "2", "--batch_size": "64",
         "--embedding_dim": "16", "--max_seq_len": str(HISTORY)}


@pytest.fixture(scope="module")
def quality_results(synthetic_dir, preprocessed_dir, tmp_path_factory):
  """quality.measure on the session data, and its written files."""
  work = tmp_path_factory.mktemp("quality")
  leave_last_out = run.preprocess_events(
      str(synthetic_dir), str(work / "data_leave_last_out"), HISTORY,
      split="leave_last_out")
  results = quality.measure(str(preprocessed_dir), leave_last_out,
                            str(work / "models"), FLAGS, seeds=(0, 1),
                            ablations=ABLATIONS)
  quality.write(results, str(work / "results"))
  return results, str(work / "results")


def _assert_metrics(ranker_metrics):
  assert set(ranker_metrics) == set(metrics.METRIC_NAMES)
  assert all(0.0 <= value <= 1.0 for value in ranker_metrics.values())
  assert (ranker_metrics["recall@10"] <= ranker_metrics["recall@50"]
          <= ranker_metrics["recall@100"])


def test_every_run_reports_valid_and_eval(quality_results):
  _, results_dir = quality_results
  with open(os.path.join(results_dir, "quality.json"), encoding="utf-8") as f:
    saved = json.load(f)
  assert [run_["seed"] for run_ in saved["seeds"]] == [0, 1]
  assert ([run_["name"] for run_ in saved["ablations"]]
          == [name for name, _ in ABLATIONS])
  for run_ in saved["seeds"] + saved["ablations"] + [saved["leave_last_out"]]:
    assert "model_dir" not in run_
    assert 1 <= run_["best_epoch"] <= run_["epochs"]
    assert 0 < run_["seconds_to_best"] <= run_["train_seconds"]
    for split in (schema.VALID, schema.EVAL):
      assert set(run_[split]) == set(metrics.RANKERS)
      for ranker_metrics in run_[split].values():
        _assert_metrics(ranker_metrics)
  assert saved["data"]["time"]["valid_users"] > 0


def test_ratios_are_against_the_baselines(quality_results):
  results, _ = quality_results
  seed = results["seeds"][0]
  evaluation = seed[schema.EVAL]
  assert seed["ratios"][schema.EVAL]["ndcg@10 / last_advertiser"] == (
      pytest.approx(evaluation["model"]["ndcg@10"]
                    / evaluation["last_advertiser"]["ndcg@10"]))
  # The defaults ablation is the first seed's run, trained once.
  assert results["ablations"][0][schema.EVAL] == seed[schema.EVAL]


def test_markdown_sections(quality_results):
  _, results_dir = quality_results
  with open(os.path.join(results_dir, "quality.md"), encoding="utf-8") as f:
    markdown = f.read()
  for heading in ("## Time split", "## Objectives, negatives",
                  "## Leave-last-out"):
    assert heading in markdown
  assert "`--objective dense --negatives mixed`" in markdown

"""Tests of benchmarks.run: the quality sweeps, the speed plan, the report.

They run the report's steps on the session's tiny data with one short epoch
per model, writing into a temp dir; that the results are well formed, not
how good or fast they are.
"""

import json
import os

import pytest

from benchmarks import common
from benchmarks import run
from benchmarks import serving_bench
from tfrs_adcg import metrics

HISTORY = 20  # The session data's histories (conftest.TINY_SEQ_LEN).


@pytest.fixture(scope="module")
def quality_results(synthetic_dir, preprocessed_dir, tmp_path_factory):
  """run.quality on the session data, tiny sweeps, and its written files."""
  work = tmp_path_factory.mktemp("bench_work")
  config = run.RunConfig(
      workdir=str(work), results_dir=str(work / "results"), quick=True,
      train_flags={"--epochs": "1", "--steps_per_epoch": "2",
                   "--batch_size": "64", "--embedding_dim": "16",
                   "--max_seq_len": str(HISTORY)},
      seq_lens=(5, HISTORY), num_layers=(1,), speed=False)
  leave_last_out = run.preprocess_events(
      str(synthetic_dir), str(work / "data_leave_last_out"), HISTORY,
      split="leave_last_out")
  results = run.quality(config, str(preprocessed_dir), leave_last_out)
  run.write_quality(results, config.results_dir)
  return results, config.results_dir


def _assert_metrics(ranker_metrics):
  assert set(ranker_metrics) == set(metrics.METRIC_NAMES)
  for value in ranker_metrics.values():
    assert 0.0 <= value <= 1.0
  assert (ranker_metrics["recall@10"] <= ranker_metrics["recall@50"]
          <= ranker_metrics["recall@100"])


def test_quality_json_has_every_section(quality_results):
  _, results_dir = quality_results
  with open(os.path.join(results_dir, "quality.json"), encoding="utf-8") as f:
    saved = json.load(f)
  assert {"machine", "data", "default", "logq", "max_seq_len", "num_layers",
          "leave_last_out"} <= set(saved)
  assert "default_model_dir" not in saved
  for run_result in (saved["default"], saved["leave_last_out"],
                     saved["logq"]["off"]):
    assert set(run_result["metrics"]) == set(metrics.RANKERS)
    for ranker_metrics in run_result["metrics"].values():
      _assert_metrics(ranker_metrics)
  assert [p["value"] for p in saved["max_seq_len"]] == [5, HISTORY]
  assert [p["value"] for p in saved["num_layers"]] == [1]
  for point in saved["max_seq_len"] + saved["num_layers"]:
    _assert_metrics(point["metrics"]["model"])
  assert saved["data"]["leave_last_out"]["eval_users"] > 0


def test_same_settings_are_trained_once(quality_results):
  results, _ = quality_results
  # max_seq_len HISTORY and num_layers 1 are the default run's settings.
  assert results["max_seq_len"][1]["metrics"] == results["default"]["metrics"]
  assert results["num_layers"][0]["metrics"] == results["default"]["metrics"]
  assert results["logq"]["off"]["flags"][run.NO_LOGQ] is None
  assert run.NO_LOGQ not in results["default"]["flags"]


def test_head_tail_recall_in_range(quality_results):
  results, _ = quality_results
  for split in ("head_tail_on", "head_tail_off"):
    parts = results["logq"][split]
    assert parts["head_candidates"] + parts["tail_candidates"] == (
        results["data"]["time"]["candidates"])
    assert parts["head_users"] > 0
    for ranker in ("model", "popularity"):
      assert set(parts[ranker]) == {f"{part}_recall@{k}"
                                    for part in ("head", "tail")
                                    for k in metrics.RECALL_KS}
      for name, value in parts[ranker].items():
        assert value is None or 0.0 <= value <= 1.0, (split, ranker, name)
  # The popularity top 100 holds the whole head of a small corpus.
  assert results["logq"]["head_tail_on"]["popularity"]["head_recall@100"] == 1.0


def test_quality_markdown_and_plot(quality_results):
  _, results_dir = quality_results
  with open(os.path.join(results_dir, "quality.md"), encoding="utf-8") as f:
    markdown = f.read()
  for heading in ("## Time split", "## Log-Q", "## History length",
                  "## Transformer layers", "## Leave-last-out"):
    assert heading in markdown
  assert f"]({run.SEQ_LEN_PLOT})" in markdown
  with open(os.path.join(results_dir, run.SEQ_LEN_PLOT), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_speed_plan_passes_the_paths():
  plan = run.speed_plan(True, "/raw", "/data", "/model", "/serving/1")
  by_name = {name: argv for name, _, argv in plan}
  assert list(by_name) == ["preprocess", "train", "serving", "batch",
                           "item_index"]
  assert all("--quick" in argv for argv in by_name.values())
  assert by_name["train"][-2:] == ["--data", "/data"]
  assert by_name["serving"][-2:] == ["--model_dir", "/model"]
  assert by_name["batch"][1:] == ["--model", "/serving/1",
                                  "--input", os.path.join("/raw",
                                                          "events.csv")]
  full = run.speed_plan(False, "/raw", "/data", "/model", "/serving/1")
  assert not any("--quick" in argv for _, _, argv in full)


def test_run_speed_writes_into_the_results_dir(trained_model_dir, tmp_path):
  results_dir = str(tmp_path / "results")
  seconds = run.run_speed(
      [("serving", serving_bench.main,
        ["--model_dir", str(trained_model_dir), "--sizes", "2000",
         "--repeats", "2"])], results_dir)
  assert list(seconds) == ["serving"]
  with open(os.path.join(results_dir, "serving.json"), encoding="utf-8") as f:
    serving = json.load(f)
  assert set(serving["corpus"]["2000"]) == {"scann", "partitioned",
                                            "brute_force"}
  for point in serving["sweep"]:
    assert 0.0 <= point["recall@100"] <= 1.0
  assert os.path.exists(os.path.join(results_dir,
                                     "serving_recall_latency.png"))


def test_report_concatenates_results_in_order(quality_results, tmp_path):
  _, quality_dir = quality_results
  results_dir = tmp_path / "results"
  results_dir.mkdir()
  with open(os.path.join(quality_dir, "quality.md"), encoding="utf-8") as f:
    (results_dir / "quality.md").write_text(f.read(), encoding="utf-8")
  (results_dir / "item_index.md").write_text("Untitled table\n",
                                            encoding="utf-8")
  (results_dir / "zeta.md").write_text("# Zeta\n", encoding="utf-8")
  info = common.machine()
  report = run.write_report(str(results_dir), info)
  text = open(report, encoding="utf-8").read()
  assert str(info["date"]) in text and str(info["cpu"]) in text
  assert (text.index("\n## Retrieval quality") < text.index("\n## Item index")
          < text.index("Untitled table") < text.index("\n## Zeta"))
  assert "\n### Time split" in text  # Sections sit below the report's title.
  # Writing it again does not include the previous report.
  run.write_report(str(results_dir), info)
  assert open(report, encoding="utf-8").read().count("# Benchmark report") == 1

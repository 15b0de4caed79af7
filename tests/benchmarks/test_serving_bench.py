"""The serving benchmark at a tiny size: every index, trained embeddings;
its stages in this process, and one of them in a process of its own."""

import json
import os

from benchmarks import serving_bench
from benchmarks import serving_workloads


def test_tiny_run_measures_all_three_indexes(trained_model_dir,
                                             item_model_dir, tmp_path):
  results_dir = tmp_path / "results"
  results = serving_bench.main([
      "--model_dir", str(trained_model_dir), "--item_model_dir",
      str(item_model_dir), "--sizes", "3000", "--b1_calls", "12",
      "--b32_calls", "3", "--in_process", "--results_dir", str(results_dir)])
  assert results["source"] == serving_workloads.TRAINED_ITEMS
  assert [(s["stage"], s["candidates"]) for s in results["stages"]] == [
      (stage, 3000) for stage in ("workload", *serving_bench.KINDS, "timing",
                                  "sweep")]
  assert all(s["peak_rss_mib"] > 0 for s in results["stages"])
  kinds = results["corpus"]["3000"]
  assert set(kinds) == set(serving_bench.KINDS)
  # Small corpora: every leaf is searched, so all three are exact.
  for row in kinds.values():
    assert row["recall@100"] >= 0.99
    assert row["savedmodel_mib"] > 0
    for batch_size in serving_bench.BATCH_SIZES:
      p50, p95, p99 = (row[f"b{batch_size}_p{q}_ms"] for q in (50, 95, 99))
      assert 0 < p50 <= p95 <= p99
  sweep = results["sweep"]
  assert {p["index"] for p in sweep} == set(serving_bench.KINDS)
  for kind in ("scann", "partitioned"):
    leaves = [p["leaves_to_search"] for p in sweep if p["index"] == kind]
    assert leaves == sorted(set(leaves))
  partitioned = [p["recall@100"] for p in sweep if p["index"] == "partitioned"]
  # More leaves searched never lose a candidate.
  assert partitioned == sorted(partitioned)
  assert partitioned[0] < partitioned[-1] <= 1.0
  assert [p["recall@100"] for p in sweep if p["index"] == "brute_force"] == [
      1.0]
  assert results["advertiser_corpus"]["brute_force"] == 1.0
  with open(results_dir / "serving.json", encoding="utf-8") as f:
    assert json.load(f)["sweep_size"] == 3000
  markdown = (results_dir / "serving.md").read_text(encoding="utf-8")
  assert "| 3,000 | partitioned |" in markdown
  assert "12 calls of batch 1" in markdown and "b1 p95 ms" in markdown
  assert "Each stage ran in this one process" in markdown
  assert os.path.getsize(results_dir / "serving_recall_latency.png") > 0


def test_a_stage_in_a_fresh_process_gives_what_it_gives_in_this_one(
    trained_model_dir, tmp_path):
  args = (str(trained_model_dir), None, 500, str(tmp_path))
  stages = {}
  for in_process in (True, False):
    results = {"stages": [], "in_process": in_process}
    run_stage = serving_bench._run_stage  # pylint: disable=protected-access
    stages[in_process] = run_stage(results, "workload", 500,
                                   serving_bench.prepare_workload, *args)
    assert [s["stage"] for s in results["stages"]] == ["workload"]
    assert results["stages"][0]["peak_rss_mib"] > 0
  assert stages[False] == stages[True]

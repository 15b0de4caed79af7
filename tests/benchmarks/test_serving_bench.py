"""The serving benchmark at a tiny size: every index, trained embeddings."""

import json
import os

from benchmarks import serving_bench
from benchmarks import serving_workloads


def test_tiny_run_measures_all_three_indexes(trained_model_dir,
                                             item_model_dir, tmp_path):
  results_dir = tmp_path / "results"
  results = serving_bench.main([
      "--model_dir", str(trained_model_dir), "--item_model_dir",
      str(item_model_dir), "--sizes", "1500,3000", "--repeats", "2",
      "--results_dir", str(results_dir)])
  assert results["source"] == serving_workloads.TRAINED_ITEMS
  for size in ("1500", "3000"):
    kinds = results["corpus"][size]
    assert set(kinds) == set(serving_bench.KINDS)
    # Small corpora: every leaf is searched, so all three are exact.
    for row in kinds.values():
      assert row["recall@100"] >= 0.99
      assert row["b1_p50_ms"] > 0 and row["savedmodel_mib"] > 0
  sweep = results["sweep"]
  assert {p["index"] for p in sweep} == set(serving_bench.KINDS)
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
  assert os.path.getsize(results_dir / "serving_recall_latency.png") > 0

"""The serving benchmark at a tiny size: every index, trained embeddings."""

import json
import os

import numpy as np

from benchmarks import serving_bench


def test_trained_item_embeddings_scale_the_catalog(item_model_dir, tmp_path):
  corpus = serving_bench.trained_item_embeddings(str(item_model_dir), 700,
                                                 str(tmp_path))
  assert corpus["ids"].shape == (700,)
  assert len(set(corpus["ids"])) == 700
  assert corpus["embeddings"].shape[0] == 700
  np.testing.assert_allclose(np.linalg.norm(corpus["embeddings"], axis=1), 1,
                             rtol=1e-4)


def test_tiny_run_measures_all_three_indexes(trained_model_dir,
                                             item_model_dir, tmp_path):
  results_dir = tmp_path / "results"
  results = serving_bench.main([
      "--model_dir", str(trained_model_dir), "--item_model_dir",
      str(item_model_dir), "--sizes", "1500,3000", "--repeats", "2",
      "--results_dir", str(results_dir)])
  assert results["source"] == serving_bench.TRAINED_ITEMS
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


def test_merged_vectors_keep_each_users_best_distinct_rows():
  # Two users of two vectors, k' = 3 results per vector.
  rows = np.array([[5, 1, 2], [1, 7, 8], [3, 4, 5], [9, 3, 4]])
  scores = np.array([[.9, .5, .1], [.8, .7, .6], [.4, .3, .2],
                     [.95, .35, .1]])
  merged = serving_bench.merge_vectors(rows, scores, vectors=2, k=3)
  assert merged.tolist() == [[5, 1, 7], [9, 3, 4]]
  # Exact top-k of sets ranks by the best vector.
  corpus = np.eye(3, dtype=np.float32)
  sets = np.array([[[1, 0, 0], [0, 0, 2]]], np.float32)
  assert set(serving_bench.exact_top_k(sets, corpus, 2)[0]) == {0, 2}

"""Tests of benchmarks.item_quality: the kind signal and the report section."""

import json
import os

import numpy as np

from benchmarks import common
from benchmarks import item_quality
from tfrs_adcg import baselines
from tfrs_adcg import schema


def test_kind_signal_counts_nearest_neighbours_at_other_advertisers():
  # Two kinds of one category; items 2 and 3 have only item 1 at another
  # advertiser, of the other kind.
  embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, 0.2]],
                        np.float32)
  kinds = ["shoes/0", "shoes/0", "shoes/1", "shoes/1"]
  advertisers = ["a", "b", "a", "a"]
  signal = item_quality.kind_signal(embeddings, kinds, advertisers)
  # Nearest elsewhere: 0 -> 1 and 1 -> 0 (same kind), 2 -> 1 and 3 -> 1.
  assert signal["nearest_same_kind"] == 0.5
  # Pairs of two advertisers: (0,1), (1,2), (1,3) and back; one of a kind.
  assert signal["chance_same_kind"] == 1 / 3


def test_the_synthetic_catalog_tells_the_kind(tmp_path):
  signal = item_quality.generate_items(str(tmp_path / "raw"), quick=True)
  assert signal["chance_same_kind"] < 0.4
  assert signal["nearest_same_kind"] > 2 * signal["chance_same_kind"]


def _metrics(recall: float, cold: float) -> dict:
  return {"recall@10": recall / 3, "recall@50": recall / 2,
          "recall@100": recall, "ndcg@10": recall / 4,
          "cold_start_recall@100": cold}


def test_markdown_and_json(tmp_path):
  def run(recall, cold, epoch):
    return {"best_epoch": epoch,
            schema.VALID: {"model": _metrics(recall, cold)},
            schema.EVAL: {
                "model": _metrics(recall, cold),
                baselines.LAST_ADVERTISER_EXPANDED: _metrics(0.3, 0.2),
                "popularity": _metrics(0.1, 0.0)}}

  results = {
      "machine": common.machine(),
      "data": {"train_pairs": 1000, "valid_users": 10, "eval_users": 12,
               "candidates": 50},
      "kind_signal": {"nearest_same_kind": 0.8, "chance_same_kind": 0.2},
      "runs": {item_quality.PRETRAINED: run(0.45, 0.3, 3),
               item_quality.NO_PRETRAINED: run(0.4, 0.2, 4),
               item_quality.NO_REPEAT_VECTORS: run(0.3, 0.25, 2)},
      "cold_start_recall@100_ratio": 1.5,
  }
  path = item_quality.write(results, str(tmp_path))
  text = open(path, encoding="utf-8").read()
  assert text.startswith("# Item retrieval quality")
  assert "| item model | eval | 0.1500 | 0.2250 | 0.4500 | 0.3000 | 3 |" in text
  assert ("| item model, `--no_pretrained` | valid | 0.1333 | 0.2000 | "
          "0.4000 | 0.2000 | 4 |") in text
  assert ("| item model, `--num_repeat_vectors 0` | eval | 0.1000 | 0.1500 "
          "| 0.3000 | 0.2500 | 2 |") in text
  assert "| last advertiser expanded | eval | 0.1000 |" in text
  assert "1.50x the one without" in text and "80% of the items" in text
  with open(os.path.join(str(tmp_path), "item_quality.json"),
            encoding="utf-8") as f:
    assert json.load(f)["cold_start_recall@100_ratio"] == 1.5

"""Ranking metrics and baselines against values worked out by hand."""

import math

import pytest

from tfrs_adcg import metrics

# A corpus of 120 ids: c0 ... c119.
CORPUS = [f"c{i}" for i in range(120)]


def test_user_metrics_by_hand():
  # Positives at ranks 2 and 30 (1-based), and one never ranked.
  got = metrics.user_metrics(CORPUS, {"c1", "c29", "zz"})
  assert got["recall@10"] == pytest.approx(1 / 3)
  assert got["recall@50"] == pytest.approx(2 / 3)
  assert got["recall@100"] == pytest.approx(2 / 3)
  # DCG: one hit at rank 2; IDCG: three hits at ranks 1, 2, 3.
  dcg = 1 / math.log2(3)
  idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
  assert got["ndcg@10"] == pytest.approx(dcg / idcg)


def test_perfect_and_missing_rankings():
  assert metrics.user_metrics(CORPUS, {"c0"}) == {
      "recall@10": 1.0, "recall@50": 1.0, "recall@100": 1.0, "ndcg@10": 1.0}
  assert metrics.user_metrics(CORPUS, {"c100"}) == {
      "recall@10": 0.0, "recall@50": 0.0, "recall@100": 0.0, "ndcg@10": 0.0}
  # Ranks beyond 100 never count, even if the ranking is longer.
  assert metrics.user_metrics(CORPUS, {"c100", "c0"})["recall@100"] == 0.5


def test_ndcg_ideal_is_capped_at_ten_positives():
  positives = set(CORPUS[:12])
  assert metrics.user_metrics(CORPUS, positives)["ndcg@10"] == pytest.approx(1)
  assert metrics.user_metrics(CORPUS, positives)["recall@10"] == (
      pytest.approx(10 / 12))


def test_mean_over_users():
  mean = metrics.MeanMetrics()
  mean.add(CORPUS, {"c1", "c29", "zz"})
  mean.add(CORPUS, {"c0"})
  got = mean.result()
  assert mean.num_users == 2
  assert got["recall@10"] == pytest.approx((1 / 3 + 1) / 2)
  assert got["recall@50"] == pytest.approx((2 / 3 + 1) / 2)
  dcg_first = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
  assert got["ndcg@10"] == pytest.approx((dcg_first + 1) / 2)


def test_users_without_positives_are_refused():
  with pytest.raises(ValueError):
    metrics.user_metrics(CORPUS, set())
  with pytest.raises(ValueError, match="No users"):
    metrics.MeanMetrics().result()


def test_last_advertiser_ranking_is_recent_history_then_popularity():
  history = ["a", "b", "a", "", "c"]  # Oldest first, with padding.
  popularity = ["b", "d", "a", "e", "f"]
  assert metrics.last_advertiser_ranking(history, popularity, k=5) == [
      "c", "a", "b", "d", "e"]
  assert metrics.last_advertiser_ranking(history, popularity, k=2) == [
      "c", "a"]
  assert metrics.last_advertiser_ranking([], popularity, k=3) == [
      "b", "d", "a"]


def test_format_table_has_a_row_per_ranker():
  row = {name: 0.5 for name in metrics.METRIC_NAMES}
  table = metrics.format_table({"model": row, "popularity": row})
  lines = table.splitlines()
  assert len(lines) == 3
  assert lines[0].split() == list(metrics.METRIC_NAMES)
  assert lines[1].split() == ["model"] + ["0.5000"] * 4


def test_expand_to_items_follows_the_advertiser_ranking():
  items_of = {"a": ["a1", "a2"], "b": ["b1"], "c": ["c1", "c2", "c3"]}
  assert metrics.expand_to_items(["b", "a"], items_of, ["c3", "a1", "c1"],
                                 k=5) == ["b1", "a1", "a2", "c3", "c1"]
  assert metrics.expand_to_items(["c", "a"], items_of, [], k=4) == [
      "c1", "c2", "c3", "a1"]
  assert metrics.expand_to_items(["unknown"], items_of, ["b1"], k=3) == ["b1"]


def test_cold_start_recall_counts_only_cold_positives_and_their_users():
  mean = metrics.MeanMetrics(is_cold=lambda id_: id_.startswith("new"))
  mean.add(["new1", "x", "y"], {"new1", "new2", "x"})  # Cold recall 1/2.
  mean.add(["x"], {"x"})  # No cold positive: not a cold-start user.
  mean.add(["y"], {"new3"})  # Cold recall 0.
  result = mean.result()
  assert result[metrics.USERS] == 3
  assert result[metrics.COLD_START_USERS] == 2
  assert result["cold_start_recall@10"] == pytest.approx(0.25)
  assert result["recall@10"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_without_cold_start_users_there_is_no_cold_start_recall():
  mean = metrics.MeanMetrics(is_cold=lambda id_: False)
  mean.add(["x"], {"x"})
  result = mean.result()
  assert result[metrics.COLD_START_USERS] == 0
  assert "cold_start_recall@10" not in result
  plain = metrics.MeanMetrics()
  plain.add(["x"], {"x"})
  assert list(plain.result()) == list(metrics.METRIC_NAMES)

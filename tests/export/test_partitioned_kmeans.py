"""Balanced spherical k-means: capped leaves, no empty ones, reproducible."""

import math

import numpy as np
import pytest

from export import partitioned_kmeans


def unit_rows(size: int, dim: int = 16, seed: int = 0) -> np.ndarray:
  rows = np.random.default_rng(seed).normal(size=(size, dim))
  return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(
      np.float32)


def test_every_leaf_is_capped_and_every_row_placed():
  # A crowded cluster: k-means alone would give one leaf a third of the rows.
  rows = unit_rows(3000)
  rows[:1000] = rows[0] + 0.05 * unit_rows(1000, seed=1)
  capacity = math.ceil(1.1 * len(rows) / 40)
  partitions = partitioned_kmeans.train_partitions(rows, 40, capacity)
  sizes = partitions.leaf_sizes()
  assert sizes.sum() == len(rows) and sizes.max() <= capacity
  assert sizes.min() > 0
  assert partitions.assignment.dtype == np.int32
  np.testing.assert_allclose(np.linalg.norm(partitions.centroids, axis=1), 1,
                             rtol=1e-5)
  # The crowd spreads over as many leaves as it needs; the other rows
  # mostly sit in the leaf whose centroid suits them best.
  assert len(set(partitions.assignment[:1000])) >= math.ceil(1000 / capacity)
  best = np.argmax(rows[1000:] @ partitions.centroids.T, axis=1)
  assert np.mean(best == partitions.assignment[1000:]) > 0.6


def test_empty_leaves_are_dropped():
  # Five distinct vectors, each 20 times: at most five leaves can hold rows
  # by their own centroid, and none of 30 stays empty once dropped.
  rows = np.repeat(unit_rows(5), 20, axis=0)
  partitions = partitioned_kmeans.train_partitions(rows, 30, capacity=20)
  sizes = partitions.leaf_sizes()
  assert partitions.num_leaves <= 30 and sizes.min() > 0
  assert sizes.max() <= 20 and sizes.sum() == 100
  assert set(partitions.assignment) == set(range(partitions.num_leaves))


def test_same_seed_same_partitions_and_a_sample_trains_them():
  rows = unit_rows(5000, seed=2)
  first = partitioned_kmeans.train_partitions(rows, 50, 120, sample_size=800,
                                              seed=3)
  again = partitioned_kmeans.train_partitions(rows, 50, 120, sample_size=800,
                                              seed=3)
  np.testing.assert_array_equal(first.assignment, again.assignment)
  np.testing.assert_array_equal(first.centroids, again.centroids)
  assert first.leaf_sizes().max() <= 120


def test_one_row_one_leaf():
  partitions = partitioned_kmeans.train_partitions(unit_rows(1), 1, 1)
  assert partitions.num_leaves == 1
  np.testing.assert_array_equal(partitions.assignment, [0])


@pytest.mark.parametrize("leaves,capacity,message", [
    (0, 10, "num_leaves"), (11, 1, "num_leaves"), (2, 4, "cannot hold")])
def test_impossible_partitions_are_refused(leaves, capacity, message):
  with pytest.raises(ValueError, match=message):
    partitioned_kmeans.train_partitions(unit_rows(10), leaves, capacity)


def test_estimates_rank_a_wide_leaf_above_a_tight_nearer_one():
  # A tight leaf whose centroid is nearer the query, and a wide one whose
  # spread reaches further: the wide leaf holds the better candidate.
  rng = np.random.default_rng(0)
  axes = np.eye(16)
  tight = axes[0] * 0.6 + axes[1] * 0.8 + 0.02 * rng.normal(size=(200, 16))
  wide = axes[0] * 0.5 + axes[2] * 0.866 + 0.25 * rng.normal(size=(200, 16))
  rows = np.concatenate([tight, wide])
  rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(
      np.float32)
  partitions = partitioned_kmeans.train_partitions(rows, 2, 200)
  tight_leaf, wide_leaf = partitions.assignment[0], partitions.assignment[-1]
  assert set(partitions.assignment[:200]) == {tight_leaf}
  query = axes[:1].astype(np.float32)
  best = {leaf: (rows[partitions.assignment == leaf] @ query[0]).max()
          for leaf in (tight_leaf, wide_leaf)}
  assert best[wide_leaf] > best[tight_leaf] + 0.05
  centroid_scores = (query @ partitions.centroids.T)[0]
  assert centroid_scores[tight_leaf] > centroid_scores[wide_leaf]
  estimates = partitions.estimate_best_scores(query)[0]
  assert estimates[wide_leaf] > estimates[tight_leaf]
  # The tight leaf: candidates along its centroid, its estimate its best.
  assert partitions.alignments[tight_leaf] > 0.99
  assert partitions.spreads[tight_leaf] < 0.1 < partitions.spreads[wide_leaf]
  assert abs(estimates[tight_leaf] - best[tight_leaf]) < 0.02

"""Tests of benchmarks.index_recall: max-sim top k, merging, recall, chunked
searches."""

import numpy as np
import tensorflow as tf

from benchmarks import index_recall
from export import index as index_lib


def test_merged_vectors_keep_each_users_best_distinct_ids():
  # Two users of two vectors, k' = 3 results per vector.
  ids = np.array([[b"5", b"1", b"2"], [b"1", b"7", b"8"],
                  [b"3", b"4", b"5"], [b"9", b"3", b"4"]])
  scores = np.array([[.9, .5, .1], [.8, .7, .6], [.4, .3, .2],
                     [.95, .35, .1]])
  merged = index_recall.merge_vectors(ids, scores, vectors=2, k=3)
  assert merged.tolist() == [[b"5", b"1", b"7"], [b"9", b"3", b"4"]]
  # Exact top-k of sets ranks by the best vector.
  corpus = np.eye(3, dtype=np.float32)
  sets = np.array([[[1, 0, 0], [0, 0, 2]]], np.float32)
  assert set(index_recall.exact_top_k(sets, corpus, 2)[0]) == {0, 2}


def test_recall_is_the_mean_share_of_exact_ids_found():
  found = np.array([[b"a", b"b"], [b"c", b"d"]])
  exact = np.array([[b"b", b"e"], [b"d", b"c"]])
  assert index_recall.recall(found, exact) == 0.75


def test_chunked_exact_top_k_and_search_equal_one_search(monkeypatch):
  rng = np.random.default_rng(0)
  corpus = rng.normal(size=(300, 8)).astype(np.float32)
  users = rng.normal(size=(20, 3, 8)).astype(np.float32)
  ids = np.array([f"c{i}".encode() for i in range(300)])
  scores = np.einsum("uhd,nd->uhn", users, corpus).max(axis=1)
  expected = np.sort(np.argsort(-scores, axis=1)[:, :10], axis=1)
  index = index_lib.build_index("brute_force", tf.constant(ids),
                                tf.constant(corpus), 10)
  whole = index_recall.search_users(index, users, 10, len(corpus))
  # Scores of 2 users (3 vectors each over 300 candidates) at a time.
  monkeypatch.setattr(index_recall, "SCORES_PER_SEARCH", 2 * 3 * 300 + 1)
  assert index_recall.users_per_search(3, 300) == 2
  np.testing.assert_array_equal(
      np.sort(index_recall.exact_top_k(users, corpus, 10), axis=1), expected)
  chunked = index_recall.search_users(index, users, 10, len(corpus))
  np.testing.assert_array_equal(chunked, whole)
  assert index_recall.recall(chunked, ids[expected]) == 1.0

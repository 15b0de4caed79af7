"""Tests of benchmarks.index_recall: max-sim top k, merging, recall."""

import numpy as np

from benchmarks import index_recall


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

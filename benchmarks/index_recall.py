"""Recall of an index's top k for users of several vectors, against exact.

A user may be several vectors [H, D]; a candidate's score is its best over
them (max-sim). The partitioned index searches a user's vectors as one set;
ScaNN and brute force search each vector and merge the results per user as
serving does. These helpers compute the exact max-sim top k, that merge, an
index's top k per user, and the recall of one top k against another, so that
the benchmark measures every index the same way.
"""

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from export import partitioned_index


def exact_top_k(queries: np.ndarray, corpus: np.ndarray, k: int
                ) -> np.ndarray:
  """Rows of the exact top-k of users' vectors [Q, H, D] by max-sim (a
  candidate's best score over a user's H vectors), int [Q, k], unordered
  within the row."""
  rows = []
  for start in range(0, len(queries), 50):
    scores = np.einsum("qhd,nd->qhn", queries[start:start + 50],
                       corpus).max(axis=1)
    rows.append(np.argpartition(-scores, k - 1, axis=1)[:, :k])
  return np.concatenate(rows)


def merge_vectors(rows: np.ndarray, scores: np.ndarray, vectors: int,
                  k: int) -> np.ndarray:
  """Each user's k best distinct rows of the per-vector results ``rows``
  and ``scores`` [Q * H, k'] (the search of every vector of Q users), as
  ``user_vectors.merge_top_k`` merges them when serving: [Q, k]."""
  rows = np.asarray(rows).reshape(-1, vectors * np.shape(rows)[1])
  scores = np.asarray(scores).reshape(rows.shape)
  merged = []
  for user_rows, user_scores in zip(rows, scores):
    ranked = user_rows[np.argsort(-user_scores, kind="stable")]
    _, first = np.unique(ranked, return_index=True)
    kept = ranked[np.sort(first)[:k]]
    # Fewer than k distinct: the last one repeats, as when serving.
    merged.append(np.concatenate([kept, kept[-1:].repeat(k - len(kept))]))
  return np.stack(merged)


def search_users(index, queries: np.ndarray, k: int) -> np.ndarray:
  """Candidate ids [Q, k] of users' vectors [Q, H, D] by max-sim: the
  partitioned index searches each user's vectors as one set, the others
  search every vector and merge."""
  if isinstance(index, partitioned_index.PartitionedIndex):
    return index(tf.constant(queries), k=k)[1].numpy()
  scores, ids = index(tf.constant(queries.reshape(-1, queries.shape[-1])),
                      k=k)
  return merge_vectors(ids.numpy(), scores.numpy(), queries.shape[1], k)


def recall(found_ids: np.ndarray, exact_ids: np.ndarray) -> float:
  """Mean over users of |found & exact| / |exact|, of ids [Q, k] each."""
  return float(np.mean([len(set(f) & set(e)) / len(e)
                        for f, e in zip(found_ids, exact_ids)]))

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

from export import serving_module
from tfrs_adcg import user_vectors


def exact_top_k(queries: np.ndarray, corpus: np.ndarray, k: int
                ) -> np.ndarray:
  """Rows of the exact top-k of users' vectors [Q, H, D] by max-sim (a
  candidate's best score over a user's H vectors), int [Q, k], unordered
  within the row."""
  rows = []
  for start in range(0, len(queries), 50):
    chunk = queries[start:start + 50]
    scores = (chunk.reshape(-1, chunk.shape[-1]) @ corpus.T).reshape(
        len(chunk), chunk.shape[1], -1).max(axis=1)
    rows.append(np.argpartition(-scores, k - 1, axis=1)[:, :k])
  return np.concatenate(rows)


def merge_vectors(ids: np.ndarray, scores: np.ndarray, vectors: int,
                  k: int) -> np.ndarray:
  """Each user's k best distinct ids of the per-vector results ``ids``
  (bytes) and ``scores`` [Q * H, k'] (the search of every vector of Q
  users), merged by ``user_vectors.merge_top_k`` as serving merges them:
  [Q, k]."""
  ids = np.asarray(ids)
  width = vectors * ids.shape[1]
  _, merged = user_vectors.merge_top_k(
      tf.constant(np.reshape(scores, [-1, width]), tf.float32),
      tf.constant(ids.reshape(-1, width)), k)
  return merged.numpy()


def search_users(index, queries: np.ndarray, k: int) -> np.ndarray:
  """Candidate ids [Q, k] of users' vectors [Q, H, D] by max-sim, searched
  as the serving signature searches them (``serving_module.search_users``)."""
  return serving_module.search_users(index, tf.constant(queries), k)[1].numpy()


def recall(found_ids: np.ndarray, exact_ids: np.ndarray) -> float:
  """Mean over users of |found & exact| / |exact|, of ids [Q, k] each."""
  return float(np.mean([len(set(f) & set(e)) / len(e)
                        for f, e in zip(found_ids, exact_ids)]))

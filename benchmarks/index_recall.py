"""Recall of an index's top k for users of several vectors, against exact.

A user may be several vectors [H, D]; a candidate's score is its best over
them (max-sim). The partitioned index searches a user's vectors as one set;
ScaNN and brute force search each vector and merge the results per user as
serving does. These helpers compute the exact max-sim top k, that merge, an
index's top k per user, and the recall of one top k against another, so that
the benchmark measures every index the same way.

Scoring every user against the whole corpus at once takes [users x H, N]
floats (18 GB for 500 users of 9 vectors over 1M candidates): the exact top
k and the searches go a few users at a time, at most
``SCORES_PER_SEARCH`` scores each (``users_per_search``).
"""

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from export import serving_module
from tfrs_adcg import user_vectors

# Scores of one chunk of users against the whole corpus, at most (256 MiB).
SCORES_PER_SEARCH = 2**26


def users_per_search(vectors: int, num_candidates: int) -> int:
  """Users of ``vectors`` vectors each whose scores against
  ``num_candidates`` candidates fit ``SCORES_PER_SEARCH`` (at least 1)."""
  return max(1, SCORES_PER_SEARCH // (vectors * num_candidates))


def exact_top_k(queries: np.ndarray, corpus: np.ndarray, k: int
                ) -> np.ndarray:
  """Rows of the exact top-k of users' vectors [Q, H, D] by max-sim (a
  candidate's best score over a user's H vectors) in ``corpus`` [N, D],
  int [Q, k], unordered within the row."""
  users = users_per_search(queries.shape[1], len(corpus))
  rows = []
  for start in range(0, len(queries), users):
    chunk = queries[start:start + users]
    scores = (chunk.reshape(-1, chunk.shape[-1]) @ corpus.T).reshape(
        len(chunk), chunk.shape[1], -1).max(axis=1)
    rows.append(np.argpartition(scores, -k, axis=1)[:, -k:])
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


def search_users(index, queries: np.ndarray, k: int,
                 num_candidates: int) -> np.ndarray:
  """Candidate ids [Q, k] of users' vectors [Q, H, D] by max-sim in an index
  of ``num_candidates`` candidates, searched as the serving signature
  searches them (``serving_module.search_users``), ``users_per_search``
  users at a time."""
  search = tf.function(
      lambda users: serving_module.search_users(index, users, k)[1],
      input_signature=[tf.TensorSpec([None, *queries.shape[1:]],
                                     tf.float32)])
  users = users_per_search(queries.shape[1], num_candidates)
  return np.concatenate([
      search(tf.constant(queries[start:start + users])).numpy()
      for start in range(0, len(queries), users)])


def recall(found_ids: np.ndarray, exact_ids: np.ndarray) -> float:
  """Mean over users of |found & exact| / |exact|, of ids [Q, k] each."""
  return float(np.mean([len(set(f) & set(e)) / len(e)
                        for f, e in zip(found_ids, exact_ids)]))

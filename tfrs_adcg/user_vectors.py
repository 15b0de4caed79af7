"""Scoring candidates against a user of one or several vectors.

A user tower with ``num_user_vectors`` H > 1 describes a user by H vectors
(the newest event's and H - 1 learned interests'), and a candidate's score
is its best dot product with any of them ("max-sim", as
``tfrs.tasks.Retrieval`` scores [B, H, D] queries). A user of one vector is
[B, D] and scored by the plain dot product.

An index answers one vector at a time; the top K of a user of H vectors is
in the union of the H vectors' top K, so ``merge_top_k`` of their results
is exact whenever each search is.
"""

from typing import Tuple, Union

import tensorflow as tf


def scores(user_embeddings: tf.Tensor,
           candidate_embeddings: tf.Tensor) -> tf.Tensor:
  """[B, D] or [B, H, D] users against [N, D] candidates -> [B, N]."""
  if user_embeddings.shape.rank == 3:
    return tf.reduce_max(tf.einsum("bhd,nd->bhn", user_embeddings,
                                   candidate_embeddings), axis=1)
  return tf.linalg.matmul(user_embeddings, candidate_embeddings,
                          transpose_b=True)


def merge_top_k(candidate_scores: tf.Tensor, candidate_ids: tf.Tensor,
                k: Union[int, tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
  """The best k distinct ids of each row, each with its best score.

  Args:
    candidate_scores: float32 [B, M], e.g. the H searches' top k side by
      side (M = H * k).
    candidate_ids: tf.string [B, M]; an id may repeat within a row.
    k: How many to keep, at most M.

  Returns:
    ``(scores, ids)``, [B, k] each, best first. Should a row hold fewer than
    k distinct ids, its last slots repeat a kept id with the lowest float32
    score.
  """
  # Best score first, then stably by a 62-bit hash of the id: the copies of
  # an id are adjacent, its best first, and every later copy has its left
  # neighbour's hash. Sorting moves positions and hashes, not strings: the
  # ids are gathered once, k per row, at the end.
  by_score = tf.argsort(candidate_scores, axis=1, direction="DESCENDING",
                        stable=True)
  keys = tf.gather(tf.strings.to_hash_bucket_fast(candidate_ids, 2**62),
                   by_score, batch_dims=1)
  by_id = tf.argsort(keys, axis=1, stable=True)
  positions = tf.gather(by_score, by_id, batch_dims=1)
  keys = tf.gather(keys, by_id, batch_dims=1)
  ranked = tf.gather(candidate_scores, positions, batch_dims=1)
  repeat = tf.concat([tf.zeros_like(keys[:, :1], tf.bool),
                      tf.equal(keys[:, 1:], keys[:, :-1])], axis=1)
  ranked = tf.where(repeat, ranked.dtype.min, ranked)
  best, order = tf.math.top_k(ranked, k=k)
  return best, tf.gather(candidate_ids,
                         tf.gather(positions, order, batch_dims=1),
                         batch_dims=1)

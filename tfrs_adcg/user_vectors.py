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
  # Best score first, then stably by a hash of the id: the copies of an id
  # are adjacent, its best first, and every later copy equals its left
  # neighbour.
  by_score = tf.argsort(candidate_scores, axis=1, direction="DESCENDING",
                        stable=True)
  ids = tf.gather(candidate_ids, by_score, batch_dims=1)
  ranked = tf.gather(candidate_scores, by_score, batch_dims=1)
  keys = tf.strings.to_hash_bucket_fast(ids, 2**62)
  by_id = tf.argsort(keys, axis=1, stable=True)
  ids = tf.gather(ids, by_id, batch_dims=1)
  ranked = tf.gather(ranked, by_id, batch_dims=1)
  repeat = tf.concat([tf.zeros_like(ids[:, :1], tf.bool),
                      tf.equal(ids[:, 1:], ids[:, :-1])], axis=1)
  ranked = tf.where(repeat, ranked.dtype.min, ranked)
  best, order = tf.math.top_k(ranked, k=k)
  return best, tf.gather(ids, order, batch_dims=1)

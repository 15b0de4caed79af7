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
    ``(scores, ids)``, [B, k] each, best first; of equal scores, the id
    that comes first in the row first. Should a row hold fewer than k
    distinct ids, its last slots repeat its first id with the lowest float32
    score.
  """
  # No sort: each distinct id of a row gets a slot, numbered in the order
  # the ids first occur (the row's first id slot 0), and its best score is
  # the maximum over its copies. The (row, id) pairs are numbered in order
  # of first occurrence, which is row by row, so a row's slots are its pair
  # numbers less that of its first element.
  shape = tf.shape(candidate_ids)
  batch_size, width = shape[0], shape[1]
  distinct_ids, id_codes = tf.unique(tf.reshape(candidate_ids, [-1]),
                                     out_idx=tf.int64)
  rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], shape)
  _, pairs = tf.unique(
      tf.reshape(tf.cast(rows, tf.int64), [-1])
      * tf.size(distinct_ids, out_type=tf.int64) + id_codes)
  pairs = tf.reshape(pairs, shape)
  cells = tf.reshape(pairs - pairs[:, :1] + rows * width, [-1])  # [B * M]
  best = tf.math.unsorted_segment_max(  # lowest float32 where no id.
      tf.reshape(candidate_scores, [-1]), cells, batch_size * width)
  first = tf.math.unsorted_segment_min(  # int32 max where no id.
      tf.reshape(tf.broadcast_to(tf.range(width), shape), [-1]), cells,
      batch_size * width)
  top, top_slots = tf.math.top_k(tf.reshape(best, shape), k=k)
  positions = tf.gather(tf.reshape(first, shape), top_slots, batch_dims=1)
  positions = tf.where(positions < width, positions, 0)
  return top, tf.gather(candidate_ids, positions, batch_dims=1)

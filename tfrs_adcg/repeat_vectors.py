"""Repeat vectors: a user's recent candidates as query vectors of their own.

Conversions often go to an advertiser the user has just visited, and the
last-advertiser ranking is hard to beat at the top of the list. A pooled
query underweights such exact repeats. As RepeatNet's repeat mode does, the
user tower therefore also points at the history's own advertisers: for each
of the R most recently seen distinct advertisers it emits that advertiser's
candidate-tower embedding (the very vector the index holds) times a learned
gate. Since candidate embeddings have unit norm, a repeat vector scores its
own advertiser exactly its gate and any other candidate the gate times their
cosine; the gate, computed from the encoder's output at the advertiser's
newest event (its event type, age, recency and context), says how likely a
return to that advertiser is, against the scores of the other vectors. The
vectors join the others in max-sim scoring, so retrieval stays one inner
product search per vector and the index and serving are unchanged. An
item model does the same with the history's items: a repeat vector is the
item tower's embedding of an item just viewed, and scores that item and its
neighbours (the advertiser's other items, items of its kind) by their
cosine.
"""

from typing import Optional, Tuple

import tensorflow as tf


def newest_distinct(ids: tf.Tensor, mask: tf.Tensor,
                    count: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Where the ``count`` most recently seen distinct ids last occur.

  Args:
    ids: [B, L] ids of any comparable dtype, oldest first.
    mask: bool [B, L], True for real events.
    count: R, how many distinct ids to find.

  Returns:
    ``(positions, found)``: int32 [B, R], the position of the newest event
    of the newest distinct id, then of the next newest, and so on; bool
    [B, R], False where a row has fewer than r + 1 distinct ids (its
    position is then 0).
  """
  if ids.dtype == tf.string:
    # One integer per distinct id of the batch: the [B, L, L] comparison of
    # integers costs a fraction of that of strings, with the same result.
    _, codes = tf.unique(tf.reshape(ids, [-1]), out_idx=tf.int32)
    ids = tf.reshape(codes, tf.shape(ids))
  same = tf.equal(ids[:, :, tf.newaxis], ids[:, tf.newaxis, :])  # [B, L, L]
  slots = tf.range(tf.shape(ids)[1])
  after = slots[tf.newaxis, :] > slots[:, tf.newaxis]  # [L, L]: s > t.
  repeated_later = tf.reduce_any(
      same & after[tf.newaxis] & mask[:, tf.newaxis, :], axis=2)
  newest = mask & ~repeated_later  # [B, L]: an id's newest event.
  # Recency rank among the newest events: how many come after this one.
  rank = tf.cumsum(tf.cast(newest, tf.int32), axis=1, exclusive=True,
                   reverse=True)
  hits = newest[:, tf.newaxis, :] & tf.equal(
      rank[:, tf.newaxis, :], tf.range(count)[tf.newaxis, :, tf.newaxis])
  return (tf.argmax(tf.cast(hits, tf.int32), axis=2, output_type=tf.int32),
          tf.reduce_any(hits, axis=2))


class RepeatVectors(tf.keras.layers.Layer):
  """The R most recent distinct candidates' gated candidate embeddings.

  Args:
    count: R, the number of recent distinct candidates.
    candidate_tower: Candidate ids [N] -> unit vectors [N, D], as the
      model's candidate tower embeds them. Its output is taken as it is,
      without a gradient: the repeat channel learns its gates, not the
      candidates.

  Call: ``(encoded, candidate_ids, mask, fallback)`` with ``encoded``
  float32 [B, L, D] the encoder's output per event, ``candidate_ids``
  tf.string [B, L] and ``mask`` bool [B, L] the events, oldest first, and
  ``fallback`` float32 [B, D] -> float32 [B, R, D]: slot r is
  ``softplus(w . encoded[newest event of candidate r] + b)`` times
  candidate r's embedding, or ``fallback`` where the history has
  fewer than r + 1 distinct candidates (a copy of another of the user's
  vectors changes no max-sim score). With ``newest``, the ``(positions,
  found)`` of ``newest_distinct(candidate_ids, mask, R)`` computed already,
  ``encoded`` is only those positions' outputs, float32 [B, R, D] (the user
  tower's last block computes no other).
  """

  def __init__(self, count: int, candidate_tower: tf.keras.layers.Layer,
               **kwargs):
    super().__init__(**kwargs)
    if count < 1:
      raise ValueError(f"count must be positive, not {count}.")
    self._count = count
    self.candidate_tower = candidate_tower
    self.gate = tf.keras.layers.Dense(1, name="gate")

  @property
  def count(self) -> int:
    """R, the number of recent distinct candidates."""
    return self._count

  def call(self, encoded: tf.Tensor, candidate_ids: tf.Tensor,
           mask: tf.Tensor, fallback: tf.Tensor,
           newest: Optional[Tuple[tf.Tensor, tf.Tensor]] = None
           ) -> tf.Tensor:
    if newest is None:
      positions, found = newest_distinct(candidate_ids, mask, self._count)
      encoded = tf.gather(encoded, positions, batch_dims=1)  # [B, R, D]
    else:
      positions, found = newest
    recent = tf.gather(candidate_ids, positions, batch_dims=1)  # [B, R]
    embeddings = tf.stop_gradient(self.candidate_tower(
        tf.reshape(recent, [-1]), training=False))
    embeddings = tf.reshape(embeddings, [-1, self._count,
                                         embeddings.shape[-1]])
    gates = tf.nn.softplus(self.gate(encoded))  # [B, R, 1]
    return tf.where(found[:, :, tf.newaxis], gates * embeddings,
                    fallback[:, tf.newaxis, :])

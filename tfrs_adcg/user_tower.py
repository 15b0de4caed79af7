"""The user tower: a user's recent events to one L2-normalised vector.

One code path serves training and serving: the tower itself orders the
events by time, keeps the most recent ``max_seq_len`` of them and derives
every feature from the events alone (an event's age is measured from the
newest event of the sequence, not from a cutoff, which serving does not
have). Its input is therefore the raw padded event tensors of any length.
"""

from typing import Dict, Optional, Tuple

import tensorflow as tf

from tfrs_adcg import schema
from tfrs_adcg.model_spec import DENSE, ModelSpec
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.repeat_vectors import RepeatVectors, newest_distinct
from tfrs_adcg.tower import Tower
from tfrs_adcg.transformer import TransformerEncoderBlock
from tfrs_adcg.vocabulary import Vocabularies

Features = Dict[str, tf.Tensor]

_MINUTE_MS = 60_000

_PAD_VALUES = {
    schema.ADVERTISER_ID: schema.STRING_PAD,
    schema.ITEM_ID: schema.STRING_PAD,
    schema.EVENT_TYPE: schema.STRING_PAD,
    schema.TIMESTAMP: schema.INT_PAD,
}


def select_recent_events(features: Features,
                         max_seq_len: int) -> Tuple[Features, tf.Tensor]:
  """The most recent real events of each row, oldest first, padded after.

  An event is real where its advertiser id is not ``schema.STRING_PAD``.
  Events are ordered by timestamp (stably: equal timestamps keep their input
  order), wherever the padding is.

  Args:
    features: ``SEQUENCE_FEATURES`` as [B, T] tensors, any T >= 0.
    max_seq_len: L, the number of events kept.

  Returns:
    ``(events, mask)``: the features as [B, L] tensors and bool [B, L], True
    for real events. The result depends only on the real events, so adding
    padding anywhere does not change it.
  """
  padded = {name: features[name] for name in schema.SEQUENCE_FEATURES}
  padded[schema.TIMESTAMP] = tf.cast(padded[schema.TIMESTAMP], tf.int64)
  # Grow T to at least L, so that L slots can always be gathered.
  shortfall = tf.maximum(max_seq_len - tf.shape(padded[schema.ADVERTISER_ID])[1],
                         0)
  padded = {
      name: tf.pad(values, [[0, 0], [0, shortfall]],
                   constant_values=_PAD_VALUES[name])
      for name, values in padded.items()
  }
  real = padded[schema.ADVERTISER_ID] != schema.STRING_PAD
  sort_key = tf.where(real, padded[schema.TIMESTAMP], tf.int64.max)
  order = tf.argsort(sort_key, axis=1, stable=True)  # Real events first.

  num_real = tf.reduce_sum(tf.cast(real, tf.int32), axis=1)  # [B]
  num_kept = tf.minimum(num_real, max_seq_len)
  slots = tf.range(max_seq_len)[tf.newaxis, :]  # [1, L]
  mask = slots < num_kept[:, tf.newaxis]  # [B, L]
  source = tf.gather(order, (num_real - num_kept)[:, tf.newaxis] + slots,
                     batch_dims=1)  # [B, L]
  events = {
      name: tf.where(mask, tf.gather(values, source, batch_dims=1),
                     tf.constant(_PAD_VALUES[name], values.dtype))
      for name, values in padded.items()
  }
  return events, mask


def time_gap_buckets(timestamps: tf.Tensor, mask: tf.Tensor,
                     num_buckets: int, since_previous: bool = False
                     ) -> tf.Tensor:
  """Log-scale buckets of each event's age before the sequence's newest event.

  Bucket 0 is padding; a real event of age ``m`` minutes is in bucket
  ``1 + floor(log2(1 + m))`` (0 minutes: 1, 1-2: 2, 3-6: 3, ...), capped at
  ``num_buckets - 1``. Computed with integer comparisons, exactly. With
  ``since_previous`` the age is instead the time since the event before
  (0 for the first), which depends on no later event.

  Args:
    timestamps: int64 [B, L] epoch milliseconds, oldest first where
      ``since_previous``.
    mask: bool [B, L], True for real events.
    num_buckets: Number of buckets including the padding bucket.
    since_previous: Measure from the previous event, not from the newest.

  Returns:
    int32 [B, L].
  """
  if since_previous:
    previous = tf.concat([timestamps[:, :1], timestamps[:, :-1]], axis=1)
    age = tf.maximum(timestamps - previous, 0)
  else:
    newest = tf.reduce_max(
        tf.where(mask, timestamps, tf.int64.min), axis=1, keepdims=True)
    age = tf.maximum(newest - timestamps, 0)  # [B, L] milliseconds.
  # Bucket 1 + k starts at an age of 2^k - 1 minutes.
  starts = tf.constant([(2**k - 1) * _MINUTE_MS
                        for k in range(1, num_buckets - 1)], tf.int64)
  buckets = 1 + tf.reduce_sum(
      tf.cast(age[:, :, tf.newaxis] >= starts, tf.int32), axis=-1)
  return tf.where(mask, buckets, 0)


class UserTower(Tower):
  """A user's raw recent events -> one or several L2-normalised vectors.

  Embeds each of the last L events as the sum of its advertiser, event type,
  time-gap bucket and recency-position (0 = newest) embeddings, and its
  item's unless ``history_item_ids`` is False; runs
  ``num_layers`` bidirectional encoder blocks with a padding mask; pools
  (``cls``, ``mean`` or ``last``); projects; L2-normalises. With
  ``num_user_vectors`` H > 1, H - 1 learned interest tokens are prepended
  to the sequence as well, and their outputs, projected and normalised the
  same way, follow the pooled vector. With ``num_repeat_vectors`` R > 0,
  R repeat vectors follow them: the gated candidate embeddings of the
  history's R most recent distinct candidates, advertisers or items (see
  ``repeat_vectors``). A history without real events yields finite
  vectors. Outside training, the last block computes only the positions
  that ``cls`` or ``last`` pooling, the interest tokens and the repeat
  vectors read (every position still attended to): the same vectors, for a
  fraction of the block's cost.

  Call: dict of ``SEQUENCE_FEATURES``, [B, T] each (tf.string ids with
  ``schema.STRING_PAD`` as padding in ``ADVERTISER_ID``, int64 epoch-millisecond
  ``TIMESTAMP``) -> float32 [B, embedding_dim], or [B, H + R,
  embedding_dim] for H + R > 1.
  """

  def __init__(self, spec: ModelSpec, vocabularies: Vocabularies,
               advertiser_embedding: IdEmbedding,
               item_embedding: Optional[tf.keras.layers.Layer] = None,
               candidate_tower: Optional[tf.keras.layers.Layer] = None,
               candidate_feature: str = schema.ADVERTISER_ID,
               **kwargs):
    """Builds the tower.

    Args:
      spec: The model spec.
      vocabularies: The history vocabularies.
      advertiser_embedding: Shared with the candidate tower.
      item_embedding: Embeds the history's item ids, tf.string [B, L] ->
        [B, L, embedding_dim], in place of an id embedding of
        ``vocabularies.item_ids`` (the item model passes its item tower's:
        see ``item_tower.HistoryItemEmbedding``).
      candidate_tower: Candidate ids tf.string [N] -> their vectors [N, D]
        as the index holds them, which the repeat vectors of
        ``spec.num_repeat_vectors`` > 0 need.
      candidate_feature: The history's feature whose ids are candidates:
        ``ADVERTISER_ID``, or ``ITEM_ID`` for an item model (empty ids, as
        of signups, are no candidates).
      **kwargs: Keras model arguments.
    """
    super().__init__(**kwargs)
    self._max_seq_len = spec.max_seq_len
    self._num_time_buckets = spec.num_time_buckets
    self._pooling = spec.pooling
    dim = spec.embedding_dim
    self.advertiser_embedding = advertiser_embedding
    self.item_embedding = item_embedding
    if item_embedding is None and spec.history_item_ids is not False:
      self.item_embedding = IdEmbedding(
          vocabularies.item_ids, spec.num_oov_buckets, dim,
          name="item_embedding")
    self.event_type_embedding = IdEmbedding(
        vocabularies.event_types, spec.num_oov_buckets, dim,
        name="event_type_embedding")
    self.time_gap_embedding = tf.keras.layers.Embedding(
        spec.num_time_buckets, dim, name="time_gap_embedding")
    # Recency positions 0..L-1, and L for padding.
    self.position_embedding = tf.keras.layers.Embedding(
        spec.max_seq_len + 1, dim, name="position_embedding")
    if spec.pooling == "cls":
      self.cls_token = self.add_weight(
          name="cls_token", shape=(1, 1, dim),
          initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
    self._num_interest_tokens = (spec.num_user_vectors or 1) - 1
    if self._num_interest_tokens:
      self.interest_tokens = self.add_weight(
          name="interest_tokens", shape=(1, self._num_interest_tokens, dim),
          initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
    self.repeat_vectors = None
    self._candidate_feature = candidate_feature
    if spec.num_repeat_vectors:
      if candidate_tower is None:
        raise ValueError("Repeat vectors need the candidates' tower.")
      self.repeat_vectors = RepeatVectors(spec.num_repeat_vectors,
                                          candidate_tower,
                                          name="repeat_vectors")
    self.input_dropout = tf.keras.layers.Dropout(spec.dropout)
    self._causal = spec.objective == DENSE
    self.blocks = [
        TransformerEncoderBlock(spec.num_heads, spec.hidden_dim,
                                spec.dropout, causal=self._causal,
                                name=f"encoder_block_{i}")
        for i in range(spec.num_layers)
    ]
    self.output_norm = tf.keras.layers.LayerNormalization(
        epsilon=1e-6, name="output_norm")
    self.projection = tf.keras.layers.Dense(dim, name="projection")

  @tf.autograph.experimental.do_not_convert
  def call(self, features: Features, training: bool = False) -> tf.Tensor:
    events, event_mask = select_recent_events(features, self._max_seq_len)
    num_kept = tf.reduce_sum(tf.cast(event_mask, tf.int32), axis=1)  # [B]
    newest = None
    if self.repeat_vectors is not None:
      candidates = events[self._candidate_feature]
      candidate_mask = event_mask & (candidates != schema.STRING_PAD)
      newest = newest_distinct(candidates, candidate_mask,
                               self.repeat_vectors.count)
    if training or self._pooling == "mean" or not self.blocks:
      pooled, repeat_inputs = self._pool_all(events, event_mask, num_kept,
                                             newest, training)
    else:
      pooled, repeat_inputs = self._pool_queried(events, event_mask,
                                                 num_kept, newest)
    vectors = tf.math.l2_normalize(self.projection(pooled), axis=-1)
    if self.repeat_vectors is None:
      return vectors
    if vectors.shape.rank == 2:
      vectors = vectors[:, tf.newaxis]
    repeats = self.repeat_vectors(repeat_inputs, candidates, candidate_mask,
                                  vectors[:, 0], newest=newest)
    return tf.concat([vectors, repeats], axis=1)

  def _pool_all(self, events: Features, event_mask: tf.Tensor,
                num_kept: tf.Tensor, newest: Optional[Tuple[tf.Tensor,
                                                             tf.Tensor]],
                training: bool) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
    """Pools the encoder's output at every position.

    Returns:
      ``(pooled, repeat inputs)``: float32 [B, D] (one vector) or [B, H, D]
      (the pooled vector, then the interest tokens'); and the encoder's
      output at ``newest``'s positions, [B, R, D] (None without ``newest``).
    """
    x, mask, interests = self._encode((events, event_mask), training)
    if self._pooling == "cls":
      pooled = x[:, 0]
    elif self._pooling == "mean":
      weights = tf.cast(mask, x.dtype)[:, :, tf.newaxis]
      pooled = tf.reduce_sum(x * weights, axis=1) / tf.maximum(
          tf.reduce_sum(weights, axis=1), 1.0)
    else:  # The newest real event (slot 0 when there is none).
      pooled = tf.gather(x, tf.maximum(num_kept - 1, 0), batch_dims=1)
    if interests is not None:
      pooled = tf.concat([pooled[:, tf.newaxis], interests], axis=1)
    repeat_inputs = None
    if newest is not None:
      first = 1 if self._pooling == "cls" else 0
      repeat_inputs = tf.gather(x[:, first:], newest[0], batch_dims=1)
    return pooled, repeat_inputs

  def _pool_queried(self, events: Features, event_mask: tf.Tensor,
                    num_kept: tf.Tensor, newest: Optional[Tuple[tf.Tensor,
                                                                tf.Tensor]]
                    ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
    """``_pool_all``'s result (not training, ``cls`` or ``last`` pooling),
    the last block computing only the positions pooled: the pooled one, the
    interest tokens and ``newest``'s, Q = 1 + (H - 1) + R rather than every
    position of the sequence."""
    x, mask = self._embed_sequence((events, event_mask), training=False)
    for block in self.blocks[:-1]:
      x = block(x, mask, training=False)
    first = 1 if self._pooling == "cls" else 0
    heads = self._num_interest_tokens
    prefix = first + heads  # The events' first position in x.
    if self._pooling == "cls":
      pooled_at = tf.zeros_like(num_kept)
    else:  # The newest real event (slot 0 when there is none).
      pooled_at = prefix + tf.maximum(num_kept - 1, 0)
    queries = [pooled_at[:, tf.newaxis]]
    if heads:
      queries.append(tf.tile(tf.range(first, prefix)[tf.newaxis],
                             [tf.shape(x)[0], 1]))
    if newest is not None:
      queries.append(prefix + newest[0])
    outputs = self.output_norm(self.blocks[-1](
        x, mask, training=False, queries=tf.concat(queries, axis=1)))
    pooled = outputs[:, 0] if not heads else outputs[:, :1 + heads]
    repeat_inputs = outputs[:, 1 + heads:] if newest is not None else None
    return pooled, repeat_inputs

  @tf.autograph.experimental.do_not_convert
  def sequence_embeddings(self, features: Features,
                          training: bool = False) -> tf.Tensor:
    """Every position's vector: what the user is at each event (causal).

    Args:
      features: ``SEQUENCE_FEATURES`` as [B, L] tensors, oldest first and
        padded after the real events (as ``data.recent_history`` gives
        them), so position t of the output is event t of the input.

    Returns:
      float32 [B, L, embedding_dim], L2-normalised; position t sees events
      0..t only, and the newest real event's vector is ``call``'s output.
    """
    if not self._causal:
      raise ValueError("Per-position vectors need the causal encoder of "
                       "objective='dense'.")
    x, _, _ = self._encode(
        select_recent_events(features, self._max_seq_len), training)
    return tf.math.l2_normalize(self.projection(x), axis=-1)

  def _embed_sequence(self, selected: Tuple[Features, tf.Tensor],
                      training: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    """Selected events -> the encoder's input [B, T, D] and its mask [B, T]:
    the ``cls`` token (if any), the interest tokens, then the L events."""
    events, mask = selected
    num_kept = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # [B]
    slots = tf.range(self._max_seq_len)[tf.newaxis, :]
    if self._causal:  # Nothing of an event may depend on later events.
      positions = tf.where(mask, slots, self._max_seq_len)
      gaps = time_gap_buckets(events[schema.TIMESTAMP], mask,
                              self._num_time_buckets, since_previous=True)
    else:
      positions = tf.where(mask, num_kept[:, tf.newaxis] - 1 - slots,
                           self._max_seq_len)
      gaps = time_gap_buckets(events[schema.TIMESTAMP], mask,
                              self._num_time_buckets)
    x = (self.advertiser_embedding(events[schema.ADVERTISER_ID]) +
         self.event_type_embedding(events[schema.EVENT_TYPE]) +
         self.time_gap_embedding(gaps) +
         self.position_embedding(positions))  # [B, L, D]
    if self.item_embedding is not None:
      x += self.item_embedding(events[schema.ITEM_ID])

    prefix = []
    if self._pooling == "cls":
      prefix.append(self.cls_token)
    heads = self._num_interest_tokens
    if heads:
      prefix.append(self.interest_tokens)
    if prefix:
      tokens = tf.cast(tf.concat(prefix, axis=1), x.dtype)
      batch_size, count = tf.shape(x)[0], tokens.shape[1]
      x = tf.concat([tf.tile(tokens, [batch_size, 1, 1]), x], axis=1)
      mask = tf.concat([tf.ones([batch_size, count], tf.bool), mask], axis=1)

    return self.input_dropout(x, training=training), mask

  def _encode(self, selected: Tuple[Features, tf.Tensor], training: bool
              ) -> Tuple[tf.Tensor, tf.Tensor, Optional[tf.Tensor]]:
    """Selected events -> (encoded [B, T, D], its mask, interest outputs).

    T is L, plus one for the ``cls`` token; the interest tokens' outputs
    [B, H - 1, D] are split off (None for one user vector).
    """
    x, mask = self._embed_sequence(selected, training)
    for block in self.blocks:
      x = block(x, mask, training=training)
    x = self.output_norm(x)
    heads = self._num_interest_tokens
    interests = None
    if heads:  # After the cls token, if any; the events follow them.
      first = 1 if self._pooling == "cls" else 0
      interests = x[:, first:first + heads]
      x = tf.concat([x[:, :first], x[:, first + heads:]], axis=1)
      mask = tf.concat([mask[:, :first], mask[:, first + heads:]], axis=1)
    return x, mask, interests

"""The dense objective's targets: a positive for every event of a history.

PinnerFormer's dense all-action loss (Pancha et al., 2022) makes every
position of a causally encoded sequence a query. Here the positives of the
event at position t are the conversions that follow it in the history
within the label window: positions u > t whose event type is a conversion
and whose time is at most ``window_ms`` after t's. The newest event
has no later events; its positives are the example's labels, the
conversions of the window after the cutoff. Each step draws one positive
per position: uniformly (``window``) or the first (``next``, as SASRec's
next-item target); the newest event's is drawn uniformly from the labels.

A history therefore yields up to L training signals instead of one per
label, all from data the example already holds.
"""

from typing import Dict, Sequence, Tuple

import tensorflow as tf

from tfrs_adcg import schema


def position_positives(history: Dict[str, tf.Tensor], labels: tf.RaggedTensor,
                       candidate_feature: str,
                       conversion_types: Sequence[str],
                       window_ms: int, first_only: bool = False
                       ) -> Tuple[tf.Tensor, tf.RaggedTensor]:
  """One positive per position, and each history's own conversions.

  Args:
    history: ``SEQUENCE_FEATURES`` as [P, L] tensors, oldest first, padded
      after the real events with "" and 0.
    labels: tf.string ragged [P, None], each example's labels.
    candidate_feature: The history feature that holds a conversion's
      candidate id (``schema.ADVERTISER_ID`` or ``schema.ITEM_ID``).
    conversion_types: The event types that are conversions.
    window_ms: How long after an event, in milliseconds, a conversion counts
      for it.
    first_only: Take the first positive of a position, not a random one.

  Returns:
    ``(positives, conversions)``: tf.string [P, L], "" where a position has
    no positive (padding included); and ragged [P, None], the candidate
    ids of the history's conversions and the labels, which are masked as
    negatives of every query of that history.
  """
  ids = history[candidate_feature]
  times = history[schema.TIMESTAMP]
  real = history[schema.ADVERTISER_ID] != schema.STRING_PAD
  is_conversion = real & (ids != schema.STRING_PAD) & tf.reduce_any(
      tf.equal(history[schema.EVENT_TYPE][:, :, tf.newaxis],
               tf.constant(list(conversion_types))[tf.newaxis, tf.newaxis]),
      axis=-1)  # [P, L]
  length = tf.shape(ids)[1]
  positions = tf.range(length)
  later = positions[tf.newaxis, :] > positions[:, tf.newaxis]  # [t, u]: u > t
  within = times[:, tf.newaxis, :] - times[:, :, tf.newaxis] <= window_ms
  # follows[p, t, u]: u is a positive of t.
  follows = (later[tf.newaxis] & within & is_conversion[:, tf.newaxis, :]
             & real[:, :, tf.newaxis])
  if first_only:
    preference = -tf.cast(tf.range(length), tf.float32)[tf.newaxis,
                                                          tf.newaxis]
  else:
    preference = tf.random.uniform(tf.shape(follows))
  chosen = tf.argmax(tf.where(follows, preference, -2.0 * tf.cast(
      length, tf.float32)), axis=-1, output_type=tf.int32)  # [P, L]
  positives = tf.where(tf.reduce_any(follows, axis=-1),
                       tf.gather(ids, chosen, batch_dims=1),
                       schema.STRING_PAD)

  # The newest real event's positive: one of the labels.
  labels = labels.with_row_splits_dtype(tf.int64)
  num_labels = labels.row_lengths()
  pick = tf.cast(tf.random.uniform(tf.shape(num_labels)) * tf.cast(
      num_labels, tf.float32), tf.int64)
  # A history without labels points past the values, at a padding "".
  values = tf.concat([labels.flat_values, [schema.STRING_PAD]], axis=0)
  label = tf.gather(values, tf.where(
      num_labels > 0, labels.row_starts() + tf.minimum(pick, num_labels - 1),
      tf.size(labels.flat_values, out_type=tf.int64)))
  newest = tf.reduce_sum(tf.cast(real, tf.int32), axis=1) - 1  # [P]
  at_newest = tf.equal(positions[tf.newaxis], newest[:, tf.newaxis])
  positives = tf.where(at_newest & (label != schema.STRING_PAD)[:, tf.newaxis],
                       label[:, tf.newaxis], positives)

  conversions = tf.concat(
      [tf.ragged.boolean_mask(ids, is_conversion), labels], axis=1)
  return positives, conversions

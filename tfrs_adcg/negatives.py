"""The negatives of a training batch: in-batch, mixed, or the whole corpus.

A batch holds B training pairs (history i, positive i). Its logits are
[B, C]: query i against C candidate columns, of which the first B are the
batch's positives (column i is query i's positive, as
``tfrs.tasks.Retrieval`` expects); what follows depends on the kind:

* ``in_batch``: nothing; C = B. The negatives of query i are the other
  pairs' positives, drawn in proportion to their frequency as positives.
* ``mixed``: M candidates drawn uniformly from the corpus follow; C = B + M.
  A column's sampling probability under the mixture of both draws is
  ``(B * p + M / N) / (B + M)`` for a candidate that is a training positive
  with probability p, in a corpus of N (Yang et al., "Mixed Negative
  Sampling", 2020; PinnerFormer, 2022).
* ``full``: the N corpus candidates follow; C = B + N. Query i scores its
  own positive (column i) and the corpus; the other positives of the batch
  are masked, and the corpus copy of its positive is an accidental hit, so
  the softmax is exactly one over the corpus.

Whatever the kind, a column that is another positive of query i's own
example (the same history converted with both) is masked: it is not a
negative of that history.
"""

import tensorflow as tf

IN_BATCH = "in_batch"
MIXED = "mixed"
FULL = "full"
KINDS = (IN_BATCH, MIXED, FULL)


def mixed_sampling_probability(positive_probability: tf.Tensor,
                               batch_size: tf.Tensor, num_sampled: tf.Tensor,
                               corpus_size: float) -> tf.Tensor:
  """Per-column probability under in-batch plus uniform draws.

  Args:
    positive_probability: float32 [C], each column's probability of being a
      training positive (the in-batch draw).
    batch_size: float32 scalar B, the in-batch draws.
    num_sampled: float32 scalar M, the uniform draws.
    corpus_size: N.

  Returns:
    float32 [C]: ``(B * p + M / N) / (B + M)``.
  """
  return ((batch_size * positive_probability + num_sampled / corpus_size)
          / (batch_size + num_sampled))


def other_positives_mask(example_labels: tf.Tensor,
                         column_ids: tf.Tensor) -> tf.Tensor:
  """Which columns each query may score: not another positive of its example.

  Labels and columns share one index (``tf.unique`` over both), the labels
  are scattered into a [B, U] membership table and each column reads its
  slot of it: the cost grows with B * (W + C), not with B * W * C, which
  matters for dense histories of many conversions against a whole corpus.

  Args:
    example_labels: tf.string [B, W], every label of each pair's example,
      padded with "" (never an id).
    column_ids: tf.string [C]; column i < B is query i's own positive.

  Returns:
    bool [B, C]: False where column j is one of query i's example's labels,
    except query i's own positive column i.
  """
  batch_size = tf.shape(example_labels)[0]
  num_columns = tf.shape(column_ids)[0]
  labels = tf.reshape(example_labels, [-1])
  ids, slots = tf.unique(tf.concat([column_ids, labels], axis=0))
  column_slots, label_slots = slots[:num_columns], slots[num_columns:]
  rows = tf.repeat(tf.range(batch_size), tf.shape(example_labels)[1])
  real = labels != ""
  membership = tf.scatter_nd(
      tf.stack([tf.boolean_mask(rows, real),
                tf.boolean_mask(label_slots, real)], axis=1),
      tf.ones([tf.reduce_sum(tf.cast(real, tf.int32))], tf.int32),
      tf.stack([batch_size, tf.shape(ids)[0]]))  # [B, U]
  is_label = tf.gather(membership, column_slots, axis=1) > 0  # [B, C]
  own = tf.cast(tf.eye(batch_size, num_columns), tf.bool)
  return tf.logical_or(tf.logical_not(is_label), own)


def own_positive_only_mask(batch_size: tf.Tensor,
                           num_columns: tf.Tensor) -> tf.Tensor:
  """bool [B, C]: of the first B columns only query i's own; all the rest."""
  own = tf.cast(tf.eye(batch_size, num_columns), tf.bool)
  rest = tf.range(num_columns) >= batch_size
  return tf.logical_or(own, rest[tf.newaxis, :])


def uniform_sample(corpus_ids: tf.Tensor, num_sampled: int) -> tf.Tensor:
  """``num_sampled`` ids drawn uniformly, with replacement: tf.string [M]."""
  rows = tf.random.uniform([num_sampled], maxval=tf.shape(corpus_ids)[0],
                           dtype=tf.int32)
  return tf.gather(corpus_ids, rows)

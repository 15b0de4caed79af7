"""String ids to embeddings, with hash buckets for ids outside the vocabulary."""

from typing import List, Sequence

import tensorflow as tf

from tfrs_adcg import schema


class IdEmbedding(tf.keras.layers.Layer):
  """Looks string ids up in a fixed vocabulary and embeds them.

  Index layout of ``lookup``: 0 is the padding id ``schema.STRING_PAD``, then
  ``num_oov_buckets`` hash buckets shared by unknown ids, then the vocabulary
  in its given order (``vocabulary[i]`` has index ``1 + num_oov_buckets + i``).
  Padding has an embedding row of its own (an empty ``item_id`` of a signup
  is a real value); sequence masking is the caller's business.

  Call: ids, tf.string of any shape S -> embeddings, float32 [*S, dim].
  """

  def __init__(self, vocabulary: Sequence[str], num_oov_buckets: int,
               dim: int, **kwargs):
    super().__init__(**kwargs)
    self.lookup = tf.keras.layers.StringLookup(
        vocabulary=list(vocabulary),
        mask_token=schema.STRING_PAD,
        num_oov_indices=num_oov_buckets,
        name="lookup")
    self.embedding = tf.keras.layers.Embedding(
        self.lookup.vocabulary_size(), dim, name="embedding")

  @property
  def num_rows(self) -> int:
    """Padding + OOV buckets + vocabulary."""
    return self.lookup.vocabulary_size()

  @property
  def vocabulary(self) -> List[str]:
    """The vocabulary, in its given order."""
    return self.lookup.get_vocabulary()[self.first_vocabulary_index:]

  @property
  def first_vocabulary_index(self) -> int:
    """The index of ``vocabulary[0]``."""
    return 1 + self.lookup.num_oov_indices

  def call(self, ids: tf.Tensor) -> tf.Tensor:
    return self.embedding(self.lookup(ids))

"""The item tower: an item's content, and its id if trained, to one vector.

An item-level model ranks a catalog that keeps growing: most items of a
large catalog, and every newly launched one, were never converted with in
the training window. The tower therefore embeds an item from its content
(the pretrained vector, advertiser, category and price bucket), and adds an
id embedding only for the *training items*, those with training positives.
Any other id looks up a zero vector, so an item never seen in training is
embedded from its content alone and can still be retrieved. While training,
the id embeddings of a random share of the rows are dropped as well, so the
content path learns to stand on its own.
"""

from typing import Dict

import numpy as np
import tensorflow as tf

from tfrs_adcg import schema
from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.item_content import ItemContentLookup
from tfrs_adcg.tower import Tower, content_mlp

Features = Dict[str, tf.Tensor]


def price_buckets(prices: tf.Tensor, num_buckets: int) -> tf.Tensor:
  """Half-octave buckets of a price: float [N] -> int32 [N].

  Bucket 0 is a missing price (NaN, infinite or negative); a price p is in
  bucket ``1 + floor(2 * log2(1 + p))``, capped at ``num_buckets - 1``.
  """
  known = tf.math.is_finite(prices) & (prices >= 0)
  safe = tf.where(known, prices, 0.0)
  buckets = 1 + tf.cast(tf.floor(2.0 * tf.math.log(1.0 + safe) /
                                  tf.math.log(2.0)), tf.int32)
  return tf.where(known, tf.minimum(buckets, num_buckets - 1), 0)


class _KnownIdEmbedding(tf.keras.layers.Layer):
  """Embeds ids of a fixed vocabulary; every other id gets a zero vector.

  Call: tf.string [N] -> (float32 [N, dim], bool [N] known).
  """

  def __init__(self, vocabulary, dim: int, **kwargs):
    super().__init__(**kwargs)
    self.lookup = tf.keras.layers.StringLookup(
        vocabulary=list(vocabulary) or None, num_oov_indices=1,
        mask_token=None, name="lookup")
    self.embedding = tf.keras.layers.Embedding(
        self.lookup.vocabulary_size(), dim, name="embedding")

  def call(self, ids: tf.Tensor):
    rows = self.lookup(ids)
    known = rows > 0  # Row 0 is the out-of-vocabulary bucket.
    vectors = self.embedding(rows) * tf.cast(known, tf.float32)[:, tf.newaxis]
    return vectors, known


def _by_frequency(values: np.ndarray):
  """The distinct non-empty values, most frequent first, ties by value."""
  distinct, counts = np.unique(np.asarray(values, dtype=str),
                               return_counts=True)
  order = sorted(range(len(distinct)), key=lambda i: (-counts[i], distinct[i]))
  return [distinct[i] for i in order if distinct[i] != schema.STRING_PAD]


class ItemTower(Tower):
  """Item content -> L2-normalised vectors.

  The content part is a two-layer MLP over the concatenation of the
  projected, L2-normalised pretrained embedding (unless
  ``spec.pretrained`` is off), the category embedding, the price-bucket
  embedding and the advertiser id embedding (shared with the user tower:
  an advertiser in a history and the advertiser of a candidate item start
  out alike). The output is ``l2_normalize(mlp(content) + id_embedding)``,
  the id embedding zero for ids outside ``training_items`` and, while
  training, for a random ``spec.item_id_dropout`` share of the rows.
  Categories outside the training items' embed as zero too.

  Call: dict with ``schema.CATALOG_ITEM_ID``, ``CATALOG_ADVERTISER_ID``,
  ``CATALOG_CATEGORY`` (tf.string [N]), ``CATALOG_PRICE`` (float32 [N], NaN
  when unknown) and, with pretrained embeddings, ``CATALOG_EMBEDDING``
  (float32 [N, E]) -> float32 [N, embedding_dim]. Other keys are ignored.
  """

  def __init__(self, spec: ModelSpec, training_items: ItemContent,
               advertiser_embedding: IdEmbedding, **kwargs):
    super().__init__(**kwargs)
    dim = spec.embedding_dim
    self._pretrained = spec.pretrained
    self._num_price_buckets = spec.num_price_buckets
    self._id_dropout = spec.item_id_dropout
    self.advertiser_embedding = advertiser_embedding
    self.item_id_embedding = _KnownIdEmbedding(
        training_items.item_ids, dim, name="item_id_embedding")
    self.category_embedding = _KnownIdEmbedding(
        _by_frequency(training_items.categories), dim,
        name="category_embedding")
    self.price_embedding = tf.keras.layers.Embedding(
        spec.num_price_buckets, dim, name="price_embedding")
    if self._pretrained:
      self.pretrained_projection = tf.keras.layers.Dense(
          dim, name="pretrained_projection")
    self.mlp = content_mlp(dim)

  @property
  def id_lookup(self) -> tf.keras.layers.StringLookup:
    """Item ids to rows: 0 for unknown ids, 1 + i for training item i."""
    return self.item_id_embedding.lookup

  @tf.autograph.experimental.do_not_convert
  def call(self, features: Features, training: bool = False) -> tf.Tensor:
    category, _ = self.category_embedding(features[schema.CATALOG_CATEGORY])
    content = [
        category,
        self.price_embedding(price_buckets(
            tf.cast(features[schema.CATALOG_PRICE], tf.float32),
            self._num_price_buckets)),
        self.advertiser_embedding(features[schema.CATALOG_ADVERTISER_ID]),
    ]
    if self._pretrained:
      content.append(self.pretrained_projection(tf.math.l2_normalize(
          tf.cast(features[schema.CATALOG_EMBEDDING], tf.float32), axis=-1)))
    item_id, _ = self.item_id_embedding(features[schema.CATALOG_ITEM_ID])
    if training and self._id_dropout > 0:
      keep = tf.random.uniform(tf.shape(item_id)[:1]) >= self._id_dropout
      item_id *= tf.cast(keep, item_id.dtype)[:, tf.newaxis]
    vectors = self.mlp(tf.concat(content, axis=-1), training=training)
    if self._pretrained:
      vectors += content[-1]
    return tf.math.l2_normalize(
        tf.math.l2_normalize(vectors, axis=-1) + item_id, axis=-1)


class HistoryItemEmbedding(tf.keras.layers.Layer):
  """The items of a history through the item tower: what a user looked at,
  in the space of what they may convert with next.

  A user who viewed running shoes of one advertiser has, in their history,
  the content vectors of running shoes, the same the item tower gives the
  running shoes of every other advertiser, launched or not. Each distinct id
  of a batch goes through the tower once. Ids without content in ``content``
  embed from their id alone (if a training item), or as zero; so do the
  empty ids of padding and of signups.

  Call: tf.string [B, L] -> float32 [B, L, embedding_dim].
  """

  def __init__(self, content: ItemContentLookup, item_tower: ItemTower,
               **kwargs):
    super().__init__(**kwargs)
    self.content = content
    self.item_tower = item_tower

  def call(self, item_ids: tf.Tensor, training: bool = False) -> tf.Tensor:
    distinct, index = tf.unique(tf.reshape(item_ids, [-1]))
    vectors = self.item_tower(self.content(distinct), training=training)
    vectors = tf.gather(vectors, index) * tf.cast(
        tf.reshape(item_ids, [-1]) != schema.STRING_PAD, vectors.dtype)[:, None]
    return tf.reshape(vectors, tf.concat(
        [tf.shape(item_ids), tf.shape(vectors)[-1:]], axis=0))

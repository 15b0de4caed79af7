"""The candidate tower: advertiser ids to L2-normalised vectors.

The tower looks an advertiser's catalog features up by id itself, from
tables aligned with its id lookup, so that callers (training, the exported
index, offline scoring) only ever pass ids.
"""

import numpy as np
import tensorflow as tf

from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.tower import Tower, content_mlp
from tfrs_adcg.vocabulary import Vocabularies


def catalog_tables(vocabularies: Vocabularies, advertiser_embedding: IdEmbedding):
  """Per-lookup-row catalog features of the advertiser corpus.

  Returns:
    ``(categories, numeric)``: int32 [R] category indices (0 for an unknown
    category or an advertiser without a catalog row, 1 + i for
    ``vocabularies.categories[i]``) and float32 [R, F + 1] numeric features,
    standardised over the catalog (missing values at the mean, 0), plus a
    last column that is 1 for advertisers present in the catalog. R is the
    number of rows of ``advertiser_embedding``.
  """
  num_rows = advertiser_embedding.num_rows
  catalog = vocabularies.catalog
  num_numeric = len(catalog.numeric_names) if catalog else 0
  categories = np.zeros([num_rows], np.int32)
  numeric = np.zeros([num_rows, num_numeric + 1], np.float32)
  if catalog is None:
    return categories, numeric
  category_index = {c: 1 + i for i, c in enumerate(vocabularies.categories)}
  row_of = {
      id_: advertiser_embedding.first_vocabulary_index + i
      for i, id_ in enumerate(vocabularies.candidate_ids())
  }
  values = catalog.numeric
  with np.errstate(invalid="ignore"):
    mean = np.nan_to_num(np.nanmean(values, axis=0)) if len(values) else 0.0
    std = np.nan_to_num(np.nanstd(values, axis=0)) if len(values) else 1.0
  standardised = np.nan_to_num((values - mean) / np.maximum(std, 1e-6))
  for i, id_ in enumerate(catalog.advertiser_ids):
    row = row_of[id_]
    categories[row] = category_index.get(catalog.categories[i], 0)
    numeric[row, :num_numeric] = standardised[i]
    numeric[row, num_numeric] = 1.0
  return categories, numeric


class CandidateTower(Tower):
  """Advertiser ids -> L2-normalised vectors.

  The advertiser's id embedding (shared with the user tower, so that an
  advertiser in the history and the same advertiser as a candidate start out
  alike) plus a two-layer MLP of that embedding, the catalog category
  embedding and the standardised numeric catalog features; L2-normalised.
  Ids outside the corpus fall into the id embedding's hash buckets and have
  no catalog features.

  Call: tf.string [N] -> float32 [N, embedding_dim].
  """

  def __init__(self, spec: ModelSpec, vocabularies: Vocabularies,
               advertiser_embedding: IdEmbedding, **kwargs):
    super().__init__(**kwargs)
    dim = spec.embedding_dim
    self.advertiser_embedding = advertiser_embedding
    categories, numeric = catalog_tables(vocabularies, advertiser_embedding)
    self.row_categories = self.add_weight(
        name="row_categories", shape=categories.shape, dtype=tf.int32,
        initializer=tf.constant_initializer(categories), trainable=False)
    self.row_numeric = self.add_weight(
        name="row_numeric", shape=numeric.shape, dtype=tf.float32,
        initializer=tf.constant_initializer(numeric), trainable=False)
    self.category_embedding = tf.keras.layers.Embedding(
        len(vocabularies.categories) + 1, dim, name="category_embedding")
    self.mlp = content_mlp(dim)

  @property
  def id_lookup(self) -> tf.keras.layers.StringLookup:
    """Advertiser ids to rows: 0 for padding, then the hash buckets, then the
    corpus in order (see ``IdEmbedding``)."""
    return self.advertiser_embedding.lookup

  @tf.autograph.experimental.do_not_convert
  def call(self, advertiser_ids: tf.Tensor, training: bool = False) -> tf.Tensor:
    rows = self.advertiser_embedding.lookup(advertiser_ids)
    id_embeddings = self.advertiser_embedding.embedding(rows)
    features = tf.concat([
        id_embeddings,
        self.category_embedding(tf.gather(self.row_categories, rows)),
        tf.gather(self.row_numeric, rows),
    ], axis=-1)
    return tf.math.l2_normalize(
        id_embeddings + self.mlp(features, training=training), axis=-1)

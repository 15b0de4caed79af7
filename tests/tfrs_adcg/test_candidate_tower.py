"""The candidate tower and its catalog tables."""

import numpy as np

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import candidate_tower
from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.embedding import IdEmbedding

DIM = 8


def embedding_for(vocabularies, num_oov_buckets=2):
  return IdEmbedding(vocabularies.candidate_ids(), num_oov_buckets, DIM)


def test_catalog_tables_align_with_the_id_lookup(tiny_vocabularies):
  advertisers = embedding_for(tiny_vocabularies)
  categories, numeric = candidate_tower.catalog_tables(tiny_vocabularies,
                                                       advertisers)
  rows = advertisers.lookup(tf.constant(["a", "b", "c", "d", "zzz"])).numpy()
  assert tiny_vocabularies.categories == ["shoes", "travel"]
  # a: shoes, b: travel, c: not in the catalog, d: travel, unknown: nothing.
  assert categories[rows].tolist() == [1, 2, 0, 2, 0]
  # budget 10, 30, 20: mean 20, std sqrt(200/3); rating 4.5, missing, 3.5.
  std = np.sqrt(200 / 3)
  np.testing.assert_allclose(numeric[rows], [
      [-10 / std, 1.0, 1.0],
      [10 / std, 0.0, 1.0],
      [0.0, 0.0, 0.0],
      [0.0, -1.0, 1.0],
      [0.0, 0.0, 0.0],
  ], rtol=1e-5, atol=1e-6)


def test_outputs_unit_vectors_for_known_and_unknown_ids(tiny_vocabularies):
  tf.keras.utils.set_random_seed(0)
  spec = ModelSpec(embedding_dim=DIM, num_heads=2)
  tower = candidate_tower.CandidateTower(
      spec, tiny_vocabularies, embedding_for(tiny_vocabularies))
  output = tower(tf.constant(["a", "b", "c", "d", "never-seen"]))
  assert output.shape == (5, DIM)
  np.testing.assert_allclose(tf.norm(output, axis=1).numpy(), 1.0, rtol=1e-5)
  assert len({tuple(np.round(row, 5)) for row in output.numpy()}) == 5


def test_catalog_features_change_the_embedding(tiny_vocabularies):
  tf.keras.utils.set_random_seed(0)
  spec = ModelSpec(embedding_dim=DIM, num_heads=2)
  advertisers = embedding_for(tiny_vocabularies)
  tower = candidate_tower.CandidateTower(spec, tiny_vocabularies,
                                         advertisers)
  before = tower(tf.constant(["b"])).numpy()
  row = int(advertisers.lookup(tf.constant("b")))
  tower.row_categories.assign(
      tf.tensor_scatter_nd_update(tower.row_categories, [[row]], [1]))
  assert not np.allclose(tower(tf.constant(["b"])).numpy(), before)

"""The serving module of a user tower of several vectors: exact max-sim."""

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import index as index_lib
from export import serving_module
from tfrs_adcg import schema
from tfrs_adcg import user_vectors

DIM, VECTORS, CORPUS, K = 8, 3, 300, 20


class FixedVectors(tf.keras.layers.Layer):
  """A stand-in user tower: row r of the batch gets ``vectors[r]``."""

  def __init__(self, vectors: np.ndarray):
    super().__init__()
    self._vectors = tf.constant(vectors)

  def call(self, events, training=False):
    rows = tf.shape(events[schema.ADVERTISER_ID])[0]
    return self._vectors[:rows]


def events(rows: int):
  strings = tf.fill([rows, 2], "x")
  return {schema.ADVERTISER_ID: strings, schema.ITEM_ID: strings,
          schema.EVENT_TYPE: strings,
          schema.TIMESTAMP: tf.ones([rows, 2], tf.int64)}


@pytest.mark.parametrize("kind", index_lib.INDEX_KINDS)
def test_several_vectors_rank_by_their_best_dot_product(kind):
  rng = np.random.default_rng(3)
  users = rng.normal(size=(4, VECTORS, DIM)).astype(np.float32)
  corpus = rng.normal(size=(CORPUS, DIM)).astype(np.float32)
  ids = tf.constant([f"c{i}" for i in range(CORPUS)])
  # Small corpora are searched exactly by every kind.
  index = index_lib.build_index(kind, ids, tf.constant(corpus), K)
  module = serving_module.ServingModule(FixedVectors(users), index, K)
  served = module.serving_default(events(4))
  exact_scores, exact_rows = tf.math.top_k(
      user_vectors.scores(tf.constant(users), tf.constant(corpus)), K)
  np.testing.assert_allclose(served[schema.SCORES], exact_scores, rtol=1e-4,
                             atol=1e-4)
  assert (served[schema.CANDIDATE_IDS].numpy().tolist()
          == tf.gather(ids, exact_rows).numpy().tolist())
  assert module.user_embedding(events(4))[
      serving_module.EMBEDDING].shape == (4, VECTORS, DIM)

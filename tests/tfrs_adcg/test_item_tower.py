"""The item tower: shapes, price buckets, content-only unseen ids, histories."""

import numpy as np

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema
from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.item_content import ItemContentLookup
from tfrs_adcg.item_tower import HistoryItemEmbedding
from tfrs_adcg.item_tower import ItemTower
from tfrs_adcg.item_tower import price_buckets

DIM = 8
E = 4


def training_items() -> ItemContent:
  rng = np.random.default_rng(0)
  return ItemContent(
      item_ids=np.array(["i1", "i2", "i3"], dtype=object),
      advertiser_ids=np.array(["a", "a", "b"], dtype=object),
      categories=np.array(["shoes", "shoes", "travel"], dtype=object),
      prices=np.array([10.0, 20.0, np.nan], np.float32),
      embeddings=rng.normal(size=(3, E)).astype(np.float32))


def make_tower(pretrained: bool = True, dropout: float = 0.0) -> ItemTower:
  spec = ModelSpec(embedding_dim=DIM, task=schema.ITEM_TASK,
                   pretrained=pretrained, item_id_dropout=dropout)
  advertisers = IdEmbedding(["a", "b"], 1, DIM)
  return ItemTower(spec, training_items(), advertisers)


def features(ids, advertisers=("a",), categories=("shoes",), prices=(10.0,),
             embeddings=None):
  n = len(ids)
  return {
      schema.CATALOG_ITEM_ID: tf.constant(list(ids)),
      schema.CATALOG_ADVERTISER_ID: tf.constant(list(advertisers) * n)[:n],
      schema.CATALOG_CATEGORY: tf.constant(list(categories) * n)[:n],
      schema.CATALOG_PRICE: tf.constant(list(prices) * n, tf.float32)[:n],
      schema.CATALOG_EMBEDDING: tf.constant(
          embeddings if embeddings is not None
          else np.ones((n, E), np.float32)),
  }


def test_price_buckets():
  prices = tf.constant([np.nan, -1.0, np.inf, 0.0, 0.9, 1.0, 3.0, 1e9])
  buckets = price_buckets(prices, num_buckets=10).numpy().tolist()
  # 2 * log2(1 + p): 0 -> 0, 0.9 -> 1.85, 1 -> 2, 3 -> 4; 1e9 capped at 9.
  assert buckets == [0, 0, 0, 1, 2, 3, 5, 9]


def test_output_shape_and_norm():
  out = make_tower()(features(["i1", "i2", "zzz"]))
  assert out.shape == (3, DIM)
  np.testing.assert_allclose(tf.norm(out, axis=1).numpy(), 1.0, rtol=1e-5)


def test_unseen_ids_are_embedded_from_content_alone():
  tower = make_tower()
  unseen = tower(features(["new-1", "new-2", ""])).numpy()
  np.testing.assert_allclose(unseen[0], unseen[1], atol=1e-6)
  np.testing.assert_allclose(unseen[0], unseen[2], atol=1e-6)
  # A training item's id embedding changes its vector.
  seen = tower(features(["i1"])).numpy()
  assert np.abs(seen[0] - unseen[0]).max() > 1e-3


def test_content_changes_an_unseen_items_vector():
  tower = make_tower()
  base = tower(features(["new"])).numpy()
  for changed in (features(["new"], advertisers=("b",)),
                  features(["new"], categories=("travel",)),
                  features(["new"], prices=(500.0,)),
                  features(["new"], embeddings=-np.ones((1, E), np.float32))):
    assert np.abs(tower(changed).numpy() - base).max() > 1e-4


def test_unknown_categories_embed_alike():
  tower = make_tower()
  a = tower(features(["new"], categories=("never-seen",))).numpy()
  b = tower(features(["new"], categories=("",))).numpy()
  np.testing.assert_allclose(a, b, atol=1e-6)


def test_without_pretrained_the_embedding_is_not_read():
  tower = make_tower(pretrained=False)
  inputs = features(["i1", "new"])
  with_vectors = tower(inputs).numpy()
  del inputs[schema.CATALOG_EMBEDDING]
  np.testing.assert_allclose(tower(inputs).numpy(), with_vectors, atol=1e-6)
  assert not any("pretrained" in v.name for v in tower.trainable_variables)


def test_id_dropout_only_while_training():
  tower = make_tower(dropout=0.5)
  inputs = features(["i1"] * 200)
  content_only = tower(features(["new"])).numpy()[0]
  assert np.allclose(tower(inputs).numpy(), tower(inputs).numpy())
  dropped = np.isclose(tower(inputs, training=True).numpy(), content_only,
                       atol=1e-6).all(axis=1)
  assert 50 < dropped.sum() < 150


def test_a_cold_item_points_where_its_content_does():
  tower = make_tower()
  content = training_items()
  twin = features(["new"], advertisers=("a",), categories=("shoes",),
                  prices=(10.0,), embeddings=content.embeddings[:1])
  trained = features(["i1"], embeddings=content.embeddings[:1])
  other = features(["new"], advertisers=("b",), categories=("travel",),
                   prices=(np.nan,), embeddings=content.embeddings[2:])
  cold, warm, elsewhere = (tower(f).numpy()[0] for f in (twin, trained, other))
  # The id embedding corrects the content's vector; it does not replace it.
  assert cold @ warm > 0.9
  assert cold @ warm > cold @ elsewhere + 0.05


def test_history_items_are_the_item_towers_vectors():
  tower = make_tower(dropout=0.5)
  content = training_items()
  history = HistoryItemEmbedding(ItemContentLookup(content), tower)
  ids = tf.constant([["i1", "", "i3"], ["i2", "i2", "unknown"]])
  vectors = history(ids).numpy()
  assert vectors.shape == (2, 3, DIM)
  np.testing.assert_array_equal(vectors[0, 1], np.zeros(DIM))
  np.testing.assert_array_equal(vectors[1, 0], vectors[1, 1])
  for (row, column), item in (((0, 0), 0), ((0, 2), 2), ((1, 0), 1)):
    expected = tower(features(
        [content.item_ids[item]], advertisers=content.advertiser_ids[item:],
        categories=content.categories[item:], prices=content.prices[item:],
        embeddings=content.embeddings[item:item + 1]))
    np.testing.assert_allclose(vectors[row, column], expected.numpy()[0],
                               atol=1e-6)
  # An item without content is embedded as an unknown one: advertiser,
  # category and price unknown, a zero pretrained vector.
  unknown = tower(features(["unknown"], advertisers=("",), categories=("",),
                           prices=(np.nan,),
                           embeddings=np.zeros((1, E), np.float32)))
  np.testing.assert_allclose(vectors[1, 2], unknown.numpy()[0], atol=1e-6)
  # Trains the tower's variables.
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(history(ids, training=True))
  grads = tape.gradient(loss, tower.trainable_variables)
  assert all(g is not None for g in grads)

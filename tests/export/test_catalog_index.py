"""The streamed ScaNN index: recall, equality with build_index, the Parquet
catalog reader, SavedModel round trips and the errors for bad catalogs."""

import json
import logging
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import catalog_index
from export import index as index_lib
from export import serving_module
from tfrs_adcg import item_catalog
from tfrs_adcg import schema
from tfrs_adcg import synthetic

K = 100


def clustered(size: int, dim: int = 32, seed: int = 0) -> np.ndarray:
  """Unit vectors around 64 centres shared by every seed (one distribution)."""
  centres = np.random.default_rng(dim).normal(size=(64, dim))
  rng = np.random.default_rng(seed)
  points = centres[rng.integers(64, size=size)] + 0.6 * rng.normal(
      size=(size, dim))
  return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(
      np.float32)


def item_ids(size: int) -> np.ndarray:
  return np.array([f"item_{i}" for i in range(size)])


def batches(ids: np.ndarray, embeddings: np.ndarray,
            batch_size: int) -> tf.data.Dataset:
  return tf.data.Dataset.from_tensor_slices((ids, embeddings)).batch(
      batch_size)


def exact_top_k(queries: np.ndarray, corpus: np.ndarray, k: int) -> np.ndarray:
  scores = queries @ corpus.T
  top = np.argpartition(-scores, k, axis=1)[:, :k]
  order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1)
  return np.take_along_axis(top, order, 1)


def test_recall_against_exact_where_only_part_is_searched():
  corpus = clustered(40_000)
  ids = item_ids(len(corpus))
  queries = clustered(60, seed=1)
  index = catalog_index.StreamedScaNN(k=K).index_from_dataset(
      batches(ids, corpus, 1500))  # The last batch is partial.
  assert index.num_candidates == len(corpus)
  assert index.parameters == index_lib.ScannParameters.for_corpus(
      len(corpus), K)
  assert index.parameters.num_leaves_to_search < index.parameters.num_leaves
  scores, found = index(tf.constant(queries))
  assert found.shape == scores.shape == (60, K)
  truth = ids[exact_top_k(queries, corpus, K)]
  recall = np.mean([len(set(f) & set(t)) / K
                    for f, t in zip(found.numpy().astype(str), truth)])
  assert recall >= 0.95
  # Scores are the exact dot products (reordered), best first.
  position = {item: i for i, item in enumerate(ids)}
  rows = np.vectorize(position.get)(found.numpy().astype(str))
  np.testing.assert_allclose(
      scores.numpy(),
      np.einsum("qd,qkd->qk", queries, corpus[rows]), atol=1e-5)
  assert (np.diff(scores.numpy(), axis=1) <= 1e-6).all()


def test_streamed_index_equals_build_index_over_the_concatenation():
  # Every leaf is searched at this size, so ScaNN's randomised training
  # cannot make two builds differ: any difference is in the data.
  corpus = clustered(12_000, dim=16, seed=2)
  ids = item_ids(len(corpus))
  queries = tf.constant(clustered(40, dim=16, seed=3))
  params = index_lib.ScannParameters.for_corpus(len(corpus), K)
  assert params.num_leaves_to_search == params.num_leaves
  streamed = catalog_index.StreamedScaNN(k=K).index_from_dataset(
      batches(ids, corpus, 1000))
  assert streamed.parameters == params
  whole = index_lib.build_index("scann", tf.constant(ids),
                                tf.constant(corpus), K, params)
  streamed_scores, streamed_ids = streamed(queries, k=20)
  whole_scores, whole_ids = whole(queries, k=20)
  np.testing.assert_array_equal(streamed_ids.numpy(), whole_ids.numpy())
  np.testing.assert_allclose(streamed_scores.numpy(), whole_scores.numpy(),
                             atol=1e-6)
  # index() over the whole arrays builds the same index too.
  at_once = catalog_index.StreamedScaNN(k=K).index(tf.constant(corpus),
                                                   tf.constant(ids))
  np.testing.assert_array_equal(at_once(queries, k=20)[1].numpy(),
                                whole_ids.numpy())


def test_the_layer_config_is_json_and_saving_does_not_warn_of_it(caplog,
                                                                  tmp_path):
  params = index_lib.ScannParameters(num_leaves=4, num_leaves_to_search=2,
                                     num_reordering_candidates=40)
  layer = catalog_index.StreamedScaNN(k=10, scann=params, name="scann")
  config = json.loads(json.dumps(layer.get_config()))
  rebuilt = catalog_index.StreamedScaNN.from_config(config)
  assert rebuilt.get_config() == layer.get_config()
  layer.index(tf.constant(clustered(200, dim=8, seed=4)),
              tf.constant(item_ids(200)))
  layer(tf.constant(clustered(3, dim=8, seed=5)))
  module = tf.Module()
  module.index = layer
  with caplog.at_level(logging.WARNING):
    tf.saved_model.save(module, str(tmp_path / "index"),
                        options=tf.saved_model.SaveOptions(
                            namespace_whitelist=["Scann"]))
  assert not [r for r in caplog.records if "non-serializable" in r.message]


@pytest.fixture(scope="module")
def synthetic_catalog(tmp_path_factory) -> pathlib.Path:
  """The item catalog of a small synthetic log, with 16-dim embeddings."""
  out = tmp_path_factory.mktemp("catalog")
  summary = synthetic.generate(synthetic.SyntheticConfig(
      output=str(out), users=50, advertisers=30, items=2500, days=3,
      file_format="parquet", item_embedding_dim=16))
  return pathlib.Path(summary["paths"][synthetic.ITEMS])


def test_reader_streams_the_synthetic_catalog(synthetic_catalog):
  columns = (schema.CATALOG_ITEM_ID, schema.CATALOG_EMBEDDING,
             schema.CATALOG_CATEGORY, schema.CATALOG_PRICE)
  catalog = item_catalog.read_item_catalog(str(synthetic_catalog), columns,
                                            batch_size=1000)
  assert catalog.element_spec[schema.CATALOG_EMBEDDING].shape.as_list() == [
      None, 16]
  assert catalog.element_spec[schema.CATALOG_PRICE].dtype == tf.float32
  read = list(catalog)
  assert [len(b[schema.CATALOG_ITEM_ID]) for b in read] == [1000, 1000, 500]
  table = pq.read_table(synthetic_catalog)
  np.testing.assert_array_equal(
      np.concatenate([b[schema.CATALOG_ITEM_ID].numpy() for b in read]
                     ).astype(str),
      table.column(schema.CATALOG_ITEM_ID).to_numpy(zero_copy_only=False))
  np.testing.assert_array_equal(
      np.concatenate([b[schema.CATALOG_EMBEDDING].numpy() for b in read]),
      np.stack(table.column(schema.CATALOG_EMBEDDING).to_numpy(
          zero_copy_only=False)))
  np.testing.assert_allclose(
      np.concatenate([b[schema.CATALOG_PRICE].numpy() for b in read]),
      table.column(schema.CATALOG_PRICE).to_numpy(), rtol=1e-6)

  # Read twice: the dataset reopens the file.
  ids, embeddings = next(iter(catalog.map(
      catalog_index.pretrained_item_embeddings)))
  np.testing.assert_allclose(np.linalg.norm(embeddings.numpy(), axis=1), 1.0,
                             rtol=1e-5)
  assert ids.dtype == tf.string


@pytest.fixture(scope="module")
def catalog_index_layer(synthetic_catalog) -> catalog_index.StreamedScaNN:
  catalog = item_catalog.read_item_catalog(str(synthetic_catalog),
                                            batch_size=700)
  return catalog_index.index_catalog(
      catalog.map(catalog_index.pretrained_item_embeddings), k=10)


def test_an_items_own_embedding_finds_it_first(synthetic_catalog,
                                               catalog_index_layer):
  table = pq.read_table(synthetic_catalog)
  vectors = np.stack(table.column(schema.CATALOG_EMBEDDING).to_numpy(
      zero_copy_only=False))[::100]
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  _, found = catalog_index_layer(tf.constant(vectors))
  assert found.shape == (25, 10)
  np.testing.assert_array_equal(
      found.numpy()[:, 0].astype(str),
      table.column(schema.CATALOG_ITEM_ID).to_numpy(
          zero_copy_only=False)[::100])


class _FirstAdvertiserTower(tf.keras.layers.Layer):
  """Stands in for the user tower: a fixed unit vector per first advertiser."""

  def __init__(self, table: np.ndarray):
    super().__init__()
    self.table = tf.constant(table)

  def call(self, events, training=False):
    del training
    bucket = tf.strings.to_hash_bucket_fast(
        events[schema.ADVERTISER_ID][:, 0], self.table.shape[0])
    return tf.gather(self.table, bucket)


def test_savedmodels_with_the_index_answer_as_in_process(
    catalog_index_layer, tmp_path):
  options = tf.saved_model.SaveOptions(namespace_whitelist=["Scann"])
  queries = clustered(8, dim=16, seed=5)

  module = tf.Module()
  module.index = catalog_index_layer
  module.top_k = tf.function(
      lambda q: module.index(q, k=10),
      input_signature=[tf.TensorSpec([None, 16], tf.float32)])
  tf.saved_model.save(module, str(tmp_path / "index"), options=options)
  expected_scores, expected_ids = catalog_index_layer(tf.constant(queries),
                                                      k=10)
  reloaded = tf.saved_model.load(str(tmp_path / "index"))
  scores, ids = reloaded.top_k(tf.constant(queries))
  np.testing.assert_array_equal(ids.numpy(), expected_ids.numpy())
  np.testing.assert_allclose(scores.numpy(), expected_scores.numpy(),
                             atol=1e-6)

  # It drops into the serving module too: raw events in, item ids out.
  tower = _FirstAdvertiserTower(clustered(5, dim=16, seed=6))
  serving = serving_module.ServingModule(tower, catalog_index_layer, k=10)
  tf.saved_model.save(serving, str(tmp_path / "serving"),
                      signatures=serving.signatures(), options=options)
  events = {
      schema.ADVERTISER_ID: tf.constant([["adv_01", "adv_02"], ["adv_07", ""]]),
      schema.ITEM_ID: tf.constant([["item_1", ""], ["", ""]]),
      schema.EVENT_TYPE: tf.constant([["view", "view"], ["view", ""]]),
      schema.TIMESTAMP: tf.constant([[5, 6], [7, 0]], tf.int64),
  }
  served = tf.saved_model.load(str(tmp_path / "serving")).signatures[
      serving_module.SERVING_DEFAULT](**events)
  _, in_process = catalog_index_layer(tower(events), k=10)
  np.testing.assert_array_equal(served[schema.CANDIDATE_IDS].numpy(),
                                in_process.numpy())


def write_catalog(path: pathlib.Path, embeddings: list,
                  embedding_type=pa.list_(pa.float32())) -> str:
  pq.write_table(pa.table({
      schema.CATALOG_ITEM_ID: [f"item_{i}" for i in range(len(embeddings))],
      schema.CATALOG_EMBEDDING: pa.array(embeddings, embedding_type),
  }), path)
  return str(path)


def test_bad_catalogs_are_refused_with_a_sentence(tmp_path):
  with pytest.raises(ValueError, match="empty"):
    item_catalog.read_item_catalog(write_catalog(tmp_path / "empty.parquet",
                                                  []))
  with pytest.raises(ValueError, match="empty"):
    catalog_index.StreamedScaNN(k=1).index_from_dataset(
        batches(item_ids(0), np.zeros((0, 4), np.float32), 10))

  no_embedding = tmp_path / "no_embedding.parquet"
  pq.write_table(pa.table({schema.CATALOG_ITEM_ID: ["a", "b"],
                           schema.CATALOG_PRICE: [1.0, 2.0]}), no_embedding)
  with pytest.raises(ValueError, match="no column 'embedding'"):
    item_catalog.read_item_catalog(str(no_embedding))
  as_text = write_catalog(tmp_path / "text.parquet", ["[0.1, 0.2]"],
                          pa.string())
  with pytest.raises(ValueError, match="must be a list of floats"):
    item_catalog.read_item_catalog(as_text)

  # Row lengths are checked batch by batch, as the rows stream by.
  ragged = write_catalog(tmp_path / "ragged.parquet",
                         [[0.1, 0.2, 0.3]] * 5 + [[0.1, 0.2]])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"item_5.*2-dimensional.*has 3"):
    list(item_catalog.read_item_catalog(ragged, batch_size=4))
  missing = write_catalog(tmp_path / "missing.parquet",
                          [[0.1, 0.2]] * 3 + [None])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="item_3.*has no embedding"):
    list(item_catalog.read_item_catalog(missing, batch_size=2))

  def dims(*widths):
    return tf.data.Dataset.from_generator(
        lambda: ((item_ids(3), np.ones((3, w), np.float32)) for w in widths),
        output_signature=(tf.TensorSpec([None], tf.string),
                          tf.TensorSpec([None, None], tf.float32)))

  with pytest.raises(ValueError, match="Inconsistent embedding dims"):
    catalog_index.StreamedScaNN(k=1).index_from_dataset(dims(8, 8, 4))
  corpus = clustered(50, dim=8)
  corpus[17, 3] = np.nan
  with pytest.raises(ValueError, match="17 holds NaN"):
    catalog_index.StreamedScaNN(k=1).index_from_dataset(
        batches(item_ids(50), corpus, 20))
  with pytest.raises(ValueError, match="exceeds"):
    catalog_index.StreamedScaNN(k=60).index_from_dataset(
        batches(item_ids(50), clustered(50, dim=8), 20))
  with pytest.raises(ValueError, match="Index candidates first"):
    catalog_index.StreamedScaNN(k=1)(tf.zeros([1, 8]))

"""The item catalog: checks, training items, content lookup, grouping."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import item_catalog
from tfrs_adcg import schema

E = 3


def write_catalog(path, with_embedding=True, integer_prices=False):
  ids = ["i0", "i1", "i2", "i3", "i4"]
  columns = {
      schema.CATALOG_ITEM_ID: ids,
      schema.CATALOG_ADVERTISER_ID: ["a", "a", "b", "a", "b"],
      schema.CATALOG_CATEGORY: ["shoes", "shoes", "travel", "shoes", "travel"],
      schema.CATALOG_PRICE: ([1, 2, 3, 4, 5] if integer_prices
                             else [1.5, 2.5, 3.5, 4.5, 5.5]),
  }
  if with_embedding:
    columns[schema.CATALOG_EMBEDDING] = pa.array(
        [[float(i)] * E for i in range(len(ids))], pa.list_(pa.float32()))
  pq.write_table(pa.table(columns), str(path), row_group_size=2)
  return str(path)


def test_check_catalog_explains_what_is_wrong(tmp_path):
  with pytest.raises(ValueError, match="must be a Parquet file"):
    item_catalog.check_catalog(str(tmp_path / "items.csv"), pretrained=True)
  with pytest.raises(ValueError, match="does not exist"):
    item_catalog.check_catalog(str(tmp_path / "no.parquet"), pretrained=True)
  bare = write_catalog(tmp_path / "bare.parquet", with_embedding=False)
  with pytest.raises(ValueError, match="--no_pretrained"):
    item_catalog.check_catalog(bare, pretrained=True)
  item_catalog.check_catalog(bare, pretrained=False)
  pq.write_table(pa.table({schema.CATALOG_ITEM_ID: ["x"]}),
                 str(tmp_path / "ids.parquet"))
  with pytest.raises(ValueError, match="lacks the column"):
    item_catalog.check_catalog(str(tmp_path / "ids.parquet"),
                               pretrained=False)


def test_read_item_content_streams_float_prices(tmp_path):
  path = write_catalog(tmp_path / "items.parquet", integer_prices=True)
  batches = list(item_catalog.read_item_content(path, pretrained=True,
                                                batch_size=2))
  assert [b[schema.CATALOG_ITEM_ID].shape[0] for b in batches] == [2, 2, 1]
  assert batches[0][schema.CATALOG_PRICE].dtype == tf.float32
  assert batches[0][schema.CATALOG_EMBEDDING].shape == (2, E)
  assert item_catalog.num_items(path) == 5


def test_training_items_round_trip(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_catalog.TRAINING_ITEMS)
  found = item_catalog.write_training_items(path, ["i3", "i1", "missing"],
                                            out, pretrained=True)
  assert found == 2
  content = item_catalog.read_training_items(out, ["i3", "i1", "missing"],
                                             pretrained=True)
  assert content.item_ids.tolist() == ["i3", "i1", "missing"]
  assert content.advertiser_ids.tolist() == ["a", "a", ""]
  assert content.categories.tolist() == ["shoes", "shoes", ""]
  np.testing.assert_allclose(content.prices[:2], [4.5, 2.5])
  assert np.isnan(content.prices[2])
  np.testing.assert_allclose(content.embeddings,
                             [[3.0] * E, [1.0] * E, [0.0] * E])


def test_training_items_without_pretrained(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_catalog.TRAINING_ITEMS)
  item_catalog.write_training_items(path, ["i0"], out, pretrained=False)
  content = item_catalog.read_training_items(out, ["i0"], pretrained=False)
  assert content.embeddings is None
  assert content.advertiser_ids.tolist() == ["a"]


def test_training_items_must_be_in_the_catalog_once(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_catalog.TRAINING_ITEMS)
  item_catalog.write_training_items(path, ["x", "y"], out, pretrained=True)
  with pytest.raises(ValueError, match="None of the 2 training items"):
    item_catalog.read_training_items(out, ["x", "y"], pretrained=True)
  twice = pa.concat_tables([pq.read_table(path)] * 2)
  pq.write_table(twice, str(tmp_path / "twice.parquet"))
  item_catalog.write_training_items(str(tmp_path / "twice.parquet"), ["i1"],
                                    out, pretrained=True)
  with pytest.raises(ValueError, match="'i1' more than once"):
    item_catalog.read_training_items(out, ["i1"], pretrained=True)


def test_content_lookup(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_catalog.TRAINING_ITEMS)
  item_catalog.write_training_items(path, ["i2", "i4"], out, pretrained=True)
  lookup = item_catalog.ItemContentLookup(
      item_catalog.read_training_items(out, ["i2", "i4"], pretrained=True))
  features = lookup(tf.constant(["i4", "unknown", "i2"]))
  assert features[schema.CATALOG_ITEM_ID].numpy().tolist() == [
      b"i4", b"unknown", b"i2"]
  assert features[schema.CATALOG_ADVERTISER_ID].numpy().tolist() == [
      b"b", b"", b"b"]
  prices = features[schema.CATALOG_PRICE].numpy()
  assert prices[0] == 5.5 and np.isnan(prices[1]) and prices[2] == 3.5
  np.testing.assert_allclose(features[schema.CATALOG_EMBEDDING].numpy(),
                             [[4.0] * E, [0.0] * E, [2.0] * E])


def test_advertiser_items_by_popularity(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  grouped = item_catalog.advertiser_items(
      path, {"i3": 5, "i1": 2, "i2": 1}, per_advertiser=2)
  # a's items i0, i1, i3: by positives (i3, i1), then catalog order; cut to 2.
  assert grouped.items_of == {"a": ["i3", "i1"], "b": ["i2", "i4"]}
  assert grouped.positives == {"a": 7, "b": 1}
  assert grouped.popularity_ranking() == ["a", "b"]

"""The content of a model's items: the training items file and the lookup."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import item_content
from tfrs_adcg import schema

E = 3


def write_catalog(path, with_embedding=True):
  """A Parquet catalog of items i0..i4 of advertisers a and b; item i's
  price is i + 1.5 and its embedding [i, i / 2, -i]."""
  columns = {
      schema.CATALOG_ITEM_ID: ["i0", "i1", "i2", "i3", "i4"],
      schema.CATALOG_ADVERTISER_ID: ["a", "a", "b", "a", "b"],
      schema.CATALOG_CATEGORY: ["shoes", "shoes", "travel", "shoes", "travel"],
      schema.CATALOG_PRICE: [1.5, 2.5, 3.5, 4.5, 5.5],
  }
  if with_embedding:
    columns[schema.CATALOG_EMBEDDING] = pa.array(
        [[float(i), 0.5 * i, -float(i)] for i in range(5)],
        pa.list_(pa.float32()))
  pq.write_table(pa.table(columns), str(path), row_group_size=2)
  return str(path)


def test_training_items_round_trip(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_content.TRAINING_ITEMS)
  found = item_content.write_training_items(path, ["i3", "i1", "missing"],
                                            out, pretrained=True)
  assert found == 2
  content = item_content.read_training_items(out, ["i3", "i1", "missing"],
                                             pretrained=True)
  assert content.item_ids.tolist() == ["i3", "i1", "missing"]
  assert content.advertiser_ids.tolist() == ["a", "a", ""]
  assert content.categories.tolist() == ["shoes", "shoes", ""]
  np.testing.assert_allclose(content.prices[:2], [4.5, 2.5])
  assert np.isnan(content.prices[2])
  np.testing.assert_allclose(content.embeddings,
                             [[3.0, 1.5, -3.0], [1.0, 0.5, -1.0], [0.0] * E])


def test_model_items_and_selected_content(tmp_path):
  ids = item_content.model_item_ids(["i3", "i1"], ["i1", "i0", "missing"])
  assert ids == ["i3", "i1", "i0", "missing"]
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_content.TRAINING_ITEMS)
  item_content.write_training_items(path, ids, out, pretrained=True)
  content = item_content.read_training_items(out, ids, pretrained=True)
  selected = content.select(["i1", "nowhere", "i3"])
  assert selected.item_ids.tolist() == ["i1", "nowhere", "i3"]
  assert selected.advertiser_ids.tolist() == ["a", "", "a"]
  assert selected.categories.tolist() == ["shoes", "", "shoes"]
  np.testing.assert_allclose(selected.prices[[0, 2]], [2.5, 4.5])
  assert np.isnan(selected.prices[1])
  np.testing.assert_allclose(selected.embeddings,
                             [[1.0, 0.5, -1.0], [0.0] * E, [3.0, 1.5, -3.0]])


def test_training_items_without_pretrained(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_content.TRAINING_ITEMS)
  item_content.write_training_items(path, ["i0"], out, pretrained=False)
  content = item_content.read_training_items(out, ["i0"], pretrained=False)
  assert content.embeddings is None
  assert content.advertiser_ids.tolist() == ["a"]


def test_training_items_must_be_in_the_catalog_once(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_content.TRAINING_ITEMS)
  item_content.write_training_items(path, ["x", "y"], out, pretrained=True)
  with pytest.raises(ValueError, match="None of the 2 training items"):
    item_content.read_training_items(out, ["x", "y"], pretrained=True)
  twice = pa.concat_tables([pq.read_table(path)] * 2)
  pq.write_table(twice, str(tmp_path / "twice.parquet"))
  item_content.write_training_items(str(tmp_path / "twice.parquet"), ["i1"],
                                    out, pretrained=True)
  with pytest.raises(ValueError, match="'i1' more than once"):
    item_content.read_training_items(out, ["i1"], pretrained=True)


def test_content_lookup(tmp_path):
  path = write_catalog(tmp_path / "items.parquet")
  out = str(tmp_path / item_content.TRAINING_ITEMS)
  item_content.write_training_items(path, ["i2", "i4"], out, pretrained=True)
  lookup = item_content.ItemContentLookup(
      item_content.read_training_items(out, ["i2", "i4"], pretrained=True))
  features = lookup(tf.constant(["i4", "unknown", "i2"]))
  assert features[schema.CATALOG_ITEM_ID].numpy().tolist() == [
      b"i4", b"unknown", b"i2"]
  assert features[schema.CATALOG_ADVERTISER_ID].numpy().tolist() == [
      b"b", b"", b"b"]
  prices = features[schema.CATALOG_PRICE].numpy()
  assert prices[0] == 5.5 and np.isnan(prices[1]) and prices[2] == 3.5
  np.testing.assert_allclose(features[schema.CATALOG_EMBEDDING].numpy(),
                             [[4.0, 2.0, -4.0], [0.0] * E, [2.0, 1.0, -2.0]])

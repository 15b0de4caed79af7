"""The candidates a model trains against and the corpus it ranks."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
from tfrs_adcg import corpus
from tfrs_adcg import schema


def test_advertiser_ids_are_the_corpus_and_the_tower_input():
  ids = corpus.IdCorpus(["a", "b", "c"])
  assert ids.size() == 3
  batches = list(ids.batches())
  assert len(batches) == 1
  batch_ids, tower_input = batches[0]
  assert batch_ids.numpy().tolist() == [b"a", b"b", b"c"]
  assert tower_input.numpy().tolist() == [b"a", b"b", b"c"]


def test_advertiser_corpus_refuses_a_catalog():
  with pytest.raises(ValueError, match="items.parquet"):
    list(corpus.IdCorpus(["a"]).batches("items.parquet"))
  with pytest.raises(ValueError, match="ranks advertiser ids"):
    corpus.IdCorpus(["a"]).size("items.parquet")


def write_catalog(path, ids):
  pq.write_table(pa.table({
      schema.CATALOG_ITEM_ID: ids,
      schema.CATALOG_ADVERTISER_ID: ["a"] * len(ids),
      schema.CATALOG_CATEGORY: ["shoes"] * len(ids),
      schema.CATALOG_PRICE: [1.5] * len(ids),
  }), str(path))
  return str(path)


def test_an_item_catalog_is_the_corpus_beyond_the_training_items(tmp_path):
  catalog = corpus.CatalogCorpus(
      ["i1"], write_catalog(tmp_path / "items.parquet", ["i0", "i1", "i2"]),
      pretrained=False)
  assert catalog.size() == 3
  batches = list(catalog.batches(batch_size=2))
  assert [ids.numpy().tolist() for ids, _ in batches] == [[b"i0", b"i1"],
                                                          [b"i2"]]
  _, content = batches[0]
  assert content[schema.CATALOG_ADVERTISER_ID].numpy().tolist() == [b"a",
                                                                    b"a"]
  assert schema.CATALOG_EMBEDDING not in content
  # Another catalog, e.g. a newer one at export.
  newer = write_catalog(tmp_path / "newer.parquet", ["i0", "i1", "i2", "i3"])
  assert catalog.size(newer) == 4
  assert sum(int(ids.shape[0]) for ids, _ in catalog.batches(newer)) == 4


def test_the_catalog_ranked_is_checked(tmp_path):
  assert corpus.IdCorpus(["a"]).checked_catalog() is None
  with pytest.raises(ValueError, match="item-level models"):
    corpus.IdCorpus(["a"]).checked_catalog("items.parquet")
  path = write_catalog(tmp_path / "items.parquet", ["i0"])
  catalog = corpus.CatalogCorpus(["i0"], path, pretrained=False)
  assert catalog.checked_catalog() == path
  newer = write_catalog(tmp_path / "newer.parquet", ["i0", "i1"])
  assert catalog.checked_catalog(newer) == newer
  with pytest.raises(ValueError, match="missing.parquet' does not exist"):
    catalog.checked_catalog(str(tmp_path / "missing.parquet"))
  with pytest.raises(ValueError, match="no 'embedding' column"):
    corpus.CatalogCorpus(["i0"], path, pretrained=True).checked_catalog()

"""Reading vocabularies, frequencies and the catalog; copying them as assets."""

import math

import pytest

from tfrs_adcg import schema
from tfrs_adcg import vocabulary


def test_reads_a_data_dir(tiny_vocabularies):
  v = tiny_vocabularies
  assert v.advertiser_ids == ["a", "b", "c"]
  assert v.item_ids == ["b1", "a1", "a2"]  # The empty item id is padding.
  assert v.event_types == ["view", "checkout", "signup"]
  assert v.categories == ["shoes", "travel"]
  assert v.positives == {"a": 2, "b": 1, "c": 1}
  assert v.probabilities == {"a": 0.5, "b": 0.25, "c": 0.25}
  assert v.catalog.advertiser_ids == ["a", "b", "d"]
  assert v.catalog.numeric_names == ["budget", "rating"]
  assert v.catalog.numeric[0].tolist() == [10.0, 4.5]
  assert math.isnan(v.catalog.numeric[1, 1])


def test_corpus_and_popularity(tiny_vocabularies):
  assert tiny_vocabularies.candidate_ids() == ["a", "b", "c", "d"]
  assert tiny_vocabularies.popularity_ranking() == ["a", "b", "c", "d"]


def test_assets_copy_reads_back_the_same(tiny_data_dir, tmp_path,
                                         tiny_vocabularies):
  assets = tmp_path / "model" / "assets"
  vocabulary.copy_assets(str(tiny_data_dir), str(assets))
  assert (assets / schema.CANDIDATE_FREQUENCIES).exists()
  copy = vocabulary.read_vocabularies(str(assets))
  assert copy.candidate_ids() == tiny_vocabularies.candidate_ids()
  assert copy.item_ids == tiny_vocabularies.item_ids
  assert copy.catalog.advertiser_ids == tiny_vocabularies.catalog.advertiser_ids


def test_catalog_is_optional(tiny_data_dir):
  (tiny_data_dir / schema.ADVERTISER_CATALOG).unlink()
  v = vocabulary.read_vocabularies(str(tiny_data_dir))
  assert v.catalog is None
  assert v.candidate_ids() == ["a", "b", "c"]


def test_malformed_frequencies_name_the_line(tiny_data_dir):
  path = tiny_data_dir / schema.CANDIDATE_FREQUENCIES
  path.write_text("a\t2\t0.5\nb\tmany\t0.5\n")
  with pytest.raises(schema.SchemaError, match=r"candidate_frequencies.tsv:2"):
    vocabulary.read_vocabularies(str(tiny_data_dir))


def test_missing_vocabulary_file(tiny_data_dir):
  (tiny_data_dir / schema.VOCAB_DIR / (schema.ITEM_ID +
                                       schema.VOCAB_SUFFIX)).unlink()
  with pytest.raises(schema.SchemaError, match="is missing"):
    vocabulary.read_vocabularies(str(tiny_data_dir))


def test_catalog_with_another_header(tiny_data_dir):
  (tiny_data_dir / schema.ADVERTISER_CATALOG).write_text("id\tkind\na\tx\n")
  with pytest.raises(schema.SchemaError, match="header"):
    vocabulary.read_vocabularies(str(tiny_data_dir))


def test_catalog_with_text_in_a_numeric_column(tiny_data_dir):
  path = tiny_data_dir / schema.ADVERTISER_CATALOG
  path.write_text(f"{schema.CATALOG_ADVERTISER_ID}\t{schema.CATALOG_CATEGORY}"
                  "\tbudget\na\tshoes\tlots\n")
  with pytest.raises(schema.SchemaError, match="not a number"):
    vocabulary.read_vocabularies(str(tiny_data_dir))

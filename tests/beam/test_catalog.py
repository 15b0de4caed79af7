"""The advertiser catalog: validation, dead letters, the TSV file."""

import json

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam import catalog
from beam import rows
from tfrs_adcg import schema

CATALOG_CSV = """\
advertiser_id,category,avg_price,num_items
a2,toys,3.5,
a1,travel,10,4
a3,travel,x,1
,toys,1,1
a4,toys,1
a2,toys,9,9
"""


def test_read_catalog_validates_rows(tmp_path):
  path = tmp_path / "advertisers.csv"
  path.write_text(CATALOG_CSV)
  read_catalog = catalog.ReadAdvertiserCatalog(str(path))
  assert read_catalog.numeric_columns == ["avg_price", "num_items"]
  with test_pipeline.TestPipeline() as pipeline:
    result = pipeline | read_catalog
    assert_that(result.advertisers, equal_to([
        ("a1", "travel", ("10", "4")), ("a2", "toys", ("3.5", ""))]),
                label="Advertisers")
    assert_that(result.dead_letters, equal_to([
        (catalog.CATALOG_BAD_NUMBER, "a3,travel,x,1"),
        (catalog.CATALOG_MISSING_ADVERTISER_ID, ",toys,1,1"),
        (catalog.CATALOG_MALFORMED_ROW, "a4,toys,1"),
        (catalog.CATALOG_DUPLICATE_ADVERTISER_ID, "a2,toys,9,9"),
    ]), label="DeadLetters")
    assert_that(result.counts | beam.CombinePerKey(sum), equal_to([
        (catalog.CATALOG_ROWS_READ, 6), (catalog.CATALOG_ADVERTISERS, 2),
        ("catalog_rows_dropped/catalog_bad_number", 1),
        ("catalog_rows_dropped/catalog_missing_advertiser_id", 1),
        ("catalog_rows_dropped/catalog_malformed_row", 1),
        ("catalog_rows_dropped/catalog_duplicate_advertiser_id", 1),
    ]), label="Counts")
    assert_that(result.advertisers | catalog.CountCategories(),
                equal_to([((schema.CATALOG_CATEGORY, "travel"), 1),
                          ((schema.CATALOG_CATEGORY, "toys"), 1)]),
                label="Categories")


def test_parquet_catalog_without_category(tmp_path):
  path = tmp_path / "advertisers.parquet"
  pq.write_table(pa.table({"score": [0.5, None], "advertiser_id": ["a1", "a2"],
                           "flag": [True, False]}), path)
  read_catalog = catalog.ReadAdvertiserCatalog(str(path))
  assert read_catalog.numeric_columns == ["score", "flag"]
  with test_pipeline.TestPipeline() as pipeline:
    result = pipeline | read_catalog
    assert_that(result.advertisers, equal_to([
        ("a1", "", ("0.5", "1")), ("a2", "", ("", "0"))]))


def test_write_catalog_sorted_with_header(tmp_path):
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | beam.Create([("a2", "toys", ("3.5", "")),
                        ("a1", "travel", ("10", "4"))])
         | catalog.WriteAdvertiserCatalog(str(tmp_path),
                                          ["avg_price", "num_items"]))
  path = tmp_path / schema.ADVERTISER_CATALOG
  assert path.read_text().splitlines() == [
      "advertiser_id\tcategory\tavg_price\tnum_items",
      "a1\ttravel\t10\t4", "a2\ttoys\t3.5\t"]


def test_catalog_without_id_column_fails_fast(tmp_path):
  path = tmp_path / "advertisers.jsonl"
  path.write_text(json.dumps({"id": "a1"}) + "\n")
  with pytest.raises(rows.InputError, match="advertiser_id"):
    catalog.ReadAdvertiserCatalog(str(path))

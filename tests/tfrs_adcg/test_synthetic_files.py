"""Tests of the synthetic files: rows, catalog tables and their encodings."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfrs_adcg import schema
from tfrs_adcg import synthetic_catalog
from tfrs_adcg import synthetic_events
from tfrs_adcg import synthetic_files


@pytest.mark.parametrize("file_format", sorted(synthetic_files.FORMATS))
def test_write_table_encodes_vectors_per_format(tmp_path, file_format):
  path = str(tmp_path / f"t.{synthetic_files.FORMATS[file_format]}")
  vectors = np.array([[0.5, -1.25], [2.0, 0.0]])
  synthetic_files.write_table(path, {
      "id": np.array(["a", "é"], dtype=object),
      "price": np.array([1.5, 2.0]),
      "vector": vectors,
  }, file_format)
  if file_format == "parquet":
    table = pq.read_table(path)
    assert table.schema.field("vector").type == pa.list_(pa.float32())
    assert table.to_pydict() == {"id": ["a", "é"], "price": [1.5, 2.0],
                                 "vector": vectors.tolist()}
    return
  with open(path, encoding="utf-8") as f:
    text = f.read()
  if file_format == "csv":
    assert text == ('id,price,vector\na,1.5,"[0.5, -1.25]"\n'
                    'é,2.0,"[2.0, 0.0]"\n')
  else:
    assert [json.loads(line) for line in text.splitlines()] == [
        {"id": "a", "price": 1.5, "vector": [0.5, -1.25]},
        {"id": "é", "price": 2.0, "vector": [2.0, 0.0]}]
    assert "é" in text  # Written as is, not escaped.


def test_event_rows_name_the_events_in_hourly_shuffled_batches():
  hour = 3600
  seconds = np.array([0, 10, 20, hour + 5, 30, 2 * hour, hour + 1]) + 1767225600
  events = synthetic_events.Events(
      user=np.array([0, 0, 0, 0, 11, 11, 11]),
      seconds=seconds,
      event_type=np.array([0, 1, 2, 3, 0, 0, 0]),
      item=np.array([3, 3, 3, -1, 120, 5, 7]),
      advertiser=np.array([0, 0, 0, 0, 1, 1, 1]),
      journey=np.array([0, 0, 0, 0, 1, 1, 2]))
  rows = synthetic_files.event_rows(events, np.random.default_rng(0),
                                    users=12, advertisers=2, items=121)
  assert list(rows) == list(schema.RAW_COLUMNS)
  times = rows[schema.RAW_TIMESTAMP].tolist()
  # Hour by hour; within an hour in any order.
  assert [t[11:13] for t in times] == ["00"] * 4 + ["01"] * 2 + ["02"]
  assert sorted(times[:4]) == [f"2026-01-01T00:00:{s}Z"
                               for s in ("00", "10", "20", "30")]
  by_time = dict(zip(times, zip(*(rows[c].tolist() for c in (
      schema.RAW_USER_ID, schema.RAW_EVENT_TYPE, schema.RAW_ITEM_ID,
      schema.RAW_ADVERTISER_ID)))))
  assert by_time["2026-01-01T00:00:20Z"] == ("user_00", "checkout",
                                             "item_003", "adv_0")
  assert by_time["2026-01-01T01:00:05Z"] == ("user_00", "signup", "", "adv_0")
  assert by_time["2026-01-01T00:00:30Z"] == ("user_11", "view", "item_120",
                                             "adv_1")


def test_catalog_tables_summarise_advertisers_and_items():
  catalog = synthetic_catalog.make_catalog(8, 30, 40,
                                           np.random.default_rng(1))
  advertisers, items = synthetic_files.catalog_tables(catalog, None)
  assert tuple(advertisers) == synthetic_files.ADVERTISER_COLUMNS
  assert tuple(items) == synthetic_files.ITEM_COLUMNS
  assert advertisers[schema.CATALOG_ADVERTISER_ID][0] == "adv_0"
  assert items[schema.CATALOG_ITEM_ID][29] == "item_29"
  assert advertisers[synthetic_files.NUM_ITEMS].sum() == 30
  for advertiser in range(8):
    own = catalog.item_advertiser == advertiser
    assert advertisers[synthetic_files.NUM_ITEMS][advertiser] == own.sum()
    assert advertisers[synthetic_files.AVG_PRICE][advertiser] == (
        pytest.approx(items[schema.CATALOG_PRICE][own].mean(), abs=0.005))
  embedded = synthetic_files.catalog_tables(catalog, np.ones((30, 2)))[1]
  assert list(embedded) == list(items) + [schema.CATALOG_EMBEDDING]

"""The synthetic world as files: the event log and the two catalogs.

Users, advertisers and items are named ``user_007``, ``adv_012`` and
``item_0345`` (zero padded to one width per kind). Events are written in
hourly batches, shuffled within the hour, as real logs are: sorted by neither
user nor time. Every file is a CSV with header, JSON Lines or Parquet
(``FORMATS``); the item catalog's pretrained embedding is a
``list<float32>`` column in Parquet, a list of numbers in JSON Lines and the
text of a JSON list in CSV.
"""

import csv
import json
from typing import Dict, Optional, Tuple

import numpy as np

from tfrs_adcg import schema
from tfrs_adcg.synthetic_catalog import Catalog
from tfrs_adcg.synthetic_events import EVENT_TYPES
from tfrs_adcg.synthetic_events import Events

FORMATS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}

# Catalog columns besides those named in schema.
AVG_PRICE = "avg_price"
NUM_ITEMS = "num_items"
BRAND_STRENGTH = "brand_strength"
ADVERTISER_COLUMNS = (schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY,
                      AVG_PRICE, NUM_ITEMS, BRAND_STRENGTH)
# The item catalog ends with schema.CATALOG_EMBEDDING if it has embeddings.
ITEM_COLUMNS = (schema.CATALOG_ITEM_ID, schema.CATALOG_ADVERTISER_ID,
                schema.CATALOG_CATEGORY, schema.CATALOG_PRICE)


def _padded_ids(prefix: str, n: int) -> np.ndarray:
  """``prefix_00..`` ids for 0..n-1 as an object array, zero padded."""
  width = len(str(n - 1))
  return np.array([f"{prefix}_{i:0{width}d}" for i in range(n)], dtype=object)


def event_rows(events: Events, rng: np.random.Generator, *, users: int,
               advertisers: int, items: int) -> Dict[str, np.ndarray]:
  """The events as object columns [N] of ``schema.RAW_COLUMNS``, in hourly
  shuffled batches; timestamps in ISO-8601 (UTC) to the second."""
  order = np.lexsort((rng.random(len(events.user)), events.seconds // 3600))
  # Item -1 (a signup's) indexes the appended empty id.
  item_ids = np.append(_padded_ids("item", items), schema.STRING_PAD)
  times = np.datetime_as_string(
      events.seconds[order].astype("datetime64[s]"), unit="s",
      timezone="UTC").astype(object)
  return {
      schema.RAW_USER_ID: _padded_ids("user", users)[events.user[order]],
      schema.RAW_TIMESTAMP: times,
      schema.RAW_EVENT_TYPE: np.array(EVENT_TYPES,
                                      dtype=object)[events.event_type[order]],
      schema.RAW_ITEM_ID: item_ids[events.item[order]],
      schema.RAW_ADVERTISER_ID: _padded_ids(
          "adv", advertisers)[events.advertiser[order]],
  }


def catalog_tables(
    catalog: Catalog, item_embeddings: Optional[np.ndarray]
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
  """The advertiser and item catalogs as columns.

  Args:
    catalog: The catalog, of A advertisers and I items.
    item_embeddings: [I, E] pretrained vectors, or None for none.

  Returns:
    Columns [A] of ``ADVERTISER_COLUMNS`` and columns [I] of
    ``ITEM_COLUMNS`` (then ``schema.CATALOG_EMBEDDING`` [I, E]).
  """
  num_advertisers = len(catalog.partner)
  advertiser_ids = _padded_ids("adv", num_advertisers)
  num_items = np.bincount(catalog.item_advertiser, minlength=num_advertisers)
  avg_price = np.round(
      np.bincount(catalog.item_advertiser, catalog.item_price,
                  num_advertisers) / num_items, 2)
  advertisers = dict(
      zip(ADVERTISER_COLUMNS, (
          advertiser_ids,
          catalog.category_names[catalog.advertiser_category],
          avg_price,
          num_items.astype(np.int64),
          catalog.brand_strength,
      )))
  items = dict(
      zip(ITEM_COLUMNS, (
          _padded_ids("item", len(catalog.item_advertiser)),
          advertiser_ids[catalog.item_advertiser],
          catalog.category_names[
              catalog.advertiser_category[catalog.item_advertiser]],
          catalog.item_price,
      )))
  if item_embeddings is not None:
    items[schema.CATALOG_EMBEDDING] = item_embeddings
  return advertisers, items


def _arrow_array(values: np.ndarray):
  """A column as an Arrow array; a 2-D one as list<float32>, a list a row."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top

  if values.ndim == 2:
    offsets = np.arange(0, values.size + 1, values.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values.astype(np.float32).ravel()))
  return pa.array(values.tolist() if values.dtype == object else values)


def _text_values(values: np.ndarray, file_format: str) -> list:
  """A column as Python values; a 2-D column's rows as lists, JSON in CSV."""
  rows = values.tolist()
  if values.ndim == 2 and file_format == "csv":
    encode = json.JSONEncoder().encode
    return [encode(row) for row in rows]
  return rows


def write_table(path: str, columns: Dict[str, np.ndarray],
                file_format: str) -> None:
  """Writes equally long columns as CSV (with header), JSON Lines or Parquet.

  A 2-D column holds a vector a row: list<float32> in Parquet, a list of
  numbers in JSON Lines, the text of a JSON list in CSV.
  """
  names = list(columns)
  if file_format == "parquet":
    import pyarrow as pa  # pylint: disable=g-import-not-at-top
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    table = pa.table({name: _arrow_array(values)
                      for name, values in columns.items()})
    pq.write_table(table, path)
    return
  values = [_text_values(column, file_format) for column in columns.values()]
  with open(path, "w", newline="", encoding="utf-8") as f:
    if file_format == "csv":
      writer = csv.writer(f, lineterminator="\n")
      writer.writerow(names)
      writer.writerows(zip(*values))
    else:
      encode = json.JSONEncoder(ensure_ascii=False).encode
      f.writelines(encode(dict(zip(names, row))) + "\n"
                   for row in zip(*values))

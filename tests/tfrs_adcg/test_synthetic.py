"""Tests of generate and the command line: files, determinism, options."""

import collections
import csv
import datetime
import hashlib
import json
import pathlib
import re
from typing import List, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import synthetic_corruption
from tfrs_adcg import synthetic_events
from tfrs_adcg import synthetic_files

FORMATS = sorted(synthetic_files.FORMATS)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _generate(out: pathlib.Path, **overrides) -> dict:
  settings = dict(output=str(out), users=120, advertisers=16, items=80,
                  days=14, seed=3)
  settings.update(overrides)
  return synthetic.generate(synthetic.SyntheticConfig(**settings))


def _read(path: str) -> Tuple[List[str], List[dict]]:
  """Column names and rows of a CSV, JSON Lines or Parquet file."""
  if path.endswith(".parquet"):
    table = pq.read_table(path)
    return table.column_names, table.to_pylist()
  with open(path, encoding="utf-8") as f:
    if path.endswith(".csv"):
      reader = csv.DictReader(f)
      return list(reader.fieldnames), list(reader)
    rows = [json.loads(line) for line in f]
  return list(rows[0]), rows


def _epoch(timestamp: str) -> int:
  return int(datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z")
             .timestamp())


@pytest.mark.parametrize("file_format", FORMATS)
def test_same_seed_writes_same_bytes(tmp_path, file_format):
  first = _generate(tmp_path / "a", file_format=file_format)
  second = _generate(tmp_path / "b", file_format=file_format)
  other = _generate(tmp_path / "c", file_format=file_format, seed=4)
  for name, path in first["paths"].items():
    assert (pathlib.Path(path).read_bytes() ==
            pathlib.Path(second["paths"][name]).read_bytes()), name
  assert (pathlib.Path(first["paths"][synthetic.EVENTS]).read_bytes() !=
          pathlib.Path(other["paths"][synthetic.EVENTS]).read_bytes())


@pytest.mark.parametrize("file_format", FORMATS)
def test_files_have_the_raw_and_catalog_columns(tmp_path, file_format):
  summary = _generate(tmp_path, file_format=file_format)
  paths = summary["paths"]
  for name in (synthetic.EVENTS, synthetic.ADVERTISERS, synthetic.ITEMS):
    assert paths[name].endswith("." + synthetic_files.FORMATS[file_format])

  columns, events = _read(paths[synthetic.EVENTS])
  assert tuple(columns) == schema.RAW_COLUMNS
  assert len(events) == summary["events"]
  assert collections.Counter(
      row[schema.RAW_EVENT_TYPE] for row in events) == collections.Counter(
          {t: n for t, n in summary["event_types"].items() if n})
  for row in events:
    assert all(isinstance(value, str) for value in row.values())
    assert ISO_UTC.match(row[schema.RAW_TIMESTAMP]), row
    assert row[schema.RAW_USER_ID] and row[schema.RAW_ADVERTISER_ID], row
    is_signup = row[schema.RAW_EVENT_TYPE] == synthetic_events.SIGNUP
    assert (row[schema.RAW_ITEM_ID] == schema.STRING_PAD) == is_signup, row

  columns, advertisers = _read(paths[synthetic.ADVERTISERS])
  assert tuple(columns) == synthetic_files.ADVERTISER_COLUMNS
  assert columns[:2] == [schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY]
  assert len(advertisers) == 16
  for row in advertisers:
    for name in columns[2:]:  # Numeric features of the candidate tower.
      assert float(row[name]) >= 0.0, (name, row)
  columns, items = _read(paths[synthetic.ITEMS])
  assert tuple(columns) == synthetic_files.ITEM_COLUMNS
  assert len(items) == 80
  assert all(float(row[schema.CATALOG_PRICE]) > 0 for row in items)


def test_events_refer_to_catalog_advertisers_and_items(synthetic_dir):
  _, events = _read(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
  _, advertisers = _read(str(synthetic_dir / f"{synthetic.ADVERTISERS}.csv"))
  _, items = _read(str(synthetic_dir / f"{synthetic.ITEMS}.csv"))
  category = {row[schema.CATALOG_ADVERTISER_ID]: row[schema.CATALOG_CATEGORY]
              for row in advertisers}
  advertiser_of_item = {
      row[schema.RAW_ITEM_ID]: row[schema.CATALOG_ADVERTISER_ID]
      for row in items}
  for row in items:
    assert (row[schema.CATALOG_CATEGORY] ==
            category[row[schema.CATALOG_ADVERTISER_ID]])
  items_per_advertiser = collections.Counter(advertiser_of_item.values())
  for row in advertisers:
    assert (int(row[synthetic_files.NUM_ITEMS]) ==
            items_per_advertiser[row[schema.CATALOG_ADVERTISER_ID]])
  for row in events:
    assert row[schema.RAW_ADVERTISER_ID] in category
    if row[schema.RAW_ITEM_ID]:
      assert (advertiser_of_item[row[schema.RAW_ITEM_ID]] ==
              row[schema.RAW_ADVERTISER_ID]), row
  assert len({row[schema.RAW_USER_ID] for row in events}) == 600


def _corruption_kinds(rows: List[dict], start: int, end: int) -> List[str]:
  """The corruption kind of each row (or "" for a valid row), found anew."""
  kinds, seen = [], set()
  for row in rows:
    timestamp = row[schema.RAW_TIMESTAMP]
    try:
      seconds = _epoch(timestamp) if ISO_UTC.match(timestamp) else None
    except ValueError:
      seconds = None
    key = tuple(row[name] for name in schema.RAW_COLUMNS)
    if seconds is None:
      kinds.append(schema.BAD_TIMESTAMP)
    elif not start <= seconds < end:
      kinds.append(schema.TIMESTAMP_OUT_OF_RANGE)
    elif not row[schema.RAW_USER_ID]:
      kinds.append(schema.MISSING_USER_ID)
    elif not row[schema.RAW_ADVERTISER_ID]:
      kinds.append(schema.MISSING_ADVERTISER_ID)
    elif row[schema.RAW_EVENT_TYPE] not in synthetic_events.EVENT_TYPES:
      kinds.append(schema.UNKNOWN_EVENT_TYPE)
    elif key in seen:
      kinds.append(schema.DUPLICATE)
    else:
      kinds.append("")
    seen.add(key)
  return kinds


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_corruptions_are_counted_and_leave_valid_rows_intact(
    tmp_path, file_format):
  clean = _generate(tmp_path / "clean", file_format=file_format)
  dirty = _generate(tmp_path / "dirty", file_format=file_format,
                    corrupt_fraction=0.06)
  start = _epoch("2026-01-01T00:00:00Z")
  end = start + 14 * 86400

  with open(clean["paths"][synthetic.CORRUPTIONS], encoding="utf-8") as f:
    assert json.load(f) == {
        kind: 0 for kind in synthetic_corruption.CORRUPTION_KINDS}
  _, clean_rows = _read(clean["paths"][synthetic.EVENTS])
  assert set(_corruption_kinds(clean_rows, start, end)) == {""}

  with open(dirty["paths"][synthetic.CORRUPTIONS], encoding="utf-8") as f:
    assert json.load(f) == dirty["corruptions"]
  _, dirty_rows = _read(dirty["paths"][synthetic.EVENTS])
  kinds = _corruption_kinds(dirty_rows, start, end)
  found = collections.Counter(kind for kind in kinds if kind)
  assert found == dirty["corruptions"]
  assert set(found) == set(synthetic_corruption.CORRUPTION_KINDS)
  assert dirty["rows"] == len(dirty_rows) == len(clean_rows) + sum(
      found.values())
  assert sum(found.values()) == pytest.approx(0.06 * len(clean_rows), abs=6)
  assert [row for row, kind in zip(dirty_rows, kinds) if not kind] == clean_rows


def test_main_prints_a_summary_and_validates_arguments(tmp_path, capsys):
  summary = synthetic.main([
      "--output", str(tmp_path), "--users", "30", "--advertisers", "5",
      "--items", "10", "--days", "3", "--format", "jsonl",
      "--start", "2025-06-01", "--corrupt_fraction", "0.1"])
  printed = capsys.readouterr().out
  assert f"Wrote {summary['events']} events" in printed
  assert f"view={summary['event_types']['view']}" in printed
  assert (tmp_path / "events.jsonl").exists()
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  assert min(row[schema.RAW_TIMESTAMP] for row in rows
             if row[schema.RAW_TIMESTAMP].startswith("2025-")) >= "2025-06-01"

  for bad in (["--items", "3"], ["--format", "xml"], ["--start", "soon"],
              ["--corrupt_fraction", "1.5"]):
    with pytest.raises(SystemExit):
      synthetic.main(["--output", str(tmp_path / "bad"), "--advertisers", "5",
                      *bad])
  with pytest.raises(ValueError, match="--items"):
    synthetic.SyntheticConfig(output=str(tmp_path), advertisers=10, items=5)


# Digests of the files of the generative model as it is, written with the item
# embedding and cold start options at their defaults (off): those options
# leave every byte as it was without them. A change of the generative model
# changes these digests, deliberately: the session fixtures and the tests
# above rely on these bytes.
_PINNED_SHA256 = {
    "csv": {
        synthetic.EVENTS:
            "97a35292d252ca2db8441f1869aeae261f0f5607825b8962d558ceaac7be72c0",
        synthetic.ADVERTISERS:
            "60bc75db763f4b24032eb889f9feced06c7af594ff987f8012b4e1c35e68abf6",
        synthetic.ITEMS:
            "7b4d323a19b227d5c728589fbce327f14779c604244ef12e7b303425cdee568c",
    },
    "jsonl": {
        synthetic.EVENTS:
            "4397aad2a37adea05393bbd0ebef7fc890203fc9be65926aa53c5142de672dc3",
        synthetic.ADVERTISERS:
            "cf6144c8b5c3481dbaff2484857931098ca53b449d4bc2c7c17f8f02f2554b39",
        synthetic.ITEMS:
            "a86394eb11f570acd2b2913221db86ae62804649e2c12e0b09a10d96e1592f9f",
    },
}


@pytest.mark.parametrize("file_format", sorted(_PINNED_SHA256))
def test_new_options_at_their_defaults_write_the_pinned_bytes(
    tmp_path, file_format):
  summary = _generate(tmp_path, file_format=file_format, corrupt_fraction=0.05,
                      item_embedding_dim=0, cold_start_fraction=0.0)
  for name, digest in _PINNED_SHA256[file_format].items():
    data = pathlib.Path(summary["paths"][name]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest, name
  assert synthetic.COLD_START not in summary["paths"]
  assert summary["cold_start_items"] == [] and summary["eval_cutoff"] is None


def _embeddings(rows: List[dict]) -> np.ndarray:
  """The embedding column of catalog rows: list, or JSON list text (CSV)."""
  return np.array([
      json.loads(v) if isinstance(v, str) else v
      for v in (row[schema.CATALOG_EMBEDDING] for row in rows)],
                  dtype=np.float32)


@pytest.mark.parametrize("file_format", FORMATS)
def test_item_embeddings_are_a_column_and_leave_the_rest_unchanged(
    tmp_path, file_format):
  plain = _generate(tmp_path / "plain", file_format=file_format)
  summary = _generate(tmp_path / "embedded", file_format=file_format,
                      item_embedding_dim=6)
  assert (pathlib.Path(summary["paths"][synthetic.EVENTS]).read_bytes() ==
          pathlib.Path(plain["paths"][synthetic.EVENTS]).read_bytes())
  columns, items = _read(summary["paths"][synthetic.ITEMS])
  assert tuple(columns) == (synthetic_files.ITEM_COLUMNS +
                            (schema.CATALOG_EMBEDDING,))
  _, plain_items = _read(plain["paths"][synthetic.ITEMS])
  assert [{k: v for k, v in row.items() if k != schema.CATALOG_EMBEDDING}
          for row in items] == plain_items
  embeddings = _embeddings(items)
  assert embeddings.shape == (80, 6) and np.isfinite(embeddings).all()
  if file_format == "parquet":
    assert pq.read_schema(summary["paths"][synthetic.ITEMS]).field(
        schema.CATALOG_EMBEDDING).type == pa.list_(pa.float32())
  # All formats carry the same float32 values.
  parquet = _generate(tmp_path / "parquet", file_format="parquet",
                      item_embedding_dim=6)
  _, parquet_items = _read(parquet["paths"][synthetic.ITEMS])
  np.testing.assert_array_equal(embeddings, _embeddings(parquet_items))


@pytest.mark.parametrize("file_format", FORMATS)
def test_same_seed_with_the_new_options_writes_same_bytes(tmp_path,
                                                           file_format):
  options = dict(file_format=file_format, item_embedding_dim=4,
                 cold_start_fraction=0.2)
  first = _generate(tmp_path / "a", **options)
  second = _generate(tmp_path / "b", **options)
  other = _generate(tmp_path / "c", seed=4, **options)
  assert set(first["paths"]) == {synthetic.EVENTS, synthetic.ADVERTISERS,
                                 synthetic.ITEMS, synthetic.CORRUPTIONS,
                                 synthetic.COLD_START}
  for name, path in first["paths"].items():
    assert (pathlib.Path(path).read_bytes() ==
            pathlib.Path(second["paths"][name]).read_bytes()), name
  for name in (synthetic.ITEMS, synthetic.COLD_START):
    assert (pathlib.Path(first["paths"][name]).read_bytes() !=
            pathlib.Path(other["paths"][name]).read_bytes()), name


def test_new_options_are_validated(tmp_path):
  for bad in (["--item_embedding_dim", "-1"],
              ["--cold_start_fraction", "1.0"],
              ["--cold_start_fraction", "0.9"],  # Advertisers keep an item.
              ["--cold_start_fraction", "0.1", "--days", "7"]):
    with pytest.raises(SystemExit):
      synthetic.main(["--output", str(tmp_path), "--advertisers", "5",
                      "--items", "20", "--days", "14", *bad])
  with pytest.raises(ValueError, match="needs an item sold before"):
    synthetic.SyntheticConfig(output=str(tmp_path), advertisers=5, items=20,
                              cold_start_fraction=0.9)
  summary = synthetic.main([
      "--output", str(tmp_path), "--users", "40", "--advertisers", "5",
      "--items", "20", "--days", "14", "--item_embedding_dim", "3",
      "--cold_start_fraction", "0.25", "--format", "jsonl"])
  assert len(summary["cold_start_items"]) == 5
  _, items = _read(summary["paths"][synthetic.ITEMS])
  assert _embeddings(items).shape == (20, 3)

"""Tests of the malformed rows added to the synthetic event log."""

import collections

import numpy as np

from tfrs_adcg import schema
from tfrs_adcg import timestamps
from tfrs_adcg.synthetic_corruption import CORRUPTION_KINDS
from tfrs_adcg.synthetic_corruption import corrupt

_START = timestamps.parse_timestamp("2026-01-01")


def _rows(n: int):
  """n valid rows, one a minute from _START."""
  return {
      schema.RAW_USER_ID: np.array([f"u{i % 7}" for i in range(n)], object),
      schema.RAW_TIMESTAMP: np.array(
          [timestamps.to_iso(_START + 60 * i) for i in range(n)], object),
      schema.RAW_EVENT_TYPE: np.array(["view"] * n, object),
      schema.RAW_ITEM_ID: np.array([f"i{i}" for i in range(n)], object),
      schema.RAW_ADVERTISER_ID: np.array(["a"] * n, object),
  }


def _kind(row: tuple, seen: set) -> str:
  """The dead-letter reason of a row, as preprocessing would find it."""
  user, timestamp, event_type, _, advertiser = row
  try:
    seconds = timestamps.parse_timestamp(timestamp, timestamps.ISO)
  except ValueError:
    return schema.BAD_TIMESTAMP
  if not _START <= seconds < _START + timestamps.DAY_SECONDS:
    return schema.TIMESTAMP_OUT_OF_RANGE
  if not user:
    return schema.MISSING_USER_ID
  if not advertiser:
    return schema.MISSING_ADVERTISER_ID
  if event_type != "view":
    return schema.UNKNOWN_EVENT_TYPE
  return schema.DUPLICATE if row in seen else ""


def test_corrupt_adds_counted_kinds_next_to_intact_valid_rows():
  rows = _rows(600)
  counts = corrupt(rows, 0.06, np.random.default_rng(0))
  assert counts == {kind: 6 for kind in CORRUPTION_KINDS}
  table = list(zip(*(rows[name].tolist() for name in schema.RAW_COLUMNS)))
  assert len(table) == 636
  kinds, seen = [], set()
  for row in table:
    kinds.append(_kind(row, seen))
    seen.add(row)
  assert collections.Counter(k for k in kinds if k) == counts
  assert [row for row, kind in zip(table, kinds) if not kind] == list(
      zip(*(_rows(600)[name].tolist() for name in schema.RAW_COLUMNS)))
  # A copy lands right after its original (items are unique to a valid row).
  original = None
  for row, kind in zip(table, kinds):
    if kind:
      assert row[3] == original, row
    else:
      original = row[3]


def test_corrupt_with_no_fraction_adds_nothing():
  rows = _rows(10)
  assert corrupt(rows, 0.0, np.random.default_rng(0)) == {
      kind: 0 for kind in CORRUPTION_KINDS}
  for name, values in _rows(10).items():
    assert rows[name].tolist() == values.tolist()
  tiny = _rows(3)
  assert set(corrupt(tiny, 0.01, np.random.default_rng(0)).values()) == {1}
  assert len(tiny[schema.RAW_USER_ID]) == 3 + len(CORRUPTION_KINDS)

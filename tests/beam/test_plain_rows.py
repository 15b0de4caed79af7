"""Plain CSV rows found and split column by column."""

import numpy as np
import pyarrow as pa
import pytest

from beam import plain_rows
from tfrs_adcg import timestamps
from tests.beam.raw_rows import EVENT_TYPES, MAX_TIME, MIN_TIME


def test_canonical_times_are_those_of_to_iso():
  rng = np.random.default_rng(0)
  seconds = np.concatenate([
      rng.integers(-62_135_596_800, 253_402_300_800, 2000),
      [-62_135_596_800, 253_402_300_799, 0, 951_782_400, 951_868_800]])
  canonical, parsed = plain_rows.canonical_times(
      pa.array([timestamps.to_iso(int(second)) for second in seconds]))
  assert canonical.all()
  assert parsed.tolist() == seconds.tolist()


@pytest.mark.parametrize("text", [
    "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:00:60Z",
    "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z",
    "0000-01-01T00:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00z",
    "2026-01-01T00:00:0aZ", "\u0662026-01-01T00:00:00Z",
    " 2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00",
    "2026-01-01T00:00:00.5Z", "1767225600", ""])
def test_other_times_are_not_canonical(text):
  canonical, _ = plain_rows.canonical_times(
      pa.array(["2026-01-01T00:00:00Z", text, "2024-02-29T23:59:59Z"]))
  assert canonical.tolist() == [True, False, True]


def test_plain_rows_are_split_and_the_others_left():
  raw_rows = [
      "u1,2026-01-01T00:00:00Z,view,i1,a1",
      "u1,2026-01-01T00:00:00+00:00,view,i1,a1",  # Another form.
      'u2,2026-01-01T00:00:01Z,"view",i2,a2',  # Quoted.
      "u2,2026-01-01T00:00:01Z,view,,a2",  # No item: plain.
      "u3,2026-01-01T00:00:02Z,view,i3",  # Four fields.
      "u3,2026-01-01T00:00:02Z,view,i3\t,a3",  # A tab.
      ",2026-01-01T00:00:02Z,view,i3,a3",  # No user.
      "u3,2026-01-01T00:00:02Z,view,i3,",  # No advertiser.
      "u3,2026-01-01T00:00:02Z,click,i3,a3",  # Unknown type.
      "u3,2019-12-31T23:59:59Z,view,i3,a3",  # Before MIN_TIME.
      "u4,2026-01-02T00:00:00Z,checkout,i4,a4",
  ]
  found = plain_rows.find_plain_rows(raw_rows, EVENT_TYPES, MIN_TIME,
                                     MAX_TIME)
  assert found.positions.tolist() == [0, 3, 10]
  assert found.others.tolist() == [1, 2, 4, 5, 6, 7, 8, 9]
  assert found.users.to_pylist() == ["u1", "u2", "u4"]
  assert found.timestamps.tolist() == [
      timestamps.parse_timestamp(time) for time in
      ("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-02T00:00:00Z")]
  assert found.event_types.to_pylist() == ["view", "view", "checkout"]
  assert found.items.to_pylist() == ["i1", "", "i4"]
  assert found.advertisers.to_pylist() == ["a1", "a2", "a4"]


def test_a_batch_without_plain_rows():
  found = plain_rows.find_plain_rows(["", "a,b", '"'], EVENT_TYPES, MIN_TIME,
                                     MAX_TIME)
  assert found.positions.tolist() == [] and found.users.to_pylist() == []
  assert found.others.tolist() == [0, 1, 2]

"""Timestamps parse from every accepted form to the same epoch second."""

import pickle

import pytest

from tfrs_adcg import timestamps


@pytest.mark.parametrize("value", [
    "2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00",
    "2026-01-02T04:04:05+01:00", "2026-01-02 03:04:05", 1767323045,
    "1767323045", 1767323045.7])
def test_forms_agree(value):
  assert timestamps.parse_timestamp(value) == 1767323045


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z",
                                   True, "inf", "nan", float("inf")])
def test_rejects_what_is_not_a_time(value):
  with pytest.raises(ValueError):
    timestamps.parse_timestamp(value)


def test_to_iso_inverts_parse():
  assert timestamps.to_iso(1767323045) == "2026-01-02T03:04:05Z"
  assert timestamps.parse_timestamp(timestamps.to_iso(86399)) == 86399


@pytest.mark.parametrize("value, unit", [
    (1767323045123, timestamps.MILLISECONDS),
    ("1767323045123", timestamps.MILLISECONDS),
    (1767323045123456, timestamps.MICROSECONDS),
    ("1767323045123456", timestamps.MICROSECONDS),
    (1767323045.123, timestamps.SECONDS),
    ("2026-01-02T03:04:05.123Z", timestamps.MILLISECONDS),
    ("2026-01-02T03:04:05.123456+00:00", timestamps.SECONDS)])
def test_epoch_numbers_in_each_unit_parse_to_milliseconds(value, unit):
  assert timestamps.parse_timestamp_ms(value, unit) == 1767323045123
  assert timestamps.parse_timestamp(value, unit) == 1767323045


@pytest.mark.parametrize("value", [{"t": 1}, [1], None, False, "nan"])
def test_parse_timestamp_ms_refuses_what_is_no_time(value):
  with pytest.raises(ValueError):
    timestamps.parse_timestamp_ms(value, timestamps.MILLISECONDS)


def test_iso_unit_refuses_epoch_numbers():
  with pytest.raises(ValueError, match="ISO-8601"):
    timestamps.parse_timestamp_ms(1767323045, timestamps.ISO)
  assert timestamps.parse_timestamp_ms("2026-01-02T03:04:05Z",
                                       timestamps.ISO) == 1767323045000


def test_detect_unit_by_magnitude():
  assert timestamps.detect_unit(["1767323045", 1767323046]) == (
      timestamps.SECONDS)
  assert timestamps.detect_unit([1767323045123, "x"]) == (
      timestamps.MILLISECONDS)
  assert timestamps.detect_unit(["1767323045123456"]) == (
      timestamps.MICROSECONDS)
  assert timestamps.detect_unit(["2026-01-02T03:04:05Z", None, True]) is None


def test_event_times_are_seconds_that_order_by_milliseconds():
  whole = timestamps.event_time(1767323045000)
  assert type(whole) is int and whole == 1767323045  # pylint: disable=unidiomatic-typecheck
  early, late = (timestamps.event_time(1767323045100),
                 timestamps.event_time(1767323045900))
  assert isinstance(late, timestamps.Instant)
  assert int(early) == int(late) == 1767323045 and late - 5 == 1767323040
  assert whole < early < late < 1767323046 and late > whole
  assert early != late and early != whole and early == timestamps.event_time(
      1767323045100)
  assert sorted([(late, "view"), (early, "view"), (whole, "z")]) == [
      (whole, "z"), (early, "view"), (late, "view")]
  assert len({early, late, whole, timestamps.event_time(1767323045100)}) == 3
  assert pickle.loads(pickle.dumps(late)) == late


def test_milliseconds_of_event_times_and_whole_seconds():
  for milliseconds in (1767323045000, 1767323045100, 1767323045999):
    assert timestamps.milliseconds(
        timestamps.event_time(milliseconds)) == milliseconds
  assert timestamps.milliseconds(1767323045) == 1767323045000


@pytest.mark.parametrize("value,expected", [
    ("1767323045", 1767323045000), (1767323045123, 1767323045123),
    ("1767323045123456", 1767323045123), ("2026-01-02T03:04:05.5Z",
                                          1767323045500)])
def test_one_time_of_any_unit_to_milliseconds(value, expected):
  assert timestamps.parse_timestamp_any_unit_ms(value) == expected

"""Raw timestamps to event times, and the unit of epoch numbers."""

import datetime

import pytest

from beam import event_times
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps

T1 = timestamps.parse_timestamp("2026-01-01T00:10:42Z")


@pytest.mark.parametrize("value", [
    "2026-01-01T00:10:42Z", "2026-01-01 00:10:42", "2026-01-01T00:10:42",
    "2026-01-01T00:10:42.9Z", "2026-01-01T01:10:42+01:00", "1767226242",
    "1767226242.5", 1767226242, 1767226242.5, "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T+1:00:00Z", "n/a", "", "nan"])
def test_timestamp_parser_agrees_with_parse_timestamp(value):
  parser = event_times.TimestampParser()
  try:
    expected = timestamps.event_time(timestamps.parse_timestamp_ms(value))
  except ValueError:
    expected = None
  for _ in range(2):  # Uncached, then cached.
    try:
      assert parser(value) == expected
    except ValueError:
      assert expected is None


def test_timestamp_parser_takes_parquet_datetimes():
  parser = event_times.TimestampParser()
  moment = datetime.datetime(2026, 1, 1, 0, 10, 42)
  assert parser(moment) == T1
  assert parser(moment.replace(tzinfo=datetime.timezone.utc)) == T1
  with pytest.raises(ValueError):
    parser(None)


@pytest.mark.parametrize("value", [
    "2026-01-01T00:10:42Z", "1970-01-01T00:00:00Z", "0999-12-31T23:59:59Z",
    "2024-02-29T12:00:00Z"])
def test_canonical_times_are_written_back_as_they_were_read(value):
  assert timestamps.to_iso(event_times.TimestampParser()(value)) == value


def test_timestamp_parser_gives_the_same_times_cached():
  parser = event_times.TimestampParser()
  values = ["2026-01-01T00:10:42Z", "2026-01-01 00:10:43",
            "2026-01-01T00:10:44", "2026-01-01 00:10:45Z",
            "2026-01-02T00:10:42Z", "2026-01-01 00:10:43Z"]
  for _ in range(2):  # Parsed, then cached.
    assert [parser(value) for value in values] == [
        timestamps.parse_timestamp(value) for value in values]

def test_resolve_timestamp_unit(tmp_path, caplog):
  header = ",".join(schema.RAW_COLUMNS) + "\n"
  (tmp_path / "s.csv").write_text(header + "u,1767226242,view,,a\n")
  (tmp_path / "us.csv").write_text(header + "u,1767226242000000,view,,a\n")
  (tmp_path / "iso.csv").write_text(header + "u,2026-01-01T00:10:42Z,view,,a\n")
  path = lambda name: str(tmp_path / name)
  with caplog.at_level("INFO"):
    assert event_times.resolve_timestamp_unit(
        [path("iso.csv"), path("us.csv")], rows.CSV,
        timestamps.AUTO) == timestamps.MICROSECONDS
  assert "epoch microseconds, by their magnitude" in caplog.text
  assert event_times.resolve_timestamp_unit(
      [path("iso.csv")], rows.CSV, timestamps.AUTO) == timestamps.SECONDS
  assert event_times.resolve_timestamp_unit(
      [path("us.csv")], rows.CSV, timestamps.MILLISECONDS) == (
          timestamps.MILLISECONDS)
  with pytest.raises(rows.InputError, match=r"us\.csv has timestamps in "
                     r"epoch microseconds, .*s\.csv in epoch seconds"):
    event_times.resolve_timestamp_unit([path("s.csv"), path("us.csv")],
                                       rows.CSV, timestamps.AUTO)

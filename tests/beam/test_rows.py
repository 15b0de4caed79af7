"""Input rows: formats, and raw rows split into the wanted columns."""

import pytest

from beam import rows


def test_infer_format():
  assert rows.infer_format("logs/*.csv") == rows.CSV
  assert rows.infer_format("gs://b/events-*.csv.gz") == rows.CSV
  assert rows.infer_format("x.JSONL") == rows.JSONL
  assert rows.infer_format("x.parquet") == rows.PARQUET
  with pytest.raises(rows.InputError, match="--input_format"):
    rows.infer_format("events.txt")


def test_row_splitter_picks_wanted_columns():
  csv_splitter = rows.RowSplitter(rows.CSV, ["x", "b", "a"], ["a", "b"])
  assert csv_splitter("1,2,3") == ["3", "2"]
  assert csv_splitter('1,"2,5",3') == ["3", "2,5"]
  with pytest.raises(rows.MalformedRow):
    csv_splitter("1,2")
  json_splitter = rows.RowSplitter(rows.JSONL, [], ["a", "b"])
  assert json_splitter('{"a": 1, "c": 2}') == [1, None]
  for bad in ("[1, 2]", "{not json"):
    with pytest.raises(rows.MalformedRow):
      json_splitter(bad)
  parquet_splitter = rows.RowSplitter(rows.PARQUET, ["a", "b"], ["a", "b"])
  assert parquet_splitter((1, None)) == (1, None)
  assert parquet_splitter.to_json((1, None)) == {"a": 1, "b": None}
  assert rows.json_dead_letter(("why", (1, 2)), parquet_splitter) == (
      "why", {"a": 1, "b": 2})


@pytest.mark.parametrize("raw", [
    '1,"' + "x" * 200_000 + '",3',  # Over the csv module's field limit.
    '1,"2"\r3,4',  # A bare CR outside quotes.
    '"'])
def test_rows_the_csv_module_refuses_are_malformed(raw):
  with pytest.raises(rows.MalformedRow):
    rows.RowSplitter(rows.CSV, ["a", "b", "c"], ["a", "c"])(raw)

"""Input files checked on the driver: matches, headers, first rows."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam import input_files
from beam import rows


def test_missing_and_empty_inputs_fail_fast(tmp_path):
  with pytest.raises(rows.InputError, match="matches no file"):
    input_files.match_files(str(tmp_path / "nothing-*.csv"))
  with pytest.raises(rows.InputError, match="--events .* matches no file"):
    input_files.total_bytes(str(tmp_path / "nothing-*.csv"), "--events")
  header_only = tmp_path / "header.csv"
  header_only.write_text("user_id,timestamp\n\n")
  empty = tmp_path / "empty.csv"
  empty.write_text("")
  paths = input_files.match_files(str(tmp_path / "*.csv"))
  assert paths == [str(empty), str(header_only)]
  assert input_files.total_bytes(str(tmp_path / "*.csv")) == len(
      "user_id,timestamp\n\n")
  with pytest.raises(rows.InputError, match="no data row"):
    input_files.require_rows(paths, rows.CSV, "--input")
  with pytest.raises(rows.InputError, match="is empty"):
    input_files.read_columns(str(empty), rows.CSV)


def test_read_columns_of_each_format(tmp_path):
  (tmp_path / "a.csv").write_text("b,a\n1,2\n")
  (tmp_path / "a.jsonl").write_text('\n{"b": 1, "a": 2}\n')
  pq.write_table(pa.table({"b": [1], "a": [2]}), tmp_path / "a.parquet")
  for file_format, name in ((rows.CSV, "a.csv"), (rows.JSONL, "a.jsonl"),
                            (rows.PARQUET, "a.parquet")):
    path = str(tmp_path / name)
    assert input_files.read_columns(path, file_format) == ["b", "a"]
    assert input_files.has_rows(path, file_format)
  with pytest.raises(rows.InputError, match=r"no column\(s\) \['c'\]"):
    input_files.require_columns(["b", "a"], ["a", "c"], "a.csv")


def test_each_csv_file_has_its_own_header(tmp_path):
  (tmp_path / "a.csv").write_text("x,y\n1,2\n")
  (tmp_path / "b.csv").write_bytes("\ufeffy,x\n3,4\n".encode("utf-8"))
  paths = input_files.match_files(str(tmp_path / "*.csv"))
  assert input_files.read_headers(paths, rows.CSV, ["x", "y"]) == {
      str(tmp_path / "a.csv"): ["x", "y"], str(tmp_path / "b.csv"): ["y", "x"]}


def test_a_headerless_csv_file_is_refused_by_name(tmp_path):
  (tmp_path / "a.csv").write_text("x,y\n1,2\n")
  (tmp_path / "b.csv").write_text("3,4\n5,6\n")
  paths = input_files.match_files(str(tmp_path / "*.csv"))
  with pytest.raises(rows.InputError,
                     match=r"b\.csv has no column.*'3,4' is no header row"):
    input_files.read_headers(paths, rows.CSV, ["x", "y"])
  assert input_files.read_headers(paths, rows.JSONL, ["x"]) == {}


def test_sample_values_reads_the_first_rows(tmp_path):
  (tmp_path / "e.csv").write_text("t,u\n1,a\nbad\n3,c\n4,d\n")
  (tmp_path / "e.jsonl").write_text('{"t": 1}\n[2]\n{"t": 3}\n')
  pq.write_table(pa.table({"u": ["a", "b"], "t": [1, 2]}),
                 tmp_path / "e.parquet")
  path = lambda name: str(tmp_path / name)
  assert input_files.sample_values(path("e.csv"), rows.CSV, "t", 3) == [
      "1", "3"]
  assert input_files.sample_values(path("e.jsonl"), rows.JSONL, "t", 5) == [
      1, 3]
  assert input_files.sample_values(path("e.parquet"), rows.PARQUET, "t",
                                   5) == [1, 2]

"""Raw rows read in batches: the line batch source and ReadRows."""

import json

import apache_beam as beam
from apache_beam.io import source_test_utils
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam import row_source
from beam import rows

LINES = ["user_id,timestamp", "u1,1", "ü2,2\r", "", "u3,\"3,4\"", "u4,4",
         "u5,5", "u6,6"]

def _write_lines(tmp_path):
  path = tmp_path / "lines.csv"
  path.write_bytes("\n".join(LINES).encode("utf-8"))  # No final newline.
  return str(path)


def _flatten(batches):
  """The rows of ``RowBatch`` elements; their columns are the header's."""
  assert all(columns == ("user_id", "timestamp") for columns, _ in batches)
  return [line for _, batch in batches for line in batch]


def _data_lines():
  return [line.rstrip("\r") for line in LINES[1:]]


@pytest.mark.parametrize("bundle_size", [1, 3, 7, 1000])
def test_line_batches_cover_every_line_once_whatever_the_splits(
    tmp_path, bundle_size):
  source = row_source._LineBatchSource(_write_lines(tmp_path), True,
                                       batch_size=2)
  bundles = list(source.split(desired_bundle_size=bundle_size))
  read = []
  for bundle in bundles:
    batches = source_test_utils.read_from_source(
        bundle.source, bundle.start_position, bundle.stop_position)
    assert all(0 < len(batch) <= 2 for batch in batches)
    read += _flatten(batches)
  assert read == _data_lines()


@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_initial_chunks_are_equal_and_a_multiple_of_parallelism(
    tmp_path, parallelism):
  path = tmp_path / "lines.csv"
  path.write_bytes(b"x\n" * 5000)  # 10,000 bytes.
  source = row_source._LineBatchSource(str(path), False, batch_size=100,
                                       parallelism=parallelism)
  # Beam's own cut: 2,600, 2,600, 2,600 and a short 2,200.
  sizes = [bundle.stop_position - bundle.start_position
           for bundle in source.split(desired_bundle_size=2600)]
  assert sum(sizes) == 10_000
  assert len(sizes) % parallelism == 0 and len(sizes) >= 4
  assert max(sizes) - min(sizes) <= len(sizes)
  read = [line for bundle in source.split(desired_bundle_size=2600)
          for _, batch in source_test_utils.read_from_source(
              bundle.source, bundle.start_position, bundle.stop_position)
          for line in batch]
  assert read == ["x"] * 5000


def test_line_batches_survive_a_dynamic_split(tmp_path):
  path = _write_lines(tmp_path)
  size = len("\n".join(LINES).encode("utf-8"))
  accepted = 0
  for split_at in range(1, size):
    source = row_source._LineBatchSource(path, True, batch_size=2)
    bundle = list(source.split(desired_bundle_size=10 * size))[0]
    tracker = bundle.source.get_range_tracker(bundle.start_position,
                                              bundle.stop_position)
    reader = bundle.source.read(tracker)
    primary = [next(reader)]  # The header and the first batch are claimed.
    split = tracker.try_split(split_at)
    primary += list(reader)
    residual = []
    if split is not None:
      accepted += 1
      residual = source_test_utils.read_from_source(bundle.source, split[0],
                                                    bundle.stop_position)
    assert _flatten(primary) + _flatten(residual) == _data_lines(), split_at
  assert accepted > size // 2


def test_read_rows_in_each_format(tmp_path):
  (tmp_path / "e.csv").write_text("a,b\n1,x\n2,y\n")
  (tmp_path / "e.jsonl").write_text(
      "\n".join(json.dumps({"a": a, "b": b}) for a, b in ((1, "x"), (2, "y"))))
  pq.write_table(pa.table({"b": ["x", "y"], "a": [1, 2], "c": [0, 0]}),
                 tmp_path / "e.parquet")
  with test_pipeline.TestPipeline() as pipeline:
    for file_format, expected in (
        (rows.CSV, ["1,x", "2,y"]),
        (rows.JSONL, ['{"a": 1, "b": "x"}', '{"a": 2, "b": "y"}']),
        (rows.PARQUET, [(1, "x"), (2, "y")])):
      read = pipeline | f"Read_{file_format}" >> row_source.ReadRows(
          str(tmp_path / f"e.{file_format}"), file_format, ["a", "b"])
      assert_that(read | f"Flatten_{file_format}" >> beam.FlatMapTuple(
          lambda columns, batch: batch),
                  equal_to(expected), label=f"Check_{file_format}")


def _read_all(source):
  return [batch for bundle in source.split(desired_bundle_size=10**9)
          for batch in source_test_utils.read_from_source(
              bundle.source, bundle.start_position, bundle.stop_position)]


def test_each_csv_file_brings_its_own_header(tmp_path):
  (tmp_path / "a.csv").write_text("x,y\n1,2\n")
  (tmp_path / "b.csv").write_bytes("\ufeffy,x\n3,4\n".encode("utf-8"))
  batches = _read_all(row_source._LineBatchSource(str(tmp_path / "*.csv"),
                                                  True, batch_size=10))
  assert sorted(batches) == [(("x", "y"), ["1,2"]), (("y", "x"), ["3,4"])]


def test_quoted_newlines_join_lines_into_one_row(tmp_path):
  path = tmp_path / "e.csv"
  path.write_bytes(b'a,b,c\n1,"two\nlines",3\n4,"x""\r\ny",5\r\n'
                   b'6,"stray,7\n8,9,10\n11,"open\n')
  batches = _read_all(row_source._LineBatchSource(str(path), True,
                                                  batch_size=2))
  assert [row for _, batch in batches for row in batch] == [
      '1,"two\nlines",3', '4,"x""\r\ny",5', '6,"stray,7', "8,9,10",
      '11,"open']


def test_a_bom_before_the_first_json_line_is_dropped(tmp_path):
  path = tmp_path / "e.jsonl"
  path.write_bytes('\ufeff{"a": 1}\n{"a": 2}\n'.encode("utf-8"))
  batches = _read_all(row_source._LineBatchSource(str(path), False,
                                                  batch_size=5))
  assert batches == [((), ['{"a": 1}', '{"a": 2}'])]

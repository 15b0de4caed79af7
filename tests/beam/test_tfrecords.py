"""Gzipped TFRecord shards read back by Beam and by TensorFlow."""

import glob

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from beam import tfrecords

# Besides tiny ones, records longer than a gzip chunk of the writer.
RECORDS = [b"", b"a", b"\x00\xff" * 300, "ünï".encode() * 1000,
           bytes(range(256)) * 1000]


@pytest.mark.parametrize("level", [1, 9])
def test_records_round_trip(tmp_path, level):
  prefix = str(tmp_path / "train")
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline | beam.Create(RECORDS)
         | tfrecords.WriteGzipTFRecords(prefix, ".tfrecord.gz", 2, level))
  paths = sorted(glob.glob(prefix + "-*-of-00002.tfrecord.gz"))
  assert len(paths) == 2
  read = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(paths, "GZIP")]
  assert sorted(read) == sorted(RECORDS)
  with test_pipeline.TestPipeline() as pipeline:  # Beam checks the CRCs.
    assert_that(pipeline | beam.io.ReadFromTFRecord(prefix + "-*"),
                equal_to(RECORDS))


def test_batches_of_records_are_written_record_by_record(tmp_path):
  prefix = str(tmp_path / "train")
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline | beam.Create([RECORDS[:2], [], b"single", RECORDS[2:]])
         | tfrecords.WriteGzipTFRecords(prefix, ".tfrecord.gz", 1))
  read = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(
      glob.glob(prefix + "-*"), "GZIP")]
  assert sorted(read) == sorted(RECORDS + [b"single"])


def test_framing_is_tensorflows(tmp_path):
  path = str(tmp_path / "tf.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for record in RECORDS * 2:  # Again, with the lengths' CRCs known.
      writer.write(record)
  with open(path, "rb") as f:
    assert f.read() == b"".join(map(tfrecords.tfrecord, RECORDS * 2))


def test_bad_level_is_refused():
  with pytest.raises(ValueError, match="1 to 9"):
    tfrecords.WriteGzipTFRecords("x", ".gz", 0, 0)

"""Gzipped TFRecord shards written at a chosen compression level.

``beam.io.WriteToTFRecord`` gzips at zlib's default level 6. Training
examples of overlapping histories compress well at any level, and a low
level spends far less time compressing for somewhat larger files, where
gzip was a large share of the preprocessing. ``WriteGzipTFRecords`` is a
``FileBasedSink`` like ``WriteToTFRecord`` (temporary files, then renamed
shards), with TensorFlow's TFRecord framing and a configurable level; the
files read back with ``tf.data.TFRecordDataset(..., "GZIP")``.
"""

import struct
import zlib
from typing import BinaryIO, List, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam import coders
from apache_beam.io import filebasedsink
from apache_beam.io.filesystem import CompressionTypes

try:
  from google_crc32c import value as _crc32c  # pylint: disable=g-import-not-at-top
except ImportError:  # pragma: no cover - Beam's gcp extra brings it.
  import crcmod.predefined  # pylint: disable=g-import-not-at-top

  _crc32c = crcmod.predefined.mkPredefinedCrcFun("crc-32c")

_GZIP_WINDOW_BITS = 16 + zlib.MAX_WBITS  # zlib writes a gzip header.
_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
# Framed records are gzipped in chunks of about this size: zlib's output
# does not depend on how its input is split, and a call per chunk costs less
# than one per record.
_CHUNK_SIZE = 1 << 16


def _masked_crc(data: bytes) -> bytes:
  """TFRecord's masked CRC-32C of ``data``, little-endian."""
  crc = _crc32c(data)
  return _CRC.pack((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)


class _Headers(dict):
  """A record's length and that length's CRC, by the length; records of
  one split have a few thousand lengths at most."""

  def __missing__(self, length: int) -> bytes:
    if len(self) >= 1 << 16:
      self.clear()
    encoded = _LENGTH.pack(length)
    header = self[length] = encoded + _masked_crc(encoded)
    return header


_HEADERS = _Headers()


def framed(data: bytes) -> Tuple[bytes, bytes, bytes]:
  """One record's TFRecord pieces: its length and the length's CRC, the
  data, and its CRC."""
  return _HEADERS[len(data)], data, _masked_crc(data)


def tfrecord(data: bytes) -> bytes:
  """One record framed as a TFRecord: length, its CRC, data, its CRC."""
  return b"".join(framed(data))


class _GzipWriter:
  """Gzips what is written into a file, which it closes when closed."""

  def __init__(self, raw: BinaryIO, level: int):
    self._raw = raw
    self._compressor = zlib.compressobj(level, zlib.DEFLATED,
                                        _GZIP_WINDOW_BITS)
    self._pending: List[bytes] = []  # Not yet compressed.
    self._pending_size = 0

  def write(self, *pieces: bytes) -> None:
    """Writes the pieces one after the other."""
    self._pending += pieces
    self._pending_size += sum(map(len, pieces))
    if self._pending_size >= _CHUNK_SIZE:
      self._compress_pending()

  def _compress_pending(self) -> None:
    compressed = self._compressor.compress(b"".join(self._pending))
    if compressed:
      self._raw.write(compressed)
    self._pending.clear()
    self._pending_size = 0

  def close(self) -> None:
    self._compress_pending()
    self._raw.write(self._compressor.flush())
    self._raw.close()


class _GzipTFRecordSink(filebasedsink.FileBasedSink):
  """A FileBasedSink of serialized records as gzipped TFRecord files."""

  def __init__(self, file_path_prefix: str, file_name_suffix: str,
               num_shards: int, level: int):
    super().__init__(file_path_prefix, coder=coders.BytesCoder(),
                     file_name_suffix=file_name_suffix, num_shards=num_shards,
                     mime_type="application/octet-stream",
                     compression_type=CompressionTypes.UNCOMPRESSED)
    self._level = level

  def open(self, temp_path: str) -> _GzipWriter:
    return _GzipWriter(super().open(temp_path), self._level)

  def write_record(self, file_handle: _GzipWriter,
                   value: Union[bytes, Sequence[bytes]]) -> None:
    """Writes a serialized record, or each of a batch of them."""
    if isinstance(value, bytes):
      file_handle.write(*framed(value))
    else:
      for record in value:
        file_handle.write(*framed(record))


class WriteGzipTFRecords(beam.PTransform):
  """Serialized records to ``<prefix>-SSSSS-of-NNNNN<suffix>``, gzipped.

  Takes records (``bytes``), or batches of them (lists of ``bytes``), which
  cost Beam one element per batch.

  Args:
    file_path_prefix: Path and name start of the shards.
    file_name_suffix: Their ending, e.g. ``.tfrecord.gz``.
    num_shards: Number of shards; 0 lets the runner decide.
    level: zlib compression level, 1 (fastest) to 9 (smallest).
  """

  def __init__(self, file_path_prefix: str, file_name_suffix: str,
               num_shards: int = 0, level: int = 1):
    super().__init__()
    if not 1 <= level <= 9:
      raise ValueError(f"The gzip level must be 1 to 9, got {level}.")
    self._sink = _GzipTFRecordSink(file_path_prefix, file_name_suffix,
                                   num_shards, level)

  def expand(self, records):
    return records | "Write" >> beam.io.Write(self._sink)

"""Reading raw rows in batches, on the workers.

``ReadRows`` reads the raw rows (``rows``) of every file of an input with
Beam sources: a splittable ``FileBasedSource`` of line batches for text
files, ``ReadFromParquetBatched`` for Parquet. A file is thus split across
workers and never read whole into the driver, and Beam's per-element cost
is paid per batch, not per row. Each batch comes with the columns of its
file: every CSV file has its own header, which may order the columns its
own way.
"""

import csv
from typing import BinaryIO, List, Sequence, Tuple

import apache_beam as beam
from apache_beam.io import filebasedsource
from apache_beam.io.filesystem import CompressionTypes

from beam import input_files
from beam import rows
from beam import runner

_BOM_BYTES = "\ufeff".encode("utf-8")
# The most lines a CSV row spans: a line that leaves a quote open is joined
# with the following ones up to the one that closes it, if that makes one
# row of the header's width; otherwise each line is a row of its own.
MAX_ROW_LINES = 100


class _LineBatchSource(filebasedsource.FileBasedSource):
  """Text files as batches of rows: a ``rows.RowBatch`` per element.

  Batches keep Beam's per-element cost off each line. A row belongs to the
  byte range its first byte is in, as a line does with ``ReadFromText``;
  each batch claims the start of its last row, so a split never lands inside
  a batch already emitted. Compressed files (by extension) are read whole.
  With ``header``, each file's first line is its header, read by every range
  of the file: its columns come with each batch, and a line that leaves a
  quote open may be joined with the next ones into one row (``_join_row``).
  A UTF-8 byte order mark at the start of a file is dropped.

  A row whose quoted newline is exactly where a file is split is read as
  its lines by the range after the split (each a malformed row, counted), as
  line-based readers do; the range where it starts reads it whole.

  The initial split cuts a file into chunks of equal size, as many as a
  multiple of ``parallelism`` (``runner.parallelism``, the bundles the runner
  runs at once; with several files, each is cut by the size that suits their
  total): Beam's desired chunk size alone leaves a short last chunk, and the
  DirectRunner deals chunks to its workers in turn, so one worker would read
  more than the others. A parallelism of 1, that of runners that balance
  their work themselves, leaves Beam's desired chunk size.
  """

  def __init__(self, pattern: str, header: bool, batch_size: int,
               parallelism: int = 1):
    super().__init__(pattern, compression_type=CompressionTypes.AUTO)
    self._header = header
    self._batch_size = batch_size
    self._parallelism = parallelism

  def split(self, desired_bundle_size=None, start_position=None,
            stop_position=None):
    if desired_bundle_size:
      size = self.estimate_size()
      chunks = runner.balanced_pieces(size, desired_bundle_size,
                                      self._parallelism)
      desired_bundle_size = max(1, -(-size // chunks))
    return super().split(desired_bundle_size, start_position, stop_position)

  def read_records(self, file_name, range_tracker):
    start = range_tracker.start_position()
    with self.open_file(file_name) as f:
      columns, width, position = (), 0, 0
      if self._header:
        header = f.readline()
        position = len(header)
        columns = input_files.header_columns(header.decode("utf-8", "replace"),
                                             file_name)
        width = len(columns)
      if start > position:
        # The line holding byte start - 1 belongs to the previous range.
        f.seek(start - 1)
        position = start - 1 + len(f.readline())
      while True:
        stop = range_tracker.stop_position()
        lines, starts = [], []
        joined = False
        while len(lines) < self._batch_size and position < stop:
          line = f.readline()
          if not line:
            break
          starts.append(position)
          position += len(line)
          if position == len(line) and line.startswith(_BOM_BYTES):
            line = line[len(_BOM_BYTES):]
          if width and b'"' in line and line.count(b'"') % 2:
            row = _join_row(f, line, width)
            if row is not line:
              position += len(row) - len(line)
              line, joined = row, True
          lines.append(line)
        if not lines:
          return
        claimed = range_tracker.try_claim(starts[-1])
        if not claimed:  # Split meanwhile: keep the rows before the split.
          stop = range_tracker.stop_position()
          lines = [line for line, at in zip(lines, starts) if at < stop]
        if lines:
          yield columns, (_decode_rows(lines) if joined
                          else _decode_lines(lines))
        if not claimed:
          return


def _join_row(f: BinaryIO, line: bytes, width: int) -> bytes:
  """``line`` and the lines after it up to the one that closes its open
  quote, if they make one CSV row of ``width`` fields; else ``line`` itself
  (and ``f`` is back where it was)."""
  mark = f.tell()
  row = line
  for _ in range(MAX_ROW_LINES - 1):
    more = f.readline()
    if not more:
      break
    row += more
    if more.count(b'"') % 2:  # Closes the quote.
      text = row.decode("utf-8", "replace").removesuffix("\n")
      try:
        if len(next(csv.reader([text.removesuffix("\r")]), [])) == width:
          return row
      except csv.Error:
        pass
      break
  f.seek(mark)
  return line


def _decode_lines(lines: List[bytes]) -> List[str]:
  """Lines without their ends ("\n", "\r\n"); invalid UTF-8 becomes U+FFFD.

  Decodes the batch at once: a newline byte never belongs to a multi-byte
  character, so this equals decoding line by line.
  """
  text = b"".join(lines).decode("utf-8", "replace")
  decoded = text.split("\n")
  last = decoded.pop()  # After the last newline: "" or an unended line.
  if "\r" in text:
    decoded = [line[:-1] if line.endswith("\r") else line
               for line in decoded]
  if last:
    decoded.append(last)
  return decoded


def _decode_rows(rows: List[bytes]) -> List[str]:
  """Rows, some spanning lines, without their line ends; invalid UTF-8
  becomes U+FFFD."""
  decoded = []
  for row in rows:
    text = row.decode("utf-8", "replace").removesuffix("\n")
    decoded.append(text.removesuffix("\r"))
  return decoded


def _parquet_batch(table, columns: Tuple[str, ...]) -> rows.RowBatch:
  """A pyarrow Table of ``columns`` as a ``RowBatch`` of tuples."""
  return columns, list(zip(*(column.to_pylist() for column in table.columns)))


class ReadRows(beam.PTransform):
  """Reads the raw rows of every file matching a pattern, in batches.

  Each element is a ``rows.RowBatch``: the columns of the rows' file and a list
  of raw rows (up to ``batch_size`` rows of a text file; a Parquet record
  batch). CSV files each start with their header row, whose columns come
  with their rows. For Parquet only ``columns`` are read, and rows are
  tuples of their values in that order. Text files are first cut into
  equal chunks, as many as a multiple of ``parallelism``.
  """

  def __init__(self, pattern: str, file_format: str, columns: Sequence[str],
               batch_size: int = 2048, parallelism: int = 1):
    super().__init__()
    self._pattern = pattern
    self._format = file_format
    self._columns = list(columns)
    self._batch_size = batch_size
    self._parallelism = parallelism

  def expand(self, pbegin):
    if self._format == rows.PARQUET:
      return (pbegin
              | "ReadParquet" >> beam.io.ReadFromParquetBatched(
                  self._pattern, columns=self._columns)
              | "TableRows" >> beam.Map(_parquet_batch, tuple(self._columns)))
    return pbegin | "ReadLines" >> beam.io.Read(
        _LineBatchSource(self._pattern, self._format == rows.CSV,
                         self._batch_size, self._parallelism))

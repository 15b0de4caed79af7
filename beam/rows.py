"""Input rows: CSV, JSON Lines or Parquet files as raw rows and their fields.

A raw row is what a dead letter shows: the text line of CSV and JSON Lines
files, the tuple of (the wanted) column values of Parquet files. ``ReadRows``
reads them in batches with Beam sources (a splittable ``FileBasedSource`` of
line batches for text, ``ReadFromParquetBatched``), so a file is split
across workers and never read whole into the driver, and Beam's per-element
cost is paid per batch, not per row. ``RowSplitter`` turns a raw row into
the values of the wanted columns. The driver only opens the first file, for
its column names, and stops reading at the first data row when checking for
empty input.
"""

import csv
import io
import json
from typing import Any, List, Sequence, Tuple

import apache_beam as beam
from apache_beam.io import filebasedsource
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam import direct_runner

CSV = "csv"
JSONL = "jsonl"
PARQUET = "parquet"
FORMATS = (CSV, JSONL, PARQUET)
_EXTENSIONS = {".csv": CSV, ".jsonl": JSONL, ".json": JSONL, ".ndjson": JSONL,
               ".parquet": PARQUET, ".pq": PARQUET}
# Compressed text files, which Beam decompresses by their extension.
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".deflate", ".zst")


class InputError(ValueError):
  """An input that cannot be read at all (as opposed to a malformed row)."""


class MalformedRow(ValueError):
  """A row that cannot be split into the expected columns."""


def infer_format(pattern: str) -> str:
  """The format of files named like ``pattern``, from their extension."""
  name = pattern.lower()
  for suffix in _COMPRESSION_SUFFIXES:
    name = name.removesuffix(suffix)
  for extension, file_format in _EXTENSIONS.items():
    if name.endswith(extension):
      return file_format
  raise InputError(
      f"Cannot tell the format of {pattern!r} from its extension "
      f"({', '.join(_EXTENSIONS)}); pass --input_format {'|'.join(FORMATS)}.")


def _matches(pattern: str, flag: str) -> List[Any]:
  """The metadata of the files ``pattern`` matches.

  Raises:
    InputError: if it matches nothing or cannot be listed.
  """
  try:
    matches = FileSystems.match([pattern])[0].metadata_list
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"{flag} {pattern!r}: cannot list files: {e}") from e
  if not matches:
    raise InputError(f"{flag} {pattern!r} matches no file.")
  return matches


def match_files(pattern: str, flag: str = "--input") -> List[str]:
  """The paths ``pattern`` matches, sorted.

  Raises:
    InputError: if it matches nothing.
  """
  return sorted(m.path for m in _matches(pattern, flag))


def total_bytes(pattern: str, flag: str = "--input") -> int:
  """The summed size of the files ``pattern`` matches (as stored).

  Raises:
    InputError: if it matches nothing.
  """
  return sum(m.size_in_bytes for m in _matches(pattern, flag))


def _open_text(path: str) -> io.TextIOWrapper:
  return io.TextIOWrapper(FileSystems.open(path), encoding="utf-8-sig",
                          newline="")


def read_columns(path: str, file_format: str) -> List[str]:
  """The column names of a file: CSV header, first JSON object, Parquet schema.

  Raises:
    InputError: if the file has no header (CSV) or no row (JSON Lines).
  """
  if file_format == PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      return list(pq.read_schema(f).names)
  with _open_text(path) as f:
    for line in f:
      if not line.strip():
        continue
      if file_format == CSV:
        return [name.strip() for name in next(csv.reader([line]))]
      try:
        record = json.loads(line)
      except ValueError as e:
        raise InputError(f"{path}: the first line is not JSON: {e}") from e
      if not isinstance(record, dict):
        raise InputError(f"{path}: the first line is not a JSON object.")
      return list(record)
  raise InputError(f"{path} is empty.")


def has_rows(path: str, file_format: str) -> bool:
  """Whether a file holds at least one data row (reads at most two lines)."""
  if file_format == PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      return pq.read_metadata(f).num_rows > 0
  seen = 0
  with _open_text(path) as f:
    for line in f:
      if line.strip():
        seen += 1
        if seen > (1 if file_format == CSV else 0):
          return True
  return False


def require_rows(paths: Sequence[str], file_format: str, flag: str) -> None:
  """Fails fast unless some file has a data row (stops at the first one)."""
  if not any(has_rows(path, file_format) for path in paths):
    raise InputError(
        f"{flag}: {len(paths)} file(s) but no data row in any of them "
        f"({paths[0]}{', ...' if len(paths) > 1 else ''}).")


def require_columns(columns: Sequence[str], wanted: Sequence[str],
                    path: str) -> None:
  missing = [name for name in wanted if name not in columns]
  if missing:
    raise InputError(f"{path} has no column(s) {missing}; its columns are "
                     f"{list(columns)}.")


class RowSplitter:
  """Splits a raw row into the values of the wanted columns, in their order.

  CSV values are strings, found by the position of their column in the
  header (``file_columns``); JSON Lines values are found by name, Parquet
  rows hold the wanted columns already. JSON Lines and Parquet values keep
  their types (a missing value is None).
  """

  def __init__(self, file_format: str, file_columns: Sequence[str],
               wanted: Sequence[str]):
    self._format = file_format
    self._wanted = tuple(wanted)
    if file_format == CSV:
      self._width = len(file_columns)
      self._indices = tuple(list(file_columns).index(name) for name in wanted)
      self._all_in_order = tuple(file_columns) == self._wanted

  @property
  def file_format(self) -> str:
    return self._format

  @property
  def plain_csv(self) -> bool:
    """CSV whose columns are the wanted ones, in order: an unquoted row's
    values are ``row.split(",")``."""
    return self._format == CSV and self._all_in_order

  def __call__(self, raw: Any) -> Sequence[Any]:
    """The wanted values of ``raw``.

    Raises:
      MalformedRow: if ``raw`` is not a row of this format.
    """
    if self._format == CSV:
      fields = raw.split(",") if '"' not in raw else next(csv.reader([raw]))
      if len(fields) != self._width:
        raise MalformedRow(f"{len(fields)} fields, expected {self._width}")
      if self._all_in_order:
        return fields
      return [fields[i] for i in self._indices]
    if self._format == JSONL:
      try:
        record = json.loads(raw)
      except ValueError as e:
        raise MalformedRow(str(e)) from None
      if not isinstance(record, dict):
        raise MalformedRow("not a JSON object")
      return [record.get(name) for name in self._wanted]
    return raw  # Parquet rows are read as tuples of the wanted columns.

  def to_json(self, raw: Any) -> Any:
    """``raw`` in a form ``json.dumps`` takes (Parquet rows as objects)."""
    if self._format == PARQUET:
      return dict(zip(self._wanted, raw))
    return raw


def json_dead_letter(dead_letter: Tuple[str, Any],
                     splitter: RowSplitter) -> Tuple[str, Any]:
  """(reason, raw row) with the row in a form ``json.dumps`` takes."""
  reason, raw = dead_letter
  return reason, splitter.to_json(raw)


class _LineBatchSource(filebasedsource.FileBasedSource):
  """Text files as batches of lines: a list of str per element.

  Batches keep Beam's per-element cost off each line. A line belongs to the
  byte range its first byte is in, as with ``ReadFromText``; each batch
  claims the start of its last line, so a split never lands inside a batch
  already emitted. Compressed files (by extension) are read whole.

  The initial split cuts a file into chunks of equal size, as many as a
  multiple of ``parallelism`` (the bundles the runner runs at once; with
  several files, each is cut by the size that suits their total): Beam's
  desired chunk size alone leaves a short last chunk, and the DirectRunner
  deals chunks to its workers in turn, so 8 chunks of a 57 MB file gave one
  worker 30 MB to read and the other 27.
  """

  def __init__(self, pattern: str, skip_header_lines: int, batch_size: int,
               parallelism: int = 1):
    super().__init__(pattern, compression_type=CompressionTypes.AUTO)
    self._skip_header_lines = skip_header_lines
    self._batch_size = batch_size
    self._parallelism = parallelism

  def split(self, desired_bundle_size=None, start_position=None,
            stop_position=None):
    if desired_bundle_size:
      size = self.estimate_size()
      chunks = direct_runner.balanced_pieces(size, desired_bundle_size,
                                             self._parallelism)
      desired_bundle_size = max(1, -(-size // chunks))
    return super().split(desired_bundle_size, start_position, stop_position)

  def read_records(self, file_name, range_tracker):
    start = range_tracker.start_position()
    with self.open_file(file_name) as f:
      if start > 0:
        # The line holding byte start - 1 belongs to the previous range.
        f.seek(start - 1)
        position = start - 1 + len(f.readline())
      else:
        position = 0
        for _ in range(self._skip_header_lines):
          position += len(f.readline())
      while True:
        stop = range_tracker.stop_position()
        lines, starts = [], []
        while len(lines) < self._batch_size and position < stop:
          line = f.readline()
          if not line:
            break
          lines.append(line)
          starts.append(position)
          position += len(line)
        if not lines:
          return
        claimed = range_tracker.try_claim(starts[-1])
        if not claimed:  # Split meanwhile: keep the lines before the split.
          stop = range_tracker.stop_position()
          lines = [line for line, at in zip(lines, starts) if at < stop]
        if lines:
          yield _decode_lines(lines)
        if not claimed:
          return


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


def _parquet_rows(table) -> List[Tuple[Any, ...]]:
  """The rows of a pyarrow Table as tuples."""
  return list(zip(*(column.to_pylist() for column in table.columns)))


class ReadRows(beam.PTransform):
  """Reads the raw rows of every file matching a pattern, in batches.

  Each element is a list of raw rows (up to ``batch_size`` lines of a text
  file; a Parquet record batch). CSV files each start with a header row,
  which is skipped. For Parquet only ``columns`` are read, and rows are
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
    if self._format == PARQUET:
      return (pbegin
              | "ReadParquet" >> beam.io.ReadFromParquetBatched(
                  self._pattern, columns=self._columns)
              | "TableRows" >> beam.Map(_parquet_rows))
    return pbegin | "ReadLines" >> beam.io.Read(
        _LineBatchSource(self._pattern, 1 if self._format == CSV else 0,
                         self._batch_size, self._parallelism))

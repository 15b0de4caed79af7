"""Input rows: CSV, JSON Lines or Parquet files as raw rows and their fields.

A raw row is what a dead letter shows: the text line of CSV and JSON Lines
files (a CSV row whose quoted field holds a newline spans lines), the tuple
of (the wanted) column values of Parquet files. ``ReadRows`` reads them in
batches with Beam sources (a splittable ``FileBasedSource`` of line batches
for text, ``ReadFromParquetBatched``), so a file is split across workers and
never read whole into the driver, and Beam's per-element cost is paid per
batch, not per row. Each batch comes with the columns of its file: every CSV
file has its own header, which may order the columns its own way.
``RowSplitter`` turns a raw row into the values of the wanted columns, or
raises ``MalformedRow``, whatever the row holds. The driver reads only the
header of each file (``read_headers``), the first rows of a few
(``sample_values``), and stops at the first data row when checking for empty
input.
"""

import csv
import io
import itertools
import json
from typing import Any, BinaryIO, Dict, List, Sequence, Tuple

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
_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode("utf-8")
# The most lines a CSV row spans: a line that leaves a quote open is joined
# with the following ones up to the one that closes it, if that makes one
# row of the header's width; otherwise each line is a row of its own.
MAX_ROW_LINES = 100

# A batch of raw rows and the columns of their file: the CSV header, the
# wanted columns of Parquet, () for JSON Lines (whose values have names).
RowBatch = Tuple[Tuple[str, ...], List[Any]]


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


def header_columns(line: str, path: str) -> Tuple[str, ...]:
  """The column names of a CSV header line.

  Raises:
    InputError: if the line is no CSV row.
  """
  try:
    names = next(csv.reader([line.rstrip("\r\n").lstrip(_BOM)]), [])
  except csv.Error as e:
    raise InputError(f"{path}: its header is no CSV row: {e}") from None
  return tuple(name.strip() for name in names)


def read_columns(path: str, file_format: str) -> List[str]:
  """The column names of a file: CSV header (its first line), first JSON
  object, Parquet schema.

  Raises:
    InputError: if the file is empty, or its first JSON line no object.
  """
  if file_format == PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      return list(pq.read_schema(f).names)
  with _open_text(path) as f:
    if file_format == CSV:
      line = f.readline()
      if not line:
        raise InputError(f"{path} is empty.")
      return list(header_columns(line, path))
    for line in f:
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except ValueError as e:
        raise InputError(f"{path}: the first line is not JSON: {e}") from e
      if not isinstance(record, dict):
        raise InputError(f"{path}: the first line is not a JSON object.")
      return list(record)
  raise InputError(f"{path} is empty.")


def read_headers(paths: Sequence[str], file_format: str,
                 wanted: Sequence[str]) -> Dict[str, List[str]]:
  """The columns of every CSV or Parquet file, each checked for ``wanted``.

  JSON Lines files have no header: their values are found by name, and a
  row without one is a dead letter. Returns {} for them.

  Raises:
    InputError: naming the first file that is empty or lacks a wanted
      column (a CSV file without a header row, for one).
  """
  if file_format == JSONL:
    return {}
  headers = {}
  for path in paths:
    columns = read_columns(path, file_format)
    if file_format == CSV and not set(wanted) & set(columns):
      raise InputError(
          f"{path} has no column(s) {list(wanted)}: its first line "
          f"{','.join(columns)!r} is no header row. Every CSV file of the "
          "input starts with its own header row.")
    require_columns(columns, wanted, path)
    headers[path] = columns
  return headers


def sample_values(path: str, file_format: str, column: str,
                  num_rows: int) -> List[Any]:
  """The values of ``column`` in (at most) the first ``num_rows`` rows of a
  file; rows that do not split are left out."""
  if file_format == PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      batches = pq.ParquetFile(f).iter_batches(batch_size=num_rows,
                                               columns=[column])
      batch = next(batches, None)
      return [] if batch is None else batch.column(0).to_pylist()
  with _open_text(path) as f:
    columns = header_columns(f.readline(), path) if file_format == CSV else ()
    splitter = RowSplitter(file_format, columns, [column])
    values = []
    for line in itertools.islice(f, num_rows):
      try:
        values.append(splitter(line.rstrip("\r\n"))[0])
      except MalformedRow:
        pass
    return values


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
  their types (a missing value is None). Any row that is not one of the
  format (a CSV line that does not parse, of another width; a JSON line that
  is no object) raises ``MalformedRow``, never another error.
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
      fields = raw.split(",") if '"' not in raw else _csv_fields(raw)
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


def _csv_fields(raw: str) -> List[str]:
  """The fields of a CSV row with quotes.

  Raises:
    MalformedRow: if it does not parse (an unquoted CR, a field over the csv
      module's size limit).
  """
  try:
    return next(csv.reader([raw]), [])
  except csv.Error as e:
    raise MalformedRow(str(e)) from None


def json_dead_letter(dead_letter: Tuple[str, Any],
                     splitter: RowSplitter) -> Tuple[str, Any]:
  """(reason, raw row) with the row in a form ``json.dumps`` takes."""
  reason, raw = dead_letter
  return reason, splitter.to_json(raw)


class _LineBatchSource(filebasedsource.FileBasedSource):
  """Text files as batches of rows: a ``RowBatch`` per element.

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
  multiple of ``parallelism`` (the bundles the runner runs at once; with
  several files, each is cut by the size that suits their total): Beam's
  desired chunk size alone leaves a short last chunk, and the DirectRunner
  deals chunks to its workers in turn, so 8 chunks of a 57 MB file gave one
  worker 30 MB to read and the other 27.
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
      chunks = direct_runner.balanced_pieces(size, desired_bundle_size,
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
        columns = header_columns(header.decode("utf-8", "replace"), file_name)
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


def _parquet_batch(table, columns: Tuple[str, ...]) -> RowBatch:
  """A pyarrow Table of ``columns`` as a ``RowBatch`` of tuples."""
  return columns, list(zip(*(column.to_pylist() for column in table.columns)))


class ReadRows(beam.PTransform):
  """Reads the raw rows of every file matching a pattern, in batches.

  Each element is a ``RowBatch``: the columns of the rows' file and a list
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
    if self._format == PARQUET:
      return (pbegin
              | "ReadParquet" >> beam.io.ReadFromParquetBatched(
                  self._pattern, columns=self._columns)
              | "TableRows" >> beam.Map(_parquet_batch, tuple(self._columns)))
    return pbegin | "ReadLines" >> beam.io.Read(
        _LineBatchSource(self._pattern, self._format == CSV,
                         self._batch_size, self._parallelism))

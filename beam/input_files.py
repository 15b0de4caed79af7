"""Input files, checked on the driver before any pipeline runs.

A pipeline should fail at once, with a sentence naming the file, on an input
it cannot read at all: a pattern that matches nothing, a CSV file without
its header row, a file without a wanted column, no data row anywhere. These
checks read only the header of each file (``read_headers``), the first rows
of a few (``sample_values``), and stop at the first data row when checking
for empty input (``require_rows``), so that they cost the same however
large the input; the rows themselves are read by the pipeline's workers
(``row_source.ReadRows``).
"""

import csv
import io
import itertools
import json
from typing import Any, Dict, List, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems

from beam import rows

_BOM = "\ufeff"


def _matches(pattern: str, flag: str) -> List[Any]:
  """The metadata of the files ``pattern`` matches.

  Raises:
    rows.InputError: if it matches nothing or cannot be listed.
  """
  try:
    matches = FileSystems.match([pattern])[0].metadata_list
  except Exception as e:  # pylint: disable=broad-except
    raise rows.InputError(f"{flag} {pattern!r}: cannot list files: {e}") from e
  if not matches:
    raise rows.InputError(f"{flag} {pattern!r} matches no file.")
  return matches


def match_files(pattern: str, flag: str = "--input") -> List[str]:
  """The paths ``pattern`` matches, sorted.

  Raises:
    rows.InputError: if it matches nothing.
  """
  return sorted(m.path for m in _matches(pattern, flag))


def total_bytes(pattern: str, flag: str = "--input") -> int:
  """The summed size of the files ``pattern`` matches (as stored).

  Raises:
    rows.InputError: if it matches nothing.
  """
  return sum(m.size_in_bytes for m in _matches(pattern, flag))


def _open_text(path: str) -> io.TextIOWrapper:
  return io.TextIOWrapper(FileSystems.open(path), encoding="utf-8-sig",
                          newline="")


def header_columns(line: str, path: str) -> Tuple[str, ...]:
  """The column names of a CSV header line.

  Raises:
    rows.InputError: if the line is no CSV row.
  """
  try:
    names = next(csv.reader([line.rstrip("\r\n").lstrip(_BOM)]), [])
  except csv.Error as e:
    raise rows.InputError(f"{path}: its header is no CSV row: {e}") from None
  return tuple(name.strip() for name in names)


def read_columns(path: str, file_format: str) -> List[str]:
  """The column names of a file: CSV header (its first line), first JSON
  object, Parquet schema.

  Raises:
    rows.InputError: if the file is empty, or its first JSON line no object.
  """
  if file_format == rows.PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      return list(pq.read_schema(f).names)
  with _open_text(path) as f:
    if file_format == rows.CSV:
      line = f.readline()
      if not line:
        raise rows.InputError(f"{path} is empty.")
      return list(header_columns(line, path))
    for line in f:
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except ValueError as e:
        raise rows.InputError(f"{path}: the first line is not JSON: {e}") from e
      if not isinstance(record, dict):
        raise rows.InputError(
            f"{path}: the first line is not a JSON object.")
      return list(record)
  raise rows.InputError(f"{path} is empty.")


def read_headers(paths: Sequence[str], file_format: str,
                 wanted: Sequence[str]) -> Dict[str, List[str]]:
  """The columns of every CSV or Parquet file, each checked for ``wanted``.

  JSON Lines files have no header: their values are found by name, and a
  row without one is a dead letter. Returns {} for them.

  Raises:
    rows.InputError: naming the first file that is empty or lacks a wanted
      column (a CSV file without a header row, for one).
  """
  if file_format == rows.JSONL:
    return {}
  headers = {}
  for path in paths:
    columns = read_columns(path, file_format)
    if file_format == rows.CSV and not set(wanted) & set(columns):
      raise rows.InputError(
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
  if file_format == rows.PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      batches = pq.ParquetFile(f).iter_batches(batch_size=num_rows,
                                               columns=[column])
      batch = next(batches, None)
      return [] if batch is None else batch.column(0).to_pylist()
  with _open_text(path) as f:
    columns = (header_columns(f.readline(), path) if file_format == rows.CSV
               else ())
    splitter = rows.RowSplitter(file_format, columns, [column])
    values = []
    for line in itertools.islice(f, num_rows):
      try:
        values.append(splitter(line.rstrip("\r\n"))[0])
      except rows.MalformedRow:
        pass
    return values


def has_rows(path: str, file_format: str) -> bool:
  """Whether a file holds at least one data row (reads at most two lines)."""
  if file_format == rows.PARQUET:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    with FileSystems.open(path) as f:
      return pq.read_metadata(f).num_rows > 0
  seen = 0
  with _open_text(path) as f:
    for line in f:
      if line.strip():
        seen += 1
        if seen > (1 if file_format == rows.CSV else 0):
          return True
  return False


def require_rows(paths: Sequence[str], file_format: str, flag: str) -> None:
  """Fails fast unless some file has a data row (stops at the first one)."""
  if not any(has_rows(path, file_format) for path in paths):
    raise rows.InputError(
        f"{flag}: {len(paths)} file(s) but no data row in any of them "
        f"({paths[0]}{', ...' if len(paths) > 1 else ''}).")


def require_columns(columns: Sequence[str], wanted: Sequence[str],
                    path: str) -> None:
  missing = [name for name in wanted if name not in columns]
  if missing:
    raise rows.InputError(f"{path} has no column(s) {missing}; its columns "
                          f"are {list(columns)}.")

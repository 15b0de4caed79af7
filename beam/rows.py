"""Input rows: the formats of event and catalog files, a raw row's fields.

A raw row is what a dead letter shows: the text line of CSV and JSON Lines
files (a CSV row whose quoted field holds a newline spans lines), the tuple
of (the wanted) column values of Parquet files. ``RowSplitter`` turns a raw
row into the values of the wanted columns, or raises ``MalformedRow``,
whatever the row holds; an input that cannot be read at all raises
``InputError`` instead. Files are checked on the driver by ``input_files``
and read in batches of raw rows by ``row_source.ReadRows``.
"""

import csv
import json
from typing import Any, List, Sequence, Tuple

CSV = "csv"
JSONL = "jsonl"
PARQUET = "parquet"
FORMATS = (CSV, JSONL, PARQUET)
_EXTENSIONS = {".csv": CSV, ".jsonl": JSONL, ".json": JSONL, ".ndjson": JSONL,
               ".parquet": PARQUET, ".pq": PARQUET}
# Compressed text files, which Beam decompresses by their extension.
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".deflate", ".zst")

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

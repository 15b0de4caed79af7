"""The advertiser catalog: validated rows, one per advertiser, written as TSV.

Input: a CSV, JSON Lines or Parquet file (format from its extension) with an
``advertiser_id`` column, optionally ``category``, and numeric feature columns
(every other column). Output ``advertisers.tsv``: a header row
``advertiser_id<TAB>category<TAB><numeric columns...>``, then one line per
advertiser sorted by id; a missing number is an empty field (NaN). Rejected
rows are dead letters with reasons prefixed ``catalog_``: unsplittable
rows, a missing id, a value that is not a number, an id seen before (the
copy with the smallest raw row is kept), tabs or newlines inside a field.
"""

import os
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue

from beam import counts
from beam import input_files
from beam import output_dir
from beam import row_source
from beam import rows
from tfrs_adcg import schema

CATALOG_MALFORMED_ROW = "catalog_malformed_row"
CATALOG_MISSING_ADVERTISER_ID = "catalog_missing_advertiser_id"
CATALOG_BAD_NUMBER = "catalog_bad_number"
CATALOG_DUPLICATE_ADVERTISER_ID = "catalog_duplicate_advertiser_id"

CATALOG_ROWS_READ = "catalog_rows_read"
CATALOG_ROWS_DROPPED = "catalog_rows_dropped"
CATALOG_ADVERTISERS = "catalog_advertisers"

DEAD_LETTERS = "dead_letters"

# (advertiser id, category, numeric values as text).
Advertiser = Tuple[str, str, Tuple[str, ...]]


def _field_text(value: Any) -> str:
  if value is None:
    return ""
  if isinstance(value, bool):
    return str(int(value))
  return value.strip() if isinstance(value, str) else str(value)


class _ParseAdvertiserFn(beam.DoFn):
  """Batches of raw catalog rows to (advertiser id, (category, numbers, raw))
  or dead letters; counts the rows read per bundle."""

  def __init__(self, splitter: rows.RowSplitter, has_category: bool):
    super().__init__()
    self._split = splitter
    self._numbers_from = 2 if has_category else 1
    self._has_category = has_category
    self._counts = counts.BundleCounts()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, row_batch):
    _, batch = row_batch  # Every file has the columns of the first.
    for raw in batch:
      self._counts.add(CATALOG_ROWS_READ)
      reason, values = self._validate(raw)
      if reason is not None:
        yield pvalue.TaggedOutput(DEAD_LETTERS, (reason, raw))
        continue
      category = values[1] if self._has_category else ""
      yield values[0], (category, tuple(values[self._numbers_from:]), raw)

  def _validate(self, raw: Any) -> Tuple[Optional[str], List[str]]:
    """(None, field texts) of a valid row, else (dead-letter reason, [])."""
    try:
      values = [_field_text(value) for value in self._split(raw)]
    except rows.MalformedRow:
      return CATALOG_MALFORMED_ROW, []
    if any("\t" in value or "\n" in value for value in values):
      return CATALOG_MALFORMED_ROW, []
    if not values[0]:
      return CATALOG_MISSING_ADVERTISER_ID, []
    for value in values[self._numbers_from:]:
      try:
        if value:
          float(value)
      except ValueError:
        return CATALOG_BAD_NUMBER, []
    return None, values

  def finish_bundle(self):
    yield from self._counts.emit()


def _keep_one(advertiser_rows):
  """The copy of an advertiser with the smallest raw row; others dead."""
  advertiser_id, copies = advertiser_rows
  copies = sorted(copies, key=lambda copy: repr(copy[2]))
  category, numbers, _ = copies[0]
  yield advertiser_id, category, numbers
  for _, _, raw in copies[1:]:
    yield pvalue.TaggedOutput(DEAD_LETTERS,
                              (CATALOG_DUPLICATE_ADVERTISER_ID, raw))


class CatalogRead(NamedTuple):
  """What ``ReadAdvertiserCatalog`` gives.

  Attributes:
    advertisers: One ``Advertiser`` per distinct id.
    dead_letters: (reason, raw row as JSON-able value).
    counts: (name, n) pairs to sum.
  """
  advertisers: beam.PCollection
  dead_letters: beam.PCollection
  counts: beam.PCollection


class ReadAdvertiserCatalog(beam.PTransform):
  """Reads and validates the advertiser catalog.

  Construction checks the file like ``event_log.ReadEvents`` does and fixes
  the numeric columns (``numeric_columns``) from its header or schema.
  """

  def __init__(self, pattern: str, flag: str = "--advertiser_catalog"):
    super().__init__()
    paths = input_files.match_files(pattern, flag)
    self._format = rows.infer_format(pattern)
    headers = input_files.read_headers(paths, self._format,
                                       [schema.CATALOG_ADVERTISER_ID])
    columns = input_files.read_columns(paths[0], self._format)
    for path, other in headers.items():
      if other != columns:
        raise rows.InputError(
            f"{path} has the columns {other}, {paths[0]} {columns}: the "
            f"files of {flag} must share one header.")
    input_files.require_columns(columns, [schema.CATALOG_ADVERTISER_ID],
                                paths[0])
    input_files.require_rows(paths, self._format, flag)
    self._has_category = schema.CATALOG_CATEGORY in columns
    self.numeric_columns: List[str] = [
        name for name in columns
        if name not in (schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY)]
    self._wanted = ([schema.CATALOG_ADVERTISER_ID] +
                    [schema.CATALOG_CATEGORY] * self._has_category +
                    self.numeric_columns)
    self._pattern = pattern
    self._splitter = rows.RowSplitter(
        self._format,
        self._wanted if self._format == rows.PARQUET else columns,
        self._wanted)

  def expand(self, pbegin):
    parsed = (pbegin
              | "ReadRows" >> row_source.ReadRows(
                  self._pattern, self._format, self._wanted)
              | "Validate" >> beam.ParDo(
                  _ParseAdvertiserFn(self._splitter, self._has_category)
              ).with_output_types(Tuple[str, Any]).with_outputs(
                  DEAD_LETTERS, counts.COUNTS, main="advertisers"))
    distinct = (parsed.advertisers
                | "GroupById" >> beam.GroupByKey()
                | "KeepOne" >> beam.FlatMap(_keep_one).with_output_types(
                    Advertiser).with_outputs(DEAD_LETTERS, main="advertisers"))
    dead_letters = (
        (parsed[DEAD_LETTERS], distinct[DEAD_LETTERS])
        | "FlattenDeadLetters" >> beam.Flatten()
        | "JsonRows" >> beam.Map(rows.json_dead_letter, self._splitter))
    dropped = dead_letters | "CountDropped" >> beam.MapTuple(
        lambda reason, _: (f"{CATALOG_ROWS_DROPPED}/{reason}", 1))
    kept = distinct.advertisers | "CountKept" >> beam.Map(
        lambda _: (CATALOG_ADVERTISERS, 1))
    catalog_counts = ((parsed[counts.COUNTS], dropped, kept)
                      | "FlattenCounts" >> beam.Flatten())
    return CatalogRead(advertisers=distinct.advertisers,
                       dead_letters=dead_letters, counts=catalog_counts)


def catalog_lines(advertisers: Sequence[Advertiser],
                  numeric_columns: Sequence[str]) -> List[str]:
  """The lines of ``advertisers.tsv``: header, then advertisers by id."""
  header = [schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY]
  lines = ["\t".join(header + list(numeric_columns))]
  for advertiser_id, category, numbers in sorted(advertisers):
    lines.append("\t".join((advertiser_id, category) + tuple(numbers)))
  return lines


def _write_catalog(advertisers: Sequence[Advertiser], path: str,
                   numeric_columns: Sequence[str]) -> str:
  return output_dir.write_text(
      path, "".join(line + "\n"
                    for line in catalog_lines(advertisers, numeric_columns)))


class WriteAdvertiserCatalog(beam.PTransform):
  """Advertisers to ``<output>/advertisers.tsv`` (one file, one worker)."""

  def __init__(self, output: str, numeric_columns: Sequence[str]):
    super().__init__()
    self._path = os.path.join(output, schema.ADVERTISER_CATALOG)
    self._numeric_columns = list(numeric_columns)

  def expand(self, advertisers):
    return (advertisers
            | "Collect" >> beam.combiners.ToList()
            | "Write" >> beam.Map(_write_catalog, self._path,
                                  self._numeric_columns))


def _category_pair(advertiser: Advertiser):
  if advertiser[1]:
    yield (schema.CATALOG_CATEGORY, advertiser[1]), 1


class CountCategories(beam.PTransform):
  """Advertisers to ((``schema.CATALOG_CATEGORY``, category), advertisers)."""

  def expand(self, advertisers):
    return (advertisers
            | "Pairs" >> beam.FlatMap(_category_pair)
            | "Sum" >> beam.CombinePerKey(sum))

"""Event parsing: batches of raw rows validated into events or dead letters.

``ParseEvents`` checks every field of a raw row (ids, time, range, type)
and gives either a user event (``events.UserEvent``), keyed by its
duplicate-detection shard (``dedup.dedup_shard``), or a dead letter
``(reason, raw row)``, whatever the row holds. Most rows of a log are plain
CSV rows with a time in the canonical form; the DoFn validates those of a
batch at once, column by column (``plain_rows``), and leaves out their raw
row, which ``dedup.plain_csv_row`` rebuilds should the event be a
duplicate. Every other row is validated alone.
"""

import collections
import heapq
import itertools
import logging
import math
import operator
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam import pvalue
from apache_beam.transforms import window

from beam import counts
from beam import event_times
from beam import events
from beam import logs
from beam import plain_rows
from beam import rows
from beam.dedup import dedup_shard
from tfrs_adcg import schema
from tfrs_adcg import timestamps
# The dead-letter reasons of event rows, spelled once in the schema.
from tfrs_adcg.schema import BAD_TIMESTAMP
from tfrs_adcg.schema import INVALID_ID
from tfrs_adcg.schema import MALFORMED_ROW
from tfrs_adcg.schema import MISSING_ADVERTISER_ID
from tfrs_adcg.schema import MISSING_USER_ID
from tfrs_adcg.schema import TIMESTAMP_OUT_OF_RANGE
from tfrs_adcg.schema import UNKNOWN_EVENT_TYPE

_LOGGER = logging.getLogger(__name__)

# Output tags (besides counts.COUNTS and the main one, the keyed events).
DEAD_LETTERS = "dead_letters"
TIME_RANGE = "time_range"

# The most ids, and user hashes, a DoFn caches before it starts afresh.
_MAX_CACHED = 100_000
_UINT32 = 1 << 32
# Characters no id may hold: the vocabulary files are tab-separated lines.
_ID_BREAKERS = ("\t", "\n", "\r")


def _id_text(value: Any) -> Optional[str]:
  """A typed id field (JSON Lines, Parquet) as text, None if it is no id.

  None is empty; an integral number is its integer (``678`` and ``678.0``
  are one id), another finite number its repr; a bool, a nested value, a
  non-finite number or a string that is no UTF-8 (a lone surrogate) is no
  id.
  """
  if value is None:
    return ""
  if isinstance(value, str):
    if not value.isascii():
      try:
        value.encode("utf-8")
      except UnicodeEncodeError:  # A lone surrogate of a JSON escape.
        return None
    return value
  if isinstance(value, bool):
    return None
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    if not math.isfinite(value):
      return None
    return str(int(value)) if value.is_integer() else repr(value)
  return None


def _breaks_lines(*ids: str) -> bool:
  """Whether an id holds a tab or line break."""
  return any(breaker in id_ for id_ in ids for breaker in _ID_BREAKERS)


_POSITION = operator.itemgetter(0)  # Of a (position in the batch, value).


def _encoded(values: pa.Array, lookup: Callable[[str], str]
             ) -> Tuple[np.ndarray, np.ndarray]:
  """``values`` as (``lookup`` of each distinct value, object [U]; the index
  of each value's, int [N]): ``lookup`` runs once per distinct value."""
  encoded = pc.dictionary_encode(values)
  distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
  return (np.array(list(map(lookup, distinct)), object),
          encoded.indices.to_numpy(zero_copy_only=False))


class _ParseEventsFn(beam.DoFn):
  """Validates batches of raw rows (``rows.RowBatch``): ``(shard, [(user
  event, raw), ...])`` per shard of the batch, and dead letters ``(reason,
  raw)``.

  ``raw`` is None in place of a plain row (``plain_rows``), the common row,
  validated with the others of its batch at once: ``dedup.plain_csv_row``
  rebuilds it from the event, so duplicate detection need not carry it.
  Counts the rows it reads and the time range of the valid events per
  bundle, emitted when the bundle finishes; logs the rows read so far every
  ``logs.PROGRESS_SECONDS``.
  """

  def __init__(self, file_format: str, event_types: Sequence[str],
               min_time: int, max_time: int, dedup_shards: int,
               timestamp_unit: str = timestamps.SECONDS):
    super().__init__()
    self._format = file_format
    self._typed_values = file_format != rows.CSV
    self._event_types = {event_type: event_type for event_type in event_types}
    self._min_time = min_time
    self._max_time = max_time
    self._shards = dedup_shards
    self._parse_time = event_times.TimestampParser(timestamp_unit)
    self._splitters: Dict[Tuple[str, ...], rows.RowSplitter] = {}
    self._ids: Dict[str, str] = {}
    self._user_hashes: Dict[str, int] = {}  # For dedup_shard.
    self._read = 0
    self._earliest = None
    self._latest = None
    self._read_in_process = 0
    self._reported_at = 0.0

  def setup(self):
    self._reported_at = time.monotonic()

  def start_bundle(self):
    self._read = 0
    self._earliest = None
    self._latest = None

  def splitter(self, columns: Sequence[str]) -> rows.RowSplitter:
    """The splitter of rows of a file with ``columns`` (see ``rows.RowBatch``)."""
    columns = tuple(columns)
    split = self._splitters.get(columns)
    if split is None:
      split = self._splitters[columns] = rows.RowSplitter(
          self._format, columns, schema.RAW_COLUMNS)
    return split

  def validate(self, raw: Any, split: rows.RowSplitter
               ) -> Tuple[Optional[str], Optional[events.UserEvent]]:
    """(None, user event) of a valid row, else (dead-letter reason, None)."""
    try:
      user, when, event_type, item, advertiser = split(raw)
    except rows.MalformedRow:
      return MALFORMED_ROW, None
    if self._typed_values:  # JSON Lines and Parquet: None, numbers.
      user, event_type, item, advertiser = (
          _id_text(user), _id_text(event_type), _id_text(item),
          _id_text(advertiser))
      if None in (user, event_type, item, advertiser):
        return INVALID_ID, None
    if not user:
      return MISSING_USER_ID, None
    if not advertiser:
      return MISSING_ADVERTISER_ID, None
    if _breaks_lines(user, item, advertiser):
      return INVALID_ID, None
    try:
      timestamp = self._parse_time(when)
    except ValueError:
      return BAD_TIMESTAMP, None
    if not self._min_time <= timestamp <= self._max_time:
      return TIMESTAMP_OUT_OF_RANGE, None
    if event_type not in self._event_types:
      return UNKNOWN_EVENT_TYPE, None
    # One string object per id: less memory, smaller shuffles.
    ids = self._ids
    if len(ids) >= _MAX_CACHED:
      ids.clear()
    return None, (ids.setdefault(user, user),
                  (timestamp, self._event_types[event_type],
                   ids.setdefault(item, item),
                   ids.setdefault(advertiser, advertiser)))

  def process(self, row_batch):
    columns, batch = row_batch
    split = self.splitter(columns)
    self._read += len(batch)
    self._report_progress(len(batch))
    if len(self._ids) >= _MAX_CACHED:
      self._ids.clear()
    if len(self._user_hashes) >= _MAX_CACHED:
      self._user_hashes.clear()
    earliest, latest = self._earliest, self._latest
    # The plain rows of a plain CSV file at once; any other row alone.
    plain: Dict[int, Tuple[np.ndarray, List[Any]]] = {}
    others = range(len(batch))
    if split.plain_csv and batch:
      found = plain_rows.find_plain_rows(
          batch, self._event_types, self._min_time, self._max_time)
      others = found.others.tolist()
      if len(found.positions):
        plain = self._plain_events(found)
        first, last = int(found.timestamps.min()), int(found.timestamps.max())
        earliest = first if earliest is None else min(earliest, first)
        latest = last if latest is None else max(latest, last)
    validated: Dict[int, List[Tuple[int, Any]]] = collections.defaultdict(
        list)
    for position in others:
      raw = batch[position]
      reason, event = self.validate(raw, split)
      if reason is not None:
        yield pvalue.TaggedOutput(DEAD_LETTERS, (reason, raw))
        continue
      timestamp = event[1][0]
      if earliest is None or timestamp < earliest:
        earliest = timestamp
      if latest is None or timestamp > latest:
        latest = timestamp
      shard = (self._user_hash(event[0]) + timestamp) % self._shards
      validated[shard].append((position, (event, raw)))
    self._earliest, self._latest = earliest, latest
    for shard, (positions, shard_events) in plain.items():
      if shard in validated:  # Both kinds: in the order of the batch.
        shard_events = [event for _, event in heapq.merge(
            zip(positions.tolist(), shard_events), validated.pop(shard),
            key=_POSITION)]
      yield shard, shard_events
    for shard, shard_events in validated.items():
      yield shard, [event for _, event in shard_events]

  def _intern(self, id_: str) -> str:
    """One string object per id: less memory, smaller shuffles."""
    return self._ids.setdefault(id_, id_)

  def _user_hash(self, user: str) -> int:
    user_hash = self._user_hashes.get(user)
    if user_hash is None:
      user_hash = self._user_hashes[user] = dedup_shard(user, 0, _UINT32)
    return user_hash

  def _plain_events(self, plain: plain_rows.PlainRows
                    ) -> Dict[int, Tuple[np.ndarray, List[Any]]]:
    """The events of plain rows by shard: ``{shard: (positions in the batch,
    [(user event, None), ...])}``, each shard's in the order of the batch.

    None stands for the raw row, which ``dedup.plain_csv_row`` rebuilds.
    """
    users, user_codes = _encoded(plain.users, self._intern)
    hashes = np.array(list(map(self._user_hash, users)), np.int64)
    shards = (hashes[user_codes] + plain.timestamps) % self._shards
    order = np.argsort(shards, kind="stable")
    columns = [users[user_codes[order]].tolist(),
               plain.timestamps[order].tolist()]
    for values, lookup in ((plain.event_types, self._event_types.__getitem__),
                           (plain.items, self._intern),
                           (plain.advertisers, self._intern)):
      distinct, codes = _encoded(values, lookup)
      columns.append(distinct[codes[order]].tolist())
    user_ids, times, *ids = columns
    events = list(zip(zip(user_ids, zip(times, *ids)), itertools.repeat(None)))
    shards, positions = shards[order], plain.positions[order]
    starts = np.flatnonzero(np.diff(shards)) + 1
    bounds = zip([0] + starts.tolist(), starts.tolist() + [len(events)])
    return {int(shards[start]): (positions[start:end], events[start:end])
            for start, end in bounds}

  def _report_progress(self, rows_read: int) -> None:
    self._read_in_process += rows_read
    now = time.monotonic()
    if now - self._reported_at >= logs.PROGRESS_SECONDS:
      self._reported_at = now
      _LOGGER.info("%s event rows read so far (in this process).",
                   f"{self._read_in_process:,}")

  def finish_bundle(self):
    yield pvalue.TaggedOutput(
        counts.COUNTS,
        window.GlobalWindows.windowed_value((events.EVENTS_READ, self._read)))
    if self._latest is not None:
      yield pvalue.TaggedOutput(
          TIME_RANGE,
          window.GlobalWindows.windowed_value(
              (int(self._earliest), int(self._latest))))


class ParseEvents(beam.PTransform):
  """Batches of raw rows to events, dead letters, row counts and time range.

  Takes ``rows.RowBatch`` elements (``row_source.ReadRows``). Outputs (a
  ``DoOutputsTuple``): the main output is ``(shard, [(user event, raw row),
  ...])`` for ``dedup.DeduplicateEvents``, the valid rows of a batch grouped by
  their shard, with None for a raw row that ``dedup.plain_csv_row`` gives back;
  ``DEAD_LETTERS`` holds ``(reason, raw row)``; ``counts.COUNTS`` holds
  ``(EVENTS_READ, n)`` per bundle; ``TIME_RANGE`` holds (earliest, latest)
  valid timestamps per bundle, in whole seconds.
  """

  def __init__(self, file_format: str, event_types: Sequence[str],
               min_time: int, max_time: int, dedup_shards: int,
               timestamp_unit: str = timestamps.SECONDS):
    super().__init__()
    self._fn = _ParseEventsFn(file_format, event_types, min_time, max_time,
                              dedup_shards, timestamp_unit)

  def expand(self, raw_rows):
    return raw_rows | "Validate" >> beam.ParDo(self._fn).with_output_types(
        Tuple[int, Any]).with_outputs(DEAD_LETTERS, counts.COUNTS, TIME_RANGE,
                                      main="events")

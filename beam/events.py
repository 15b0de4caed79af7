"""Raw events: rows validated into events, exact duplicates removed.

``ReadEvents`` is the one way the pipelines of this package read an event
log. Its output is every valid, distinct event keyed by user,
``(user_id, (timestamp, event_type, item_id, advertiser_id))`` with the
timestamp in UTC epoch seconds; the value tuple sorts events in time order
with ties broken by type, item and advertiser. Every input row is either such
an event or a dead letter ``(reason, raw row)``, and per-bundle counts say
how many rows were read, so that
``events_read == distinct events + dead letters``.
"""

import datetime
import re
import zlib
from typing import Any, Dict, Iterable, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms import window

from beam import counts
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps

# An event without its user: sorts by time, then type, item, advertiser.
Event = Tuple[int, str, str, str]
UserEvent = Tuple[str, Event]
DeadLetter = Tuple[str, Any]  # (reason, raw row)

# Dead-letter reasons of event rows.
MALFORMED_ROW = "malformed_row"
MISSING_USER_ID = "missing_user_id"
MISSING_ADVERTISER_ID = "missing_advertiser_id"
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
DUPLICATE = "duplicate"
DROP_REASONS = (MALFORMED_ROW, MISSING_USER_ID, MISSING_ADVERTISER_ID,
                BAD_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE, UNKNOWN_EVENT_TYPE,
                DUPLICATE)

EVENTS_READ = "events_read"
EVENTS_DROPPED = "events_dropped"

# Output tags of ParseEvents (besides counts.COUNTS).
DEAD_LETTERS = "dead_letters"
TIME_RANGE = "time_range"

_ISO_SECONDS = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})Z?")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_DAY_SECONDS = 86400
_MAX_CACHED_DAYS = 100_000


class TimestampParser:
  """``timestamps.parse_timestamp`` with a fast path for second-precision ISO.

  Log timestamps like ``2026-01-01T00:10:42Z`` are parsed from their digits
  with a cache of the dates; anything else (epoch seconds, fractions, zone
  offsets, datetimes from Parquet) follows ``parse_timestamp``'s rules.
  """

  def __init__(self):
    self._days: Dict[str, int] = {}

  def __call__(self, value: Any) -> int:
    """UTC epoch seconds of ``value``.

    Raises:
      ValueError: if ``value`` is not a time.
    """
    if isinstance(value, str):
      match = _ISO_SECONDS.fullmatch(value)
      if match is not None:
        day = self._days.get(match[1])
        if day is None:
          day = self._day(match[1])
        hours, minutes, seconds = int(match[2]), int(match[3]), int(match[4])
        if hours > 23 or minutes > 59 or seconds > 59:
          raise ValueError(f"Not a time of day: {value!r}")
        return day + hours * 3600 + minutes * 60 + seconds
    elif isinstance(value, datetime.datetime):
      if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
      return int((value - _EPOCH).total_seconds())
    elif value is None:
      raise ValueError("No timestamp.")
    try:
      return timestamps.parse_timestamp(value)
    except OverflowError as e:  # float("inf") and friends
      raise ValueError(str(e)) from None

  def _day(self, date: str) -> int:
    if len(self._days) >= _MAX_CACHED_DAYS:
      self._days.clear()
    day = datetime.date.fromisoformat(date).toordinal()
    seconds = (day - datetime.date(1970, 1, 1).toordinal()) * _DAY_SECONDS
    self._days[date] = seconds
    return seconds


def dedup_shard(user_id: str, timestamp: int, num_shards: int) -> int:
  """The shard of an event's duplicate detection.

  Exact duplicates share user and time, so they share the shard; a user's
  events spread over the shards with time, so one heavy user does not make
  one big shard. Deterministic across processes (unlike ``hash``).
  """
  return (zlib.crc32(user_id.encode()) + timestamp) % num_shards


def _text(value: Any) -> str:
  """An id field as text: None is empty, numbers (JSON, Parquet) as str."""
  if value is None:
    return ""
  return value if isinstance(value, str) else str(value)


class _ParseEventsFn(beam.DoFn):
  """Validates batches of raw rows into ``(shard, (user event, raw))`` or dead
  letters.

  Counts the rows it reads and the time range of the valid events per
  bundle, emitted when the bundle finishes.
  """

  def __init__(self, splitter: rows.RowSplitter, event_types: Sequence[str],
               min_time: int, max_time: int, dedup_shards: int):
    super().__init__()
    self._split = splitter
    self._event_types = frozenset(event_types)
    self._min_time = min_time
    self._max_time = max_time
    self._shards = dedup_shards
    self._parse_time = TimestampParser()
    self._read = 0
    self._earliest = None
    self._latest = None

  def start_bundle(self):
    self._read = 0
    self._earliest = None
    self._latest = None

  def validate(self, raw: Any) -> Tuple[Optional[str], Optional[UserEvent]]:
    """(None, user event) of a valid row, else (dead-letter reason, None)."""
    try:
      user, when, event_type, item, advertiser = self._split(raw)
    except rows.MalformedRow:
      return MALFORMED_ROW, None
    if user.__class__ is not str:  # JSON Lines and Parquet values.
      user, event_type, item, advertiser = (
          _text(user), _text(event_type), _text(item), _text(advertiser))
    if not user:
      return MISSING_USER_ID, None
    if not advertiser:
      return MISSING_ADVERTISER_ID, None
    try:
      timestamp = self._parse_time(when)
    except ValueError:
      return BAD_TIMESTAMP, None
    if not self._min_time <= timestamp <= self._max_time:
      return TIMESTAMP_OUT_OF_RANGE, None
    if event_type not in self._event_types:
      return UNKNOWN_EVENT_TYPE, None
    return None, (user, (timestamp, event_type, item, advertiser))

  def process(self, batch):
    self._read += len(batch)
    earliest, latest = self._earliest, self._latest
    for raw in batch:
      reason, event = self.validate(raw)
      if reason is not None:
        yield pvalue.TaggedOutput(DEAD_LETTERS, (reason, raw))
        continue
      timestamp = event[1][0]
      if earliest is None or timestamp < earliest:
        earliest = timestamp
      if latest is None or timestamp > latest:
        latest = timestamp
      yield dedup_shard(event[0], timestamp, self._shards), (event, raw)
    self._earliest, self._latest = earliest, latest

  def finish_bundle(self):
    yield pvalue.TaggedOutput(
        counts.COUNTS,
        window.GlobalWindows.windowed_value((EVENTS_READ, self._read)))
    if self._latest is not None:
      yield pvalue.TaggedOutput(
          TIME_RANGE,
          window.GlobalWindows.windowed_value((self._earliest, self._latest)))


class ParseEvents(beam.PTransform):
  """Batches of raw rows to events, dead letters, row counts and time range.

  Outputs (a ``DoOutputsTuple``): the main output is
  ``(shard, (user event, raw row))`` for ``DeduplicateEvents``;
  ``DEAD_LETTERS`` holds ``(reason, raw row)``; ``counts.COUNTS`` holds
  ``(EVENTS_READ, n)`` per bundle; ``TIME_RANGE`` holds (earliest, latest)
  valid timestamps per bundle.
  """

  def __init__(self, splitter: rows.RowSplitter, event_types: Sequence[str],
               min_time: int, max_time: int, dedup_shards: int):
    super().__init__()
    self._fn = _ParseEventsFn(splitter, event_types, min_time, max_time,
                              dedup_shards)

  def expand(self, raw_rows):
    return raw_rows | "Validate" >> beam.ParDo(self._fn).with_output_types(
        Tuple[int, Any]).with_outputs(DEAD_LETTERS, counts.COUNTS, TIME_RANGE,
                                      main="events")


class _DistinctEventsFn(beam.CombineFn):
  """Distinct events of a shard; the raw rows of the other copies.

  The accumulator is ``[{user event: raw row}, [raw rows of duplicates]]``.
  """

  def create_accumulator(self):
    return [{}, []]

  def add_input(self, accumulator, element):
    event, raw = element
    distinct = accumulator[0]
    if event in distinct:
      accumulator[1].append(raw)
    else:
      distinct[event] = raw
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    distinct, duplicates = merged
    for other_distinct, other_duplicates in accumulators:
      duplicates.extend(other_duplicates)
      for event, raw in other_distinct.items():
        if event in distinct:
          duplicates.append(raw)
        else:
          distinct[event] = raw
    return merged

  def extract_output(self, accumulator):
    return accumulator


def _split_distinct(shard_and_accumulator):
  """Emits each distinct user event; the duplicates as dead letters."""
  distinct, duplicates = shard_and_accumulator[1]
  yield from distinct
  for raw in duplicates:
    yield pvalue.TaggedOutput(DEAD_LETTERS, (DUPLICATE, raw))


class DeduplicateEvents(beam.PTransform):
  """``(shard, (user event, raw))`` to distinct user events and dead letters.

  A combiner per shard keeps one copy of each event (all five fields equal,
  the time as parsed) and the raw rows of the others; combiner lifting drops
  most duplicates before the shuffle. Outputs the distinct events (main)
  and ``DEAD_LETTERS``.
  """

  def expand(self, keyed):
    return (keyed
            | "DistinctPerShard" >> beam.CombinePerKey(_DistinctEventsFn())
            | "SplitDuplicates" >> beam.FlatMap(
                _split_distinct).with_output_types(
                    Tuple[str, Any]).with_outputs(DEAD_LETTERS, main="events"))


class _TimeRangeFn(beam.CombineFn):
  """(earliest, latest) of (earliest, latest) pairs; None when there are none."""

  def create_accumulator(self):
    return None

  def add_input(self, accumulator, element):
    if accumulator is None:
      return tuple(element)
    return min(accumulator[0], element[0]), max(accumulator[1], element[1])

  def merge_accumulators(self, accumulators):
    merged = None
    for accumulator in accumulators:
      if accumulator is not None:
        merged = self.add_input(merged, accumulator)
    return merged

  def extract_output(self, accumulator):
    return accumulator


class EventsRead(NamedTuple):
  """What ``ReadEvents`` gives.

  Attributes:
    events: Distinct valid events, ``(user_id, (timestamp, event_type,
      item_id, advertiser_id))``.
    dead_letters: ``(reason, raw row as JSON-able value)`` of every rejected
      row.
    counts: ``(name, n)`` pairs to sum: rows read and dead letters by reason
      (``events_dropped/<reason>``).
    time_range: A single ``(earliest, latest)`` valid event time, or None.
  """
  events: beam.PCollection
  dead_letters: beam.PCollection
  counts: beam.PCollection
  time_range: beam.PCollection


def _dead_letter_count(dead_letter: DeadLetter) -> Tuple[str, int]:
  return f"{EVENTS_DROPPED}/{dead_letter[0]}", 1


class ReadEvents(beam.PTransform):
  """Reads an event log into distinct valid events, dead letters and counts.

  Construction checks the input (it must match files, the first must have
  the raw columns, and some file a data row) and raises ``rows.InputError``
  with a sentence otherwise; that reads the first file's header only.

  Args:
    pattern: File pattern of the event log.
    file_format: One of ``rows.FORMATS``.
    event_types: The known event types; other types are dead letters.
    min_time: Earliest valid time, epoch seconds.
    max_time: Latest valid time, epoch seconds.
    dedup_shards: Shards of the duplicate detection.
    flag: How error messages name the input.
  """

  def __init__(self, pattern: str, file_format: str,
               event_types: Iterable[str], min_time: int, max_time: int,
               dedup_shards: int = 4096, flag: str = "--input"):
    super().__init__()
    paths = rows.match_files(pattern, flag)
    columns = rows.read_columns(paths[0], file_format)
    rows.require_columns(columns, schema.RAW_COLUMNS, paths[0])
    rows.require_rows(paths, file_format, flag)
    self._pattern = pattern
    self._format = file_format
    # Parquet rows hold only the raw columns, in schema order.
    file_columns = (schema.RAW_COLUMNS
                    if file_format == rows.PARQUET else columns)
    self._splitter = rows.RowSplitter(file_format, file_columns,
                                      schema.RAW_COLUMNS)
    self._event_types = tuple(event_types)
    self._min_time = min_time
    self._max_time = max_time
    self._dedup_shards = dedup_shards

  def expand(self, pbegin) -> EventsRead:
    raw_rows = pbegin | "ReadRows" >> rows.ReadRows(
        self._pattern, self._format, schema.RAW_COLUMNS)
    parsed = raw_rows | "ParseEvents" >> ParseEvents(
        self._splitter, self._event_types, self._min_time, self._max_time,
        self._dedup_shards)
    distinct = parsed.events | "Deduplicate" >> DeduplicateEvents()
    dead_letters = (
        (parsed[DEAD_LETTERS], distinct[DEAD_LETTERS])
        | "FlattenDeadLetters" >> beam.Flatten()
        | "JsonRows" >> beam.Map(rows.json_dead_letter, self._splitter))
    dropped = dead_letters | "CountDropped" >> beam.Map(_dead_letter_count)
    event_counts = ((parsed[counts.COUNTS], dropped)
                    | "FlattenCounts" >> beam.Flatten())
    time_range = parsed[TIME_RANGE] | "TimeRange" >> beam.CombineGlobally(
        _TimeRangeFn())
    return EventsRead(events=distinct.events, dead_letters=dead_letters,
                      counts=event_counts, time_range=time_range)

"""Raw events: rows validated into events, exact duplicates removed.

``ReadEvents`` is the one way the pipelines of this package read an event
log. Its output is every valid, distinct event keyed by user,
``(user_id, (timestamp, event_type, item_id, advertiser_id))`` with the
timestamp in UTC epoch seconds (``timestamps.event_time``: a time with a
fraction of a second is an ``Instant``, which orders by its milliseconds);
the value tuple sorts events in time order with ties broken by type, item
and advertiser. Every input row is either such an event or a dead letter
``(reason, raw row)``, whatever the row holds, and per-bundle counts say how
many rows were read, so that ``events_read == distinct events + dead
letters``. On the way, the ids of the distinct events are counted for the
vocabularies.
"""

import collections
import datetime
import logging
import math
import operator
import re
import time
import zlib
from typing import (Any, Dict, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple)

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms import window

from beam import collector
from beam import combiners
from beam import counts
from beam import direct_runner
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps
# The dead-letter reasons of event rows, spelled once in the schema.
from tfrs_adcg.schema import BAD_TIMESTAMP
from tfrs_adcg.schema import DUPLICATE
from tfrs_adcg.schema import INVALID_ID
from tfrs_adcg.schema import MALFORMED_ROW
from tfrs_adcg.schema import MISSING_ADVERTISER_ID
from tfrs_adcg.schema import MISSING_USER_ID
from tfrs_adcg.schema import TIMESTAMP_OUT_OF_RANGE
from tfrs_adcg.schema import UNKNOWN_EVENT_TYPE

_LOGGER = logging.getLogger(__name__)

# An event without its user: sorts by time, then type, item, advertiser.
Event = Tuple[int, str, str, str]
UserEvent = Tuple[str, Event]
DeadLetter = Tuple[str, Any]  # (reason, raw row)

EVENTS_READ = "events_read"
EVENTS_DROPPED = "events_dropped"

# Output tags (besides counts.COUNTS).
DEAD_LETTERS = "dead_letters"
TIME_RANGE = "time_range"
ID_COUNTS = "id_counts"

# Input bytes per duplicate-detection shard when their number is automatic:
# some 150k events of a CSV log (tens of MiB in memory), fewer of a
# compressed one. Larger shards mean fewer, larger lists of a user's
# events for the timeline combiner.
BYTES_PER_DEDUP_SHARD = 8 * 2**20

# The history vocabularies, in the order of their values in an Event.
ID_FEATURES = (schema.EVENT_TYPE, schema.ITEM_ID, schema.ADVERTISER_ID)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_OF_DAY = re.compile(r"[T ][0-9]{2}:[0-9]{2}:[0-9]{2}Z?")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_MILLISECOND = datetime.timedelta(milliseconds=1)
_DAY_SECONDS = 86400
_MAX_CACHED = 100_000
_UINT32 = 1 << 32
# Characters no id may hold: the vocabulary files are tab-separated lines.
_ID_BREAKERS = ("\t", "\n", "\r")
# Parsing logs the rows read so far at most this often (per process).
PROGRESS_SECONDS = 30.0
# The driver detects the timestamp unit from this many rows of as many files.
_UNIT_SAMPLE_ROWS = 100
_UNIT_SAMPLE_FILES = 10


class TimestampParser:
  """Raw times to event times (``timestamps.event_time``), fast for logs.

  Second-precision ISO times (``2026-01-01T00:10:42Z``, ``T`` or a space,
  ``Z`` optional) are split into date and time of day, each parsed once and
  cached; anything else (epoch numbers in ``unit``, fractions, zone offsets,
  Parquet datetimes) follows ``timestamps.parse_timestamp_ms``'s rules.

  Args:
    unit: How epoch numbers count (``timestamps.TIMESTAMP_UNITS``, not
      AUTO, which reads them as seconds).
  """

  def __init__(self, unit: str = timestamps.SECONDS):
    self._unit = unit
    self._dates: Dict[str, int] = {}  # "2026-01-01": its midnight.
    # Seconds after midnight of "T00:10:42Z" and, apart, the other forms.
    self._times: Dict[str, int] = {}
    self._other_times: Dict[str, int] = {}

  @property
  def caches(self) -> Tuple[Dict[str, int], Dict[str, int]]:
    """(dates, times of day of the canonical form) parsed so far.

    If ``value[:10]`` is in the first and ``value[10:]`` in the second,
    ``value`` is ``timestamps.to_iso`` of the sum of theirs.
    """
    return self._dates, self._times

  def _parts(self, value: str) -> Tuple[Optional[int], Optional[int]]:
    """(midnight, seconds after it) of a second-precision ISO time, cached.

    Either is None if that part of ``value`` is not a valid date (the first
    10 characters) or time of day (the rest).
    """
    date = self._dates.get(value[:10])
    if date is None and _DATE.fullmatch(value, 0, 10):
      date = self._date(value[:10])
    time_of_day = self._times.get(value[10:])
    if time_of_day is None:
      time_of_day = self._other_times.get(value[10:])
      if time_of_day is None and _TIME_OF_DAY.fullmatch(value, 10):
        time_of_day = self._time_of_day(value[10:])
    return date, time_of_day

  def __call__(self, value: Any) -> int:
    """The event time (UTC epoch seconds, maybe an ``Instant``) of ``value``.

    Raises:
      ValueError: if ``value`` is not a time.
    """
    if value.__class__ is str:
      date, time_of_day = self._parts(value)
      if date is not None and time_of_day is not None:
        return date + time_of_day
    elif isinstance(value, datetime.datetime):
      if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
      return timestamps.event_time((value - _EPOCH) // _MILLISECOND)
    elif value is None:
      raise ValueError("No timestamp.")
    try:
      return timestamps.event_time(
          timestamps.parse_timestamp_ms(value, self._unit))
    except OverflowError as e:  # A date beyond datetime's.
      raise ValueError(str(e)) from None

  def _date(self, text: str) -> Optional[int]:
    try:
      ordinal = datetime.date.fromisoformat(text).toordinal()
    except ValueError:  # "2026-02-30"
      return None
    if len(self._dates) >= _MAX_CACHED:
      self._dates.clear()
    seconds = self._dates[text] = (ordinal - _EPOCH_ORDINAL) * _DAY_SECONDS
    return seconds

  def _time_of_day(self, text: str) -> Optional[int]:
    """Seconds after midnight of a ``_TIME_OF_DAY`` match, if valid."""
    hours, minutes, seconds = int(text[1:3]), int(text[4:6]), int(text[7:9])
    if hours > 23 or minutes > 59 or seconds > 59:
      return None
    cache = (self._times if text[0] == "T" and text[-1] == "Z"
             else self._other_times)
    if len(cache) >= _MAX_CACHED:
      cache.clear()
    seconds = cache[text] = hours * 3600 + minutes * 60 + seconds
    return seconds


def automatic_dedup_shards(input_bytes: int, parallelism: int = 1) -> int:
  """One duplicate-detection shard per ``BYTES_PER_DEDUP_SHARD`` of input,
  rounded up to a multiple of ``parallelism``, the bundles a runner runs at
  once (``direct_runner.parallelism``), so that they get equal shares."""
  return direct_runner.balanced_pieces(input_bytes, BYTES_PER_DEDUP_SHARD,
                                       parallelism)


def dedup_shard(user_id: str, timestamp: int, num_shards: int) -> int:
  """The shard of an event's duplicate detection.

  Exact duplicates share user and time, so they share the shard; a user's
  events spread over the shards with time, so one heavy user does not make
  one big shard. Deterministic across processes (unlike ``hash``).
  """
  return (zlib.crc32(user_id.encode()) + timestamp) % num_shards


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


def plain_csv_row(user_event: UserEvent) -> str:
  """The raw row of an event read from a plain CSV row (the raw columns in
  order, no quotes) with its time in the canonical form
  (``timestamps.to_iso``)."""
  user, (timestamp, event_type, item, advertiser) = user_event
  return ",".join((user, timestamps.to_iso(timestamp), event_type, item,
                   advertiser))


class _ParseEventsFn(beam.DoFn):
  """Validates batches of raw rows (``rows.RowBatch``): ``(shard, [(user
  event, raw), ...])`` per shard of the batch, and dead letters ``(reason,
  raw)``.

  ``raw`` is None in place of a plain CSV row with its time in the canonical
  form, the common row: ``plain_csv_row`` rebuilds it from the event, so
  duplicate detection need not carry it. Counts the rows it reads and the
  time range of the valid events per bundle, emitted when the bundle
  finishes; logs the rows read so far every ``PROGRESS_SECONDS``.
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
    self._parse_time = TimestampParser(timestamp_unit)
    self._splitters: Dict[Tuple[str, ...], rows.RowSplitter] = {}
    self._ids: Dict[str, str] = {}
    self._user_hashes: Dict[str, int] = {}  # For dedup_shard.
    self._read = 0
    self._earliest = None
    self._latest = None
    self._read_in_process = 0
    self._reported_at = 0.0

  def setup(self):
    collector.collect_less()
    self._reported_at = time.monotonic()

  def start_bundle(self):
    self._read = 0
    self._earliest = None
    self._latest = None

  def splitter(self, columns: Sequence[str]) -> rows.RowSplitter:
    """The splitter of rows of a file with ``columns`` (see ``RowBatch``)."""
    columns = tuple(columns)
    split = self._splitters.get(columns)
    if split is None:
      split = self._splitters[columns] = rows.RowSplitter(
          self._format, columns, schema.RAW_COLUMNS)
    return split

  def validate(self, raw: Any, split: rows.RowSplitter
               ) -> Tuple[Optional[str], Optional[UserEvent]]:
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
    earliest, latest = self._earliest, self._latest
    by_shard = collections.defaultdict(list)
    # A fast path for the common row: plain CSV (the raw columns in order,
    # no quotes, tabs or line breaks) and valid. Any other row goes through
    # validate().
    plain_csv = split.plain_csv
    width = len(schema.RAW_COLUMNS)
    event_types, min_time, max_time = (self._event_types, self._min_time,
                                       self._max_time)
    parse_time = self._parse_time
    dates, times_of_day = parse_time.caches
    ids, user_hashes, shards = self._ids, self._user_hashes, self._shards
    if len(ids) >= _MAX_CACHED:
      ids.clear()
    if len(user_hashes) >= _MAX_CACHED:
      user_hashes.clear()
    for raw in batch:
      event = None
      if (plain_csv and '"' not in raw and "\t" not in raw
          and "\r" not in raw and "\n" not in raw):
        fields = raw.split(",")
        if len(fields) == width:
          user, when, event_type, item, advertiser = fields
          event_type = event_types.get(event_type)
          date = dates.get(when[:10])
          time_of_day = times_of_day.get(when[10:])
          if date is not None and time_of_day is not None:
            # A canonical time: the raw row is plain_csv_row(event).
            timestamp, kept = date + time_of_day, None
          else:  # A time seen first, or in another form.
            try:
              timestamp = parse_time(when)
            except ValueError:
              timestamp = None
            canonical = when[:10] in dates and when[10:] in times_of_day
            kept = None if canonical else raw
          if (user and advertiser and event_type is not None
              and timestamp is not None and min_time <= timestamp <= max_time):
            event = (ids.setdefault(user, user),
                     (timestamp, event_type, ids.setdefault(item, item),
                      ids.setdefault(advertiser, advertiser)))
      if event is None:
        reason, event = self.validate(raw, split)
        if reason is not None:
          yield pvalue.TaggedOutput(DEAD_LETTERS, (reason, raw))
          continue
        kept = raw
      timestamp = event[1][0]
      if earliest is None or timestamp < earliest:
        earliest = timestamp
      if latest is None or timestamp > latest:
        latest = timestamp
      user_hash = user_hashes.get(event[0])
      if user_hash is None:
        user_hash = user_hashes[event[0]] = dedup_shard(event[0], 0, _UINT32)
      by_shard[(user_hash + timestamp) % shards].append((event, kept))
    self._earliest, self._latest = earliest, latest
    yield from by_shard.items()

  def _report_progress(self, rows_read: int) -> None:
    self._read_in_process += rows_read
    now = time.monotonic()
    if now - self._reported_at >= PROGRESS_SECONDS:
      self._reported_at = now
      _LOGGER.info("%s event rows read so far (in this process).",
                   f"{self._read_in_process:,}")

  def finish_bundle(self):
    yield pvalue.TaggedOutput(
        counts.COUNTS,
        window.GlobalWindows.windowed_value((EVENTS_READ, self._read)))
    if self._latest is not None:
      yield pvalue.TaggedOutput(
          TIME_RANGE,
          window.GlobalWindows.windowed_value(
              (int(self._earliest), int(self._latest))))


class ParseEvents(beam.PTransform):
  """Batches of raw rows to events, dead letters, row counts and time range.

  Takes ``rows.RowBatch`` elements (``rows.ReadRows``). Outputs (a
  ``DoOutputsTuple``): the main output is ``(shard, [(user event, raw row),
  ...])`` for ``DeduplicateEvents``, the valid rows of a batch grouped by
  their shard, with None for a raw row that ``plain_csv_row`` gives back;
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


class _DistinctEventsFn(beam.CombineFn):
  """Distinct events of a shard; the raw rows of the other copies.

  Inputs are lists of (user event, raw row), the raw row None for a plain
  CSV row that ``plain_csv_row`` rebuilds. The accumulator is
  ``[{user event: raw row or None}, [raw rows of duplicates]]``.
  """

  def setup(self):
    collector.collect_less()

  def create_accumulator(self):
    return [{}, []]

  def add_input(self, accumulator, element):
    _add_one_by_one(*accumulator, element)
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    distinct, duplicates = merged
    for other_distinct, other_duplicates in accumulators:
      duplicates.extend(other_duplicates)
      if distinct.keys().isdisjoint(other_distinct.keys()):
        distinct.update(other_distinct)  # No duplicate: all at once.
      else:
        _add_one_by_one(distinct, duplicates, other_distinct.items())
    return merged

  def extract_output(self, accumulator):
    return accumulator


def _add_one_by_one(distinct: Dict[UserEvent, Any], duplicates: List[Any],
                    events_and_raws: Iterable[Tuple[UserEvent, Any]]) -> None:
  """Adds each new event to ``distinct``, the raw row of each other one to
  ``duplicates``."""
  for event, raw in events_and_raws:
    if event in distinct:
      duplicates.append(plain_csv_row(event) if raw is None else raw)
    else:
      distinct[event] = raw


_EVENT = operator.itemgetter(1)  # Of a user event.
_IDS = operator.itemgetter(slice(1, None))  # Of an event: its ID_FEATURES.


class _SplitDistinctFn(beam.DoFn):
  """Emits the distinct events of a shard, the others as dead letters.

  Counts the ids of the distinct events per bundle, for the vocabularies:
  ``ID_COUNTS`` gets ((feature, id), n) with the empty id (padding) left out.

  Args:
    grouped: Emit ``(user_id, [event, ...])`` per user of the shard rather
      than one ``(user_id, event)`` per event.
  """

  def __init__(self, grouped: bool = False):
    super().__init__()
    self._grouped = grouped
    self._ids = collections.Counter()

  def start_bundle(self):
    self._ids = collections.Counter()

  def process(self, shard_and_accumulator):
    distinct, duplicates = shard_and_accumulator[1]
    self._ids.update(map(_IDS, map(_EVENT, distinct)))
    if self._grouped:
      by_user = collections.defaultdict(list)
      for user, event in distinct:
        by_user[user].append(event)
      yield from by_user.items()
    else:
      yield from distinct
    for raw in duplicates:
      yield pvalue.TaggedOutput(DEAD_LETTERS, (DUPLICATE, raw))

  def finish_bundle(self):
    per_id = collections.Counter()
    for values, n in self._ids.items():
      for feature, value in zip(ID_FEATURES, values):
        if value != schema.STRING_PAD:
          per_id[feature, value] += n
    for item in per_id.items():
      yield pvalue.TaggedOutput(ID_COUNTS,
                                window.GlobalWindows.windowed_value(item))


class DeduplicateEvents(beam.PTransform):
  """``(shard, [(user event, raw), ...])`` to distinct user events and dead
  letters.

  A combiner per shard keeps one copy of each event (all five fields equal,
  the time as parsed) and the raw rows of the others (a None raw row is
  ``plain_csv_row`` of its event); combiner lifting drops most duplicates
  before the shuffle. Outputs the distinct events (main), ``DEAD_LETTERS``
  and ``ID_COUNTS`` (per bundle, to be summed).

  Args:
    grouped: Output ``(user_id, [event, ...])``, a user's distinct events of
      one shard, instead of one ``(user_id, event)`` per event.
  """

  def __init__(self, grouped: bool = False):
    super().__init__()
    self._grouped = grouped

  def expand(self, keyed):
    return (keyed
            | "DistinctPerShard" >> beam.CombinePerKey(
                combiners.PickledAccumulators(_DistinctEventsFn()))
            | "SplitDuplicates" >> beam.ParDo(
                _SplitDistinctFn(self._grouped)).with_output_types(
                    Tuple[str, Any]).with_outputs(DEAD_LETTERS, ID_COUNTS,
                                                  main="events"))


class _TimeRangeFn(beam.CombineFn):
  """The (earliest, latest) of (earliest, latest) pairs; None if none."""

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
      item_id, advertiser_id))``; with ``ReadEvents(grouped=True)``,
      ``(user_id, [(timestamp, ...), ...])`` lists instead, each holding
      some of a user's events (a user has several lists).
    dead_letters: ``(reason, raw row as JSON-able value)`` of every rejected
      row.
    counts: ``(name, n)`` pairs to sum: rows read and dead letters by reason
      (``events_dropped/<reason>``).
    time_range: A single ``(earliest, latest)`` valid event time, or None.
    id_counts: ``((feature, id), n)`` pairs to sum: how many distinct events
      have each event type, item and advertiser (``ID_FEATURES``).
  """
  events: beam.PCollection
  dead_letters: beam.PCollection
  counts: beam.PCollection
  time_range: beam.PCollection
  id_counts: beam.PCollection


def _dead_letter_count(dead_letter: DeadLetter) -> Tuple[str, int]:
  return f"{EVENTS_DROPPED}/{dead_letter[0]}", 1


def resolve_timestamp_unit(paths: Sequence[str], file_format: str,
                           unit: str) -> str:
  """``unit``, or for AUTO the unit of the epoch numbers in the first rows
  of (the first few of) ``paths``, by magnitude; SECONDS if they hold none.

  Raises:
    rows.InputError: if two files' numbers are in different units.
  """
  if unit != timestamps.AUTO:
    return unit
  detected, example = None, None
  for path in paths[:_UNIT_SAMPLE_FILES]:
    values = rows.sample_values(path, file_format, schema.RAW_TIMESTAMP,
                                _UNIT_SAMPLE_ROWS)
    file_unit = timestamps.detect_unit(values)
    if file_unit is None:
      continue
    if detected not in (None, file_unit):
      raise rows.InputError(
          f"{path} has timestamps in {timestamps.UNIT_NAMES[file_unit]}, "
          f"{example[0]} in {timestamps.UNIT_NAMES[detected]}: pass "
          "--timestamp_unit, or preprocess them apart.")
    detected = file_unit
    if example is None:
      example = path, next(value for value in values
                           if timestamps.detect_unit([value]))
  if detected is None:
    _LOGGER.info("Timestamps: ISO-8601 (no epoch number in the first rows; "
                 "--timestamp_unit sets the unit of epoch numbers).")
    return timestamps.SECONDS
  _LOGGER.info("Timestamps: %s, by their magnitude (%r in %s); "
               "--timestamp_unit sets the unit.",
               timestamps.UNIT_NAMES[detected], example[1], example[0])
  return detected


class ReadEvents(beam.PTransform):
  """Reads an event log into distinct valid events, dead letters and counts.

  Construction checks the input (it must match files, each CSV or Parquet
  file must have the raw columns, and some file a data row), and raises
  ``rows.InputError`` with a sentence naming the file otherwise; that reads
  the header of each file, and the first rows of a few to tell the
  timestamp unit (``resolve_timestamp_unit``; ``timestamp_unit`` is then
  the one chosen).

  Args:
    pattern: File pattern of the event log.
    file_format: One of ``rows.FORMATS``.
    event_types: The known event types; other types are dead letters.
    min_time: Earliest valid time, epoch seconds.
    max_time: Latest valid time, epoch seconds.
    dedup_shards: Shards of the duplicate detection, each holding its
      distinct events in memory; 0: ``automatic_dedup_shards``, so that a
      shard stays small however large the input.
    flag: How error messages name the input.
    grouped: Emit the events in lists per user and dedup shard (see
      ``EventsRead.events``): far fewer elements for a combiner per user.
    parallelism: The bundles the runner runs at once; automatic shards and
      the initial chunks of text files come in a multiple of it.
    timestamp_unit: How epoch numbers count, ``timestamps.TIMESTAMP_UNITS``.
  """

  def __init__(self, pattern: str, file_format: str,
               event_types: Iterable[str], min_time: int, max_time: int,
               dedup_shards: int = 0, flag: str = "--input",
               grouped: bool = False, parallelism: int = 1,
               timestamp_unit: str = timestamps.AUTO):
    super().__init__()
    paths = rows.match_files(pattern, flag)
    if not dedup_shards:
      dedup_shards = automatic_dedup_shards(rows.total_bytes(pattern),
                                            parallelism)
    rows.read_headers(paths, file_format, schema.RAW_COLUMNS)
    rows.require_rows(paths, file_format, flag)
    self.timestamp_unit = resolve_timestamp_unit(paths, file_format,
                                                 timestamp_unit)
    self._pattern = pattern
    self._format = file_format
    # Dead letters of Parquet rows become objects of the raw columns.
    self._splitter = rows.RowSplitter(file_format, schema.RAW_COLUMNS,
                                      schema.RAW_COLUMNS)
    self._event_types = tuple(event_types)
    self._min_time = min_time
    self._max_time = max_time
    self._dedup_shards = max(1, dedup_shards)
    self._grouped = grouped
    self._parallelism = parallelism

  def expand(self, pbegin):
    raw_rows = pbegin | "ReadRows" >> rows.ReadRows(
        self._pattern, self._format, schema.RAW_COLUMNS,
        parallelism=self._parallelism)
    parsed = raw_rows | "ParseEvents" >> ParseEvents(
        self._format, self._event_types, self._min_time, self._max_time,
        self._dedup_shards, self.timestamp_unit)
    distinct = parsed.events | "Deduplicate" >> DeduplicateEvents(
        self._grouped)
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
                      counts=event_counts, time_range=time_range,
                      id_counts=distinct[ID_COUNTS])

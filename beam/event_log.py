"""Reading an event log: rows validated into events, exact duplicates removed.

``ReadEvents`` is the one way the pipelines of this package read an event
log. Its output is every valid, distinct event keyed by user
(``events.UserEvent``). Every input row is either such an event or a dead
letter ``(reason, raw row)``, whatever the row holds, and per-bundle counts
say how many rows were read, so that ``events_read == distinct events +
dead letters``. On the way, the ids of the distinct events are counted for
the vocabularies, unless the reader needs none. The composite reads rows (``row_source.ReadRows``),
parses them (``parse_events.ParseEvents``) and drops the copies of each
event (``dedup.DeduplicateEvents``).
"""

from typing import Iterable, NamedTuple, Tuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam import counts
from beam import dedup
from beam import event_times
from beam import events
from beam import input_files
from beam import parse_events
from beam import pipeline_config
from beam import row_source
from beam import rows
from beam import runner
from tfrs_adcg import schema
from tfrs_adcg import timestamps


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
      have each event type, item and advertiser (``dedup.ID_FEATURES``);
      empty with ``ReadEvents(count_ids=False)``.
  """
  events: beam.PCollection
  dead_letters: beam.PCollection
  counts: beam.PCollection
  time_range: beam.PCollection
  id_counts: beam.PCollection


def _dead_letter_count(dead_letter: events.DeadLetter) -> Tuple[str, int]:
  return f"{events.EVENTS_DROPPED}/{dead_letter[0]}", 1


class ReadEvents(beam.PTransform):
  """Reads an event log into distinct valid events, dead letters and counts.

  Construction checks the input (it must match files, each CSV or Parquet
  file must have the raw columns, and some file a data row), and raises
  ``rows.InputError`` with a sentence naming the file otherwise; that reads
  the header of each file, and the first rows of a few to tell the
  timestamp unit (``event_times.resolve_timestamp_unit``;
  ``timestamp_unit`` is then the one chosen).

  Args:
    pattern: File pattern of the event log.
    file_format: One of ``rows.FORMATS``.
    event_types: The known event types; other types are dead letters.
    min_time: Earliest valid time, epoch seconds.
    max_time: Latest valid time, epoch seconds.
    dedup_shards: Shards of the duplicate detection, each holding its
      distinct events in memory; 0: ``dedup.automatic_dedup_shards``, so
      that a shard stays small however large the input.
    flag: How error messages name the input.
    grouped: Emit the events in lists per user and dedup shard (see
      ``EventsRead.events``): far fewer elements for a combiner per user.
    parallelism: The bundles the runner runs at once; automatic shards and
      the initial chunks of text files come in a multiple of it.
    timestamp_unit: How epoch numbers count, ``timestamps.TIMESTAMP_UNITS``.
    count_ids: Count the ids of the distinct events (``EventsRead.id_counts``),
      which the vocabularies need and candidate generation does not.
  """

  def __init__(self, pattern: str, file_format: str,
               event_types: Iterable[str], min_time: int, max_time: int,
               dedup_shards: int = 0, flag: str = "--input",
               grouped: bool = False, parallelism: int = 1,
               timestamp_unit: str = timestamps.AUTO, count_ids: bool = True):
    super().__init__()
    paths = input_files.match_files(pattern, flag)
    if not dedup_shards:
      dedup_shards = dedup.automatic_dedup_shards(
          input_files.total_bytes(pattern), parallelism)
    input_files.read_headers(paths, file_format, schema.RAW_COLUMNS)
    input_files.require_rows(paths, file_format, flag)
    self.timestamp_unit = event_times.resolve_timestamp_unit(
        paths, file_format, timestamp_unit)
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
    self._count_ids = count_ids

  def expand(self, pbegin):
    raw_rows = pbegin | "ReadRows" >> row_source.ReadRows(
        self._pattern, self._format, schema.RAW_COLUMNS,
        parallelism=self._parallelism)
    parsed = raw_rows | "ParseEvents" >> parse_events.ParseEvents(
        self._format, self._event_types, self._min_time, self._max_time,
        self._dedup_shards, self.timestamp_unit)
    distinct = parsed.events | "Deduplicate" >> dedup.DeduplicateEvents(
        self._grouped, self._count_ids)
    dead_letters = (
        (parsed[parse_events.DEAD_LETTERS], distinct[dedup.DEAD_LETTERS])
        | "FlattenDeadLetters" >> beam.Flatten()
        | "JsonRows" >> beam.Map(rows.json_dead_letter, self._splitter))
    dropped = dead_letters | "CountDropped" >> beam.Map(_dead_letter_count)
    event_counts = ((parsed[counts.COUNTS], dropped)
                    | "FlattenCounts" >> beam.Flatten())
    time_range = (parsed[parse_events.TIME_RANGE]
                  | "TimeRange" >> beam.CombineGlobally(_TimeRangeFn()))
    return EventsRead(events=distinct.events, dead_letters=dead_letters,
                      counts=event_counts, time_range=time_range,
                      id_counts=distinct[dedup.ID_COUNTS])


def read_events(config: pipeline_config.PipelineConfig,
                options: PipelineOptions, count_ids: bool = True
                ) -> ReadEvents:
  """The reading of a command's event log, grouped per user and dedup shard.

  The automatic dedup shards and the first chunks of a text input come in a
  multiple of the runner's parallelism (``runner.parallelism`` of
  ``options``). ``count_ids``: whether the vocabularies' id counts are
  wanted (preprocess) or not (batch candidates).

  Raises:
    rows.InputError: if the input is missing, empty or lacks columns.
  """
  return ReadEvents(
      config.input, config.input_format, config.event_types, config.min_time,
      config.max_time, config.dedup_shards, grouped=True,
      parallelism=runner.parallelism(options),
      timestamp_unit=config.timestamp_unit, count_ids=count_ids)

"""Duplicate detection: one copy of each event kept, the others dead letters.

Exact duplicates (all five fields equal, the time as parsed) share a user
and a time, so ``dedup_shard`` keys them to one shard, and a combiner per
shard keeps the first copy it sees; combiner lifting drops most copies
before the shuffle. A shard holds its distinct events in memory, so their
number grows with the input (``automatic_dedup_shards``). On the way out,
the ids of the distinct events are counted for the vocabularies.
"""

import collections
import operator
import zlib
from typing import Any, Dict, Iterable, List, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms import window

from beam import combiners
from beam import events
from beam import runner
from tfrs_adcg import schema
from tfrs_adcg import timestamps
from tfrs_adcg.schema import DUPLICATE

# Output tags (besides the main one, the distinct events).
DEAD_LETTERS = "dead_letters"
ID_COUNTS = "id_counts"

# Input bytes per duplicate-detection shard when their number is automatic:
# some 150k events of a CSV log (tens of MiB in memory), fewer of a
# compressed one. Larger shards mean fewer, larger lists of a user's
# events for the timeline combiner.
BYTES_PER_DEDUP_SHARD = 8 * 2**20

# The history vocabularies, in the order of their values in an Event.
ID_FEATURES = (schema.EVENT_TYPE, schema.ITEM_ID, schema.ADVERTISER_ID)


def automatic_dedup_shards(input_bytes: int, parallelism: int = 1) -> int:
  """One duplicate-detection shard per ``BYTES_PER_DEDUP_SHARD`` of input,
  rounded up to a multiple of ``parallelism``, the bundles a runner runs at
  once (``runner.parallelism``: 1 on runners that balance their work
  themselves), so that they get equal shares."""
  return runner.balanced_pieces(input_bytes, BYTES_PER_DEDUP_SHARD,
                                parallelism)


def dedup_shard(user_id: str, timestamp: int, num_shards: int) -> int:
  """The shard of an event's duplicate detection.

  Exact duplicates share user and time, so they share the shard; a user's
  events spread over the shards with time, so one heavy user does not make
  one big shard. Deterministic across processes (unlike ``hash``).
  """
  return (zlib.crc32(user_id.encode()) + timestamp) % num_shards


def plain_csv_row(user_event: events.UserEvent) -> str:
  """The raw row of an event read from a plain CSV row (the raw columns in
  order, no quotes) with its time in the canonical form
  (``timestamps.to_iso``)."""
  user, (timestamp, event_type, item, advertiser) = user_event
  return ",".join((user, timestamps.to_iso(timestamp), event_type, item,
                   advertiser))


class _DistinctEventsFn(beam.CombineFn):
  """Distinct events of a shard; the raw rows of the other copies.

  Inputs are lists of (user event, raw row), the raw row None for a plain
  CSV row that ``plain_csv_row`` rebuilds. The accumulator is
  ``[{user event: raw row or None}, [raw rows of duplicates]]``.
  """

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


def _add_one_by_one(
    distinct: Dict[events.UserEvent, Any], duplicates: List[Any],
    events_and_raws: Iterable[Tuple[events.UserEvent, Any]]) -> None:
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
    count_ids: Count the ids; without, ``ID_COUNTS`` stays empty.
  """

  def __init__(self, grouped: bool = False, count_ids: bool = True):
    super().__init__()
    self._grouped = grouped
    self._count_ids = count_ids
    self._ids = collections.Counter()

  def start_bundle(self):
    self._ids = collections.Counter()

  def process(self, shard_and_accumulator):
    distinct, duplicates = shard_and_accumulator[1]
    if self._count_ids:
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
    count_ids: Count the ids of the distinct events into ``ID_COUNTS``;
      without, it stays empty (a job without vocabularies saves the work).
  """

  def __init__(self, grouped: bool = False, count_ids: bool = True):
    super().__init__()
    self._grouped = grouped
    self._count_ids = count_ids

  def expand(self, keyed):
    return (keyed
            | "DistinctPerShard" >> beam.CombinePerKey(
                combiners.PickledAccumulators(_DistinctEventsFn()))
            | "SplitDuplicates" >> beam.ParDo(
                _SplitDistinctFn(self._grouped,
                                 self._count_ids)).with_output_types(
                    Tuple[str, Any]).with_outputs(DEAD_LETTERS, ID_COUNTS,
                                                  main="events"))

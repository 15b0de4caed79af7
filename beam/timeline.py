"""Per-user timelines that keep only what the examples can still use.

Two bounded summaries of a user's events (``events.Event`` tuples, which
sort in time order, to the millisecond, with ties broken by type, item and
advertiser):

* ``DayTimelineFn``, a CombineFn for the time split. Days are aligned with
  the eval cutoff, so every cutoff and label window boundary is a day
  boundary: the history before a cutoff is within the last L events of each
  day before it, and a label window is a union of days. The timeline keeps
  the last ``max_seq_len`` events of each day and the distinct (advertiser,
  item) conversions of each day. Memory per user: O(days x L), whatever the
  user's event count.
* ``last_conversion_histories`` for leave-last-out: two passes over a user's
  grouped events, the first finding the last N conversions, the second
  keeping the last L events before each. Memory per user: O(N x L).

Both combiners of bounded event lists, ``DayTimelineFn`` (per day) and
``last_events.LastEventsFn`` (overall), cut them with ``keep_last`` when
they reach ``next_trim_size``.
"""

import bisect
import heapq
import itertools
import operator
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam

from beam import events
from tfrs_adcg import timestamps
from tfrs_adcg.timestamps import DAY_SECONDS


# A conversion of a timeline: (day, at_day_start, advertiser_id, item_id).
# at_day_start marks a conversion at exactly the start of its day (its first
# millisecond), which a label window starting there excludes and one ending
# there includes.
Conversion = Tuple[int, bool, str, str]
# (number of events, the last L events of each day in time order,
#  {day: [(at_day_start, advertiser_id, item_id), ...]}).
Timeline = Tuple[int, List[events.Event],
                 Dict[int, List[Tuple[bool, str, str]]]]


class DayTimelineFn(beam.CombineFn):
  """Combines a user's events into a ``Timeline``.

  Each input is a list of events of the user (``ReadEvents(grouped=True)``
  gives those).

  Day d covers ``[offset + d * 86400, offset + (d + 1) * 86400)`` seconds.
  The accumulator is flat, so that it is cheap to encode between workers:
  ``[number of events, [events], {conversions}, trim size]``. When the event
  list reaches the trim size it is cut to the last L events of each day,
  and the trim size becomes twice what is left (``next_trim_size``).

  Args:
    max_seq_len: L.
    conversion_types: Event types that are conversions.
    day_offset: Seconds after midnight UTC where days start.
  """

  def __init__(self, max_seq_len: int, conversion_types: Iterable[str],
               day_offset: int = 0):
    super().__init__()
    self._max_len = max_seq_len
    self._conversion_types = frozenset(conversion_types)
    self._offset = day_offset

  def create_accumulator(self):
    return [0, [], set(), 2 * self._max_len]

  def add_input(self, accumulator, user_events):
    day_events = accumulator[1]
    day_events.extend(user_events)
    conversion_types = self._conversion_types
    for timestamp, _, item, advertiser in [
        event for event in user_events if event[1] in conversion_types]:
      day, second = divmod(timestamp - self._offset, DAY_SECONDS)
      at_day_start = second == 0 and not isinstance(timestamp,
                                                    timestamps.Instant)
      accumulator[2].add((day, at_day_start, advertiser, item))
    accumulator[0] += len(user_events)
    if len(day_events) >= accumulator[3]:
      self._trim(accumulator)
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    for count, day_events, conversions, _ in accumulators:
      merged[0] += count
      merged[1].extend(day_events)
      merged[2].update(conversions)
    if len(merged[1]) >= merged[3]:
      self._trim(merged)
    return merged

  def compact(self, accumulator):
    if len(accumulator[1]) > self._max_len:
      self._trim(accumulator)
    return accumulator

  def extract_output(self, accumulator) -> Timeline:
    if len(accumulator[1]) > self._max_len:
      self._trim(accumulator)
    else:  # No day can hold more than L events.
      accumulator[1].sort()
    conversions: Dict[int, List[Tuple[bool, str, str]]] = {}
    for day, at_day_start, advertiser, item in accumulator[2]:
      conversions.setdefault(day, []).append((at_day_start, advertiser, item))
    return accumulator[0], accumulator[1], conversions

  def _trim(self, accumulator) -> None:
    """Sorts the events and keeps the last L of each day."""
    accumulator[1] = keep_last(accumulator[1], self._max_len, self._offset)
    accumulator[3] = next_trim_size(len(accumulator[1]), self._max_len)


def keep_last(event_list: List[events.Event], max_seq_len: int,
              day_offset: Optional[int] = None) -> List[events.Event]:
  """The last L events, in time order; sorts ``event_list`` in place.

  Args:
    event_list: Events in any order.
    max_seq_len: L.
    day_offset: If given, keeps the last L events of each day instead, days
      starting this many seconds after midnight UTC.
  """
  event_list.sort()
  if day_offset is None:
    return event_list[-max_seq_len:]
  days = [(event[0] - day_offset) // DAY_SECONDS for event in event_list]
  # An event is among the last L of its day if the event L later is not of
  # its day (or there is none).
  kept = list(itertools.compress(
      event_list, map(operator.ne, days, days[max_seq_len:])))
  kept += event_list[max(0, len(event_list) - max_seq_len):]
  return kept


def next_trim_size(kept: int, max_seq_len: int) -> int:
  """When a bounded event list of ``kept`` events is cut (``keep_last``)
  next: at twice what is left, at least 2 L. Events then cost amortized
  O(log n) each, and the list holds at most twice its bounded size."""
  return max(2 * kept, 2 * max_seq_len)


def last_conversion_histories(
    event_lists: Iterable[Iterable[events.Event]], max_seq_len: int,
    num_targets: int, conversion_types: Iterable[str]
) -> Tuple[int, List[Tuple[events.Event, List[events.Event]]]]:
  """A user's last conversions, each with the last L events strictly before it.

  Iterates ``event_lists`` twice (a GroupByKey result can be re-iterated
  without being held in memory).

  Args:
    event_lists: All distinct events of one user, in lists, in any order.
    max_seq_len: L.
    num_targets: N, the number of latest conversions to return.
    conversion_types: Event types that are conversions.

  Returns:
    (number of events, [(conversion, history)]) with the conversions oldest
    first; a history holds the events with an earlier timestamp (to the
    millisecond: an event earlier in the same second is in it), oldest first.
  """
  conversion_types = frozenset(conversion_types)
  count = 0
  latest: List[events.Event] = []  # A min-heap of the N latest conversions.
  for event in itertools.chain.from_iterable(event_lists):
    count += 1
    if event[1] in conversion_types:
      if len(latest) < num_targets:
        heapq.heappush(latest, event)
      elif event > latest[0]:
        heapq.heapreplace(latest, event)
  if not latest:
    return count, []
  targets = sorted(latest)
  # Segment i holds the events in [bounds[i - 1], bounds[i]); segment 0 all
  # before bounds[0]. Events at or after the last target are in no history.
  bounds = sorted({target[0] for target in targets})
  segments: List[List[events.Event]] = [[] for _ in bounds]
  last_bound = bounds[-1]
  for event in itertools.chain.from_iterable(event_lists):
    if event[0] >= last_bound:
      continue
    segment = segments[bisect.bisect_right(bounds, event[0])]
    segment.append(event)
    if len(segment) >= 2 * max_seq_len:
      segment.sort()
      del segment[:-max_seq_len]
  for segment in segments:
    segment.sort()
  histories = []
  for target in targets:
    history: List[events.Event] = []
    for segment in reversed(segments[:bounds.index(target[0]) + 1]):
      history[:0] = segment[-(max_seq_len - len(history)):]
      if len(history) >= max_seq_len:
        break
    histories.append((target, history))
  return count, histories

"""Per-user timelines that keep only what the examples can still use.

Two bounded summaries of a user's events (``events.Event`` tuples, which
sort in time order with ties broken by type, item and advertiser):

* ``DayTimelineFn``, a CombineFn for the time split. Days (aligned with the
  eval cutoff) hold the last ``max_seq_len`` events of the day and the set of
  (advertiser, item) conversions. Every cutoff and label window boundary is a
  day boundary, so the history before a cutoff is the last L events of the
  days before it, and a label window is a union of days. Memory per user:
  O(days x L), whatever the user's event count.
* ``last_conversion_histories`` for leave-last-out: two passes over a user's
  grouped events, the first finding the last N conversions, the second
  keeping the last L events before each. Memory per user: O(N x L).
"""

import bisect
import heapq
from typing import Dict, Iterable, List, Set, Tuple

import apache_beam as beam

from beam import events

DAY_SECONDS = 86400

# A day of a timeline: its last L events, sorted, and its conversions as
# (at_day_start, advertiser_id, item_id); at_day_start marks a conversion at
# exactly the first second of the day, which a label window starting there
# excludes and one ending there includes.
Conversion = Tuple[bool, str, str]
Day = Tuple[List[events.Event], Set[Conversion]]
# (number of events, {day number: Day}).
Timeline = Tuple[int, Dict[int, Day]]


class DayTimelineFn(beam.CombineFn):
  """Combines a user's events into a ``Timeline`` of days.

  Day d covers ``[offset + d * 86400, offset + (d + 1) * 86400)`` seconds.
  The accumulator is ``[number of events, {day: [events, conversions]}]``;
  a day's event list is cut to its last L whenever it reaches 2 L.

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
    return [0, {}]

  def add_input(self, accumulator, event):
    day, second = divmod(event[0] - self._offset, DAY_SECONDS)
    days = accumulator[1]
    bucket = days.get(day)
    if bucket is None:
      bucket = days[day] = [[], set()]
    day_events = bucket[0]
    day_events.append(event)
    if len(day_events) >= 2 * self._max_len:
      day_events.sort()
      del day_events[:-self._max_len]
    if event[1] in self._conversion_types:
      bucket[1].add((second == 0, event[3], event[2]))
    accumulator[0] += 1
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    days = merged[1]
    for count, other_days in accumulators:
      merged[0] += count
      for day, (day_events, conversions) in other_days.items():
        bucket = days.get(day)
        if bucket is None:
          days[day] = [day_events, conversions]
          continue
        bucket[0].extend(day_events)
        bucket[1].update(conversions)
        if len(bucket[0]) >= 2 * self._max_len:
          bucket[0].sort()
          del bucket[0][:-self._max_len]
    return merged

  def compact(self, accumulator):
    for bucket in accumulator[1].values():
      if len(bucket[0]) > self._max_len:
        bucket[0].sort()
        del bucket[0][:-self._max_len]
    return accumulator

  def extract_output(self, accumulator) -> Timeline:
    days = {}
    for day, (day_events, conversions) in accumulator[1].items():
      day_events.sort()
      days[day] = (day_events[-self._max_len:], conversions)
    return accumulator[0], days


def last_conversion_histories(
    user_events: Iterable[events.Event], max_seq_len: int,
    num_targets: int, conversion_types: Iterable[str]
) -> Tuple[int, List[Tuple[events.Event, List[events.Event]]]]:
  """A user's last conversions, each with the last L events strictly before it.

  Iterates ``user_events`` twice (a GroupByKey result can be re-iterated
  without being held in memory).

  Args:
    user_events: All distinct events of one user, in any order.
    max_seq_len: L.
    num_targets: N, the number of latest conversions to return.
    conversion_types: Event types that are conversions.

  Returns:
    (number of events, [(conversion, history)]) with the conversions oldest
    first; a history holds the events with an earlier timestamp, oldest first.
  """
  conversion_types = frozenset(conversion_types)
  count = 0
  latest: List[events.Event] = []  # A min-heap of the N latest conversions.
  for event in user_events:
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
  for event in user_events:
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

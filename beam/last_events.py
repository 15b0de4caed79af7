"""Each user's history for scoring: the last L distinct events by as_of.

``UserHistories`` combines the event lists of ``event_log.ReadEvents(grouped=
True)`` per user with ``LastEventsFn``, which keeps a bounded list (memory
per user O(L), however active the user) and counts the events it drops.
Combiner lifting keeps the last L of a user's events in each bundle before
the shuffle, which moves each accumulator as one pickle
(``combiners.PickledAccumulators``). ``SelectUsers`` passes on the users
with a history and sets the others aside, counting users and events for the
manifest.
"""

from typing import List, Optional, Tuple

import apache_beam as beam
from apache_beam import pvalue

from beam import combiners
from beam import counts
from beam import events
from beam import examples
from beam import timeline

# Counts of the manifest, besides those of event_log.ReadEvents.
USERS_SEEN = "users_seen"
USERS_SKIPPED = "users_skipped"
NO_HISTORY = "no_history_by_as_of"  # Every event of the user is after as_of.
SKIP_REASONS = (NO_HISTORY,)
EVENTS_IN_HISTORY = "events_in_history"  # Scored: the last L by as_of.
EVENTS_BEFORE_HISTORY = "events_before_history"  # By as_of, not the last L.
EVENTS_AFTER_AS_OF = "events_after_as_of"

SKIPPED = "skipped"  # Output tag of the users without history.

# (history oldest first, events before the history, events after as_of).
UserHistory = Tuple[List[events.Event], int, int]


class LastEventsFn(beam.CombineFn):
  """Combines lists of a user's events into a ``UserHistory``.

  The accumulator is ``[events by as_of, events after it, kept events,
  trim size]``: the kept events are cut to the last L
  (``timeline.keep_last``) whenever they reach the trim size.

  Args:
    max_seq_len: L, the events kept.
    as_of: Epoch seconds; later events are counted, not kept. None keeps
      every event: the job's as_of is then the latest event time.
  """

  def __init__(self, max_seq_len: int, as_of: Optional[int] = None):
    super().__init__()
    self._max_len = max_seq_len
    self._as_of = as_of

  def create_accumulator(self):
    return [0, 0, [], timeline.next_trim_size(0, self._max_len)]

  def _trim(self, accumulator) -> None:
    accumulator[2] = timeline.keep_last(accumulator[2], self._max_len)
    accumulator[3] = timeline.next_trim_size(len(accumulator[2]),
                                             self._max_len)

  def add_input(self, accumulator, user_events: List[events.Event]):
    if self._as_of is not None:
      as_of = self._as_of
      by_as_of = [event for event in user_events if event[0] <= as_of]
      accumulator[1] += len(user_events) - len(by_as_of)
      user_events = by_as_of
    accumulator[0] += len(user_events)
    accumulator[2].extend(user_events)
    if len(accumulator[2]) >= accumulator[3]:
      self._trim(accumulator)
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    for by_as_of, after, kept, _ in accumulators:
      merged[0] += by_as_of
      merged[1] += after
      merged[2].extend(kept)
      if len(merged[2]) >= merged[3]:
        self._trim(merged)
    return merged

  def compact(self, accumulator):
    if len(accumulator[2]) > self._max_len:
      self._trim(accumulator)
    return accumulator

  def extract_output(self, accumulator) -> UserHistory:
    by_as_of, after, kept, _ = accumulator
    history = timeline.keep_last(kept, self._max_len)
    return history, by_as_of - len(history), after


class UserHistories(beam.PTransform):
  """``(user_id, [event, ...])`` lists to one ``(user_id, UserHistory)`` a
  user.

  Args:
    max_seq_len: L, the events kept per user.
    as_of: Epoch seconds: histories are the events at or before it; None:
      every event (as_of is the latest event time).
  """

  def __init__(self, max_seq_len: int, as_of: Optional[int]):
    super().__init__()
    self._fn = combiners.PickledAccumulators(LastEventsFn(max_seq_len, as_of))

  def expand(self, user_events):
    return user_events | "LastEvents" >> beam.CombinePerKey(self._fn)


class _SelectUsersFn(beam.DoFn):
  """Passes on users with history, tags the others ``SKIPPED``, counts both."""

  def __init__(self):
    super().__init__()
    self._counts = counts.BundleCounts()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, user_history: Tuple[str, UserHistory]):
    user, (history, before_history, after) = user_history
    self._counts.add(USERS_SEEN)
    self._counts.add(examples.EVENTS_USED,
                     len(history) + before_history + after)
    self._counts.add(EVENTS_IN_HISTORY, len(history))
    self._counts.add(EVENTS_BEFORE_HISTORY, before_history)
    self._counts.add(EVENTS_AFTER_AS_OF, after)
    if history:
      yield user, history
    else:
      self._counts.add(f"{USERS_SKIPPED}/{NO_HISTORY}")
      yield pvalue.TaggedOutput(SKIPPED, (user, NO_HISTORY, after))

  def finish_bundle(self):
    yield from self._counts.emit()


class SelectUsers(beam.PTransform):
  """``(user_id, UserHistory)`` to the users to score and the skipped ones.

  Outputs: main ``(user_id, history)``; ``SKIPPED`` ``(user_id, reason,
  events after as_of)``; ``counts.COUNTS`` the user and event counts.
  """

  def expand(self, user_histories):
    return user_histories | "Select" >> beam.ParDo(
        _SelectUsersFn()).with_outputs(SKIPPED, counts.COUNTS, main="users")

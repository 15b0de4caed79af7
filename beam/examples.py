"""Training examples per split, from users' events: time split, leave-last-out.

An example is one (user, cutoff): the last ``max_seq_len`` events strictly
before the cutoff, oldest first, and the label sets: the distinct advertisers
(and items) the user converted with in the label window. Only examples with
at least one history event and one label advertiser are written; a
(user, cutoff) with labels but no history counts as ``no_history``, one with
history but no labels as ``no_positive`` (one with neither is not counted).
Outputs are tagged: under ``schema.TRAIN`` / ``VALID`` / ``EVAL`` one
element per user and split, the list of its serialized ``tf.train.Example``
(a batch: Beam's cost is per element, and users have many examples), counts
under ``counts.COUNTS`` (``positives/<split>`` counts the labels of the
task's candidates), and the training positives per candidate under
``POSITIVES``.

* Time split: one eval example per user at the eval cutoff, one valid
  example at the valid cutoff, K days before it (its label window ends at the
  eval cutoff), and training cutoffs every ``train_stride_days`` going back
  from valid_cutoff - K days, so no training label window reaches past the
  valid cutoff and no valid label window past the eval cutoff. Labels are in
  (cutoff, cutoff + K days].
* Leave-last-out: the user's last conversion is the eval target, the one
  before it the valid target, up to ``max_train_targets`` earlier ones are
  training targets; the history is every event with an earlier timestamp
  (up to L), the labels the target's advertiser and item. The cutoff is the
  target's time.
"""

import bisect
import collections
from typing import (Collection, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Set, Tuple)

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms import window

from beam import combiners
from beam import config as config_lib
from beam import counts
from beam import events
from beam import timeline
from tfrs_adcg import schema
from tfrs_adcg import timestamps

POSITIVES = "candidate_positives"  # Tag: (candidate id, training positives).

USERS = "users"
EVENTS_USED = "events_used"
EXAMPLES = "examples"
POSITIVE_COUNTS = "positives"
EXAMPLES_SKIPPED = "examples_skipped"
NO_HISTORY = "no_history"  # Labels, but no event before the cutoff.
NO_POSITIVE = "no_positive"  # History, but no conversion in the window.

# Leave-last-out: the split of the last and second last target.
_SPLIT_FROM_LAST = {0: schema.EVAL, 1: schema.VALID}


def resolve_eval_cutoff(time_range: Optional[Tuple[int, int]],
                        config: config_lib.PreprocessConfig) -> Optional[int]:
  """The configured eval cutoff, or the latest event time minus K days,
  rounded down to the day; None without events."""
  if config.eval_cutoff is not None:
    return config.eval_cutoff
  if time_range is None:
    return None
  latest = time_range[1] - config.label_window_seconds
  return latest - latest % timestamps.DAY_SECONDS


# The history features in the order of an events.Event's fields.
_EVENT_FIELDS = (schema.TIMESTAMP, schema.EVENT_TYPE, schema.ITEM_ID,
                 schema.ADVERTISER_ID)


def history_columns(history: Sequence[events.Event]) -> Dict[str, List]:
  """Events (oldest first) as one list per ``schema.SEQUENCE_FEATURES``,
  their times in epoch milliseconds."""
  if not history:
    return {name: [] for name in _EVENT_FIELDS}
  columns = dict(zip(_EVENT_FIELDS, map(list, zip(*history))))
  columns[schema.TIMESTAMP] = list(map(timestamps.milliseconds,
                                       columns[schema.TIMESTAMP]))
  return columns


class _ExamplesFn(beam.DoFn):
  """Encodes examples and counts them, the skips and the positives.

  Args:
    task: ``advertiser`` or ``item``: which labels count as the training
      positives of candidates.
  """

  def __init__(self, task: str):
    super().__init__()
    self._item_task = task == schema.ITEM_TASK
    self._counts = counts.BundleCounts()
    self._positives = collections.Counter()

  def start_bundle(self):
    self._counts = counts.BundleCounts()
    self._positives = collections.Counter()

  def _count_user(self, num_events: int) -> None:
    self._counts.add(USERS)
    self._counts.add(EVENTS_USED, num_events)

  def _count_skipped(self, reason: str, n: int = 1) -> None:
    """Counts n (user, cutoff) skipped for ``reason``, if any."""
    if n:
      self._counts.add(f"{EXAMPLES_SKIPPED}/{reason}", n)

  def _skipped(self, has_history: bool, has_labels: bool) -> bool:
    """Whether an example lacks history or labels; counts why, if it matters.

    A (user, cutoff) with neither is no example at all, and not counted.
    """
    if has_history and has_labels:
      return False
    if has_history or has_labels:
      self._count_skipped(NO_POSITIVE if has_history else NO_HISTORY)
    return True

  def _add_example(self, batches: Dict[str, Tuple[List[bytes], List[str]]],
                   split: str, user: str, cutoff: int,
                   history: Mapping[str, Sequence],
                   advertisers: Collection[str],
                   items: Collection[str]) -> None:
    """Encodes an example into its split's batch of the user's examples.

    Args:
      batches: Split to (its encoded examples, the task's candidates in
        their labels).
      history: The history events as ``schema.encode_example`` takes them.
    """
    records, candidates = batches.setdefault(split, ([], []))
    records.append(schema.encode_example(user, cutoff, history,
                                         sorted(advertisers), sorted(items)))
    candidates += items if self._item_task else advertisers

  def _emit(self, batches: Dict[str, Tuple[List[bytes], List[str]]]
            ) -> Iterator[pvalue.TaggedOutput]:
    """Each split's batch of the user's examples; counts them."""
    for split, (records, candidates) in batches.items():
      self._counts.add(f"{EXAMPLES}/{split}", len(records))
      self._counts.add(f"{POSITIVE_COUNTS}/{split}", len(candidates))
      if split == schema.TRAIN:
        self._positives.update(candidates)
      yield pvalue.TaggedOutput(split, records)

  def finish_bundle(self):
    yield from self._counts.emit()
    for item in self._positives.items():
      yield pvalue.TaggedOutput(POSITIVES,
                                window.GlobalWindows.windowed_value(item))
    self._positives.clear()


class _TimeSplitFn(_ExamplesFn):
  """(user, ``timeline.Timeline``) and the eval cutoff to examples."""

  def __init__(self, config: config_lib.PreprocessConfig):
    super().__init__(config.task)
    self._max_len = config.max_seq_len
    self._window = config.label_window_days
    self._stride = config.train_stride_days
    self._offset = config.day_offset

  def process(self, element, eval_cutoff: Optional[int]):
    user, (num_events, day_events, conversions) = element
    self._count_user(num_events)
    if eval_cutoff is None:
      return
    day = timestamps.DAY_SECONDS
    eval_day = (eval_cutoff - self._offset) // day
    valid_day = eval_day - self._window
    first_day = (day_events[0][0] - self._offset) // day
    # Training cutoffs from the first one whose label window reaches the
    # user's first event up to valid_day - K, then the valid and the eval
    # cutoff. A cutoff has history if it is after the first event: if its
    # day is later.
    steps = (valid_day - first_day) // self._stride
    cutoff_days = list(range(valid_day - self._window - steps * self._stride,
                             valid_day - self._window + 1, self._stride))
    cutoff_days += [valid_day, eval_day]
    split_of_day = {valid_day: schema.VALID, eval_day: schema.EVAL}
    with_history = len(cutoff_days) - bisect.bisect_right(cutoff_days,
                                                          first_day)
    no_history = examples = 0
    batches = {}
    times = encoded = None  # The history, encoded at the first example.
    for cutoff_day, advertisers, items in self._labelled_cutoffs(
        cutoff_days, conversions):
      if cutoff_day <= first_day:
        no_history += 1
        continue
      if encoded is None:  # Events at or after the eval cutoff are in none.
        columns = history_columns(
            day_events[:bisect.bisect_left(day_events, (eval_cutoff,))])
        times = columns[schema.TIMESTAMP]
        encoded = schema.encode_history(columns)
      cutoff = timestamps.milliseconds(cutoff_day * day + self._offset)
      end = bisect.bisect_left(times, cutoff)  # History: day_events[:end].
      self._add_example(
          batches, split_of_day.get(cutoff_day, schema.TRAIN),
          user, cutoff,
          schema.history_window(encoded, max(0, end - self._max_len), end),
          advertisers, items)
      examples += 1
    self._count_skipped(NO_HISTORY, no_history)
    self._count_skipped(NO_POSITIVE, with_history - examples)
    yield from self._emit(batches)

  def _labelled_cutoffs(
      self, cutoff_days: Sequence[int],
      conversions: Mapping[int, Sequence[Tuple[bool, str, str]]]
  ) -> Iterator[Tuple[int, Set[str], Set[str]]]:
    """The cutoff days with labels, and their labels (see ``_labels``).

    Only cutoffs up to K days before a conversion day can have labels: the
    others are not looked at.

    Args:
      cutoff_days: Sorted.
      conversions: A ``timeline.Timeline``'s conversions per day.
    """
    conversion_days = sorted(conversions)
    done = 0  # Cutoffs before cutoff_days[done] are looked at.
    for index, conversion_day in enumerate(conversion_days):
      # The cutoffs after the previous conversion day, up to this one: it
      # is the first conversion day of their windows.
      start = max(done, bisect.bisect_left(cutoff_days,
                                           conversion_day - self._window))
      done = bisect.bisect_right(cutoff_days, conversion_day)
      for cutoff_day in cutoff_days[start:done]:
        advertisers, items = self._labels(conversions,
                                          conversion_days[index:], cutoff_day)
        if advertisers:
          yield cutoff_day, advertisers, items

  def _labels(self, conversions: Mapping[int, Sequence[Tuple[bool, str, str]]],
              conversion_days: Sequence[int],
              cutoff_day: int) -> Tuple[Set[str], Set[str]]:
    """Distinct advertisers and items converted with in (cutoff, cutoff + K].

    Args:
      conversions: A ``timeline.Timeline``'s conversions per day.
      conversion_days: Their days, sorted, from the first one at or after
        ``cutoff_day``.
      cutoff_day: The day the cutoff starts.
    """
    advertisers, items = set(), set()
    last_day = cutoff_day + self._window
    for day in conversion_days:
      if day > last_day:
        break
      for at_day_start, advertiser, item in conversions[day]:
        if day == cutoff_day and at_day_start:
          continue  # At the cutoff itself: the window starts after it.
        if day == last_day and not at_day_start:
          continue  # After cutoff + K days.
        advertisers.add(advertiser)
        if item:
          items.add(item)
    return advertisers, items


class _LeaveLastOutFn(_ExamplesFn):
  """(user, all its events) to one example per kept conversion target."""

  def __init__(self, config: config_lib.PreprocessConfig):
    super().__init__(config.task)
    self._max_len = config.max_seq_len
    self._num_targets = config.max_train_targets + 2
    self._conversion_types = config.conversion_types

  def process(self, element):
    user, event_lists = element
    num_events, targets = timeline.last_conversion_histories(
        event_lists, self._max_len, self._num_targets, self._conversion_types)
    self._count_user(num_events)
    batches = {}
    for position, (target, history) in enumerate(targets):
      split = _SPLIT_FROM_LAST.get(len(targets) - 1 - position, schema.TRAIN)
      timestamp, _, item, advertiser = target
      if not self._skipped(bool(history), True):
        self._add_example(batches, split, user,
                          timestamps.milliseconds(timestamp),
                          history_columns(history), (advertiser,),
                          (item,) if item else ())
    yield from self._emit(batches)


class TimeSplitExamples(beam.PTransform):
  """Distinct user events to time-split examples (see the module docstring).

  Takes ``(user_id, [event, ...])`` lists, ``ReadEvents(grouped=True)``.

  Args:
    config: The preprocessing configuration.
    eval_cutoff: A singleton PCollection of the eval cutoff (epoch seconds,
      or None when there are no events).
  """

  def __init__(self, config: config_lib.PreprocessConfig,
               eval_cutoff: beam.PCollection):
    super().__init__()
    self._config = config
    self._eval_cutoff = eval_cutoff

  def expand(self, user_events):
    config = self._config
    return (user_events
            | "DayTimelines" >> beam.CombinePerKey(
                combiners.PickledAccumulators(
                    timeline.DayTimelineFn(config.max_seq_len,
                                           config.conversion_types,
                                           config.day_offset)))
            | "Examples" >> beam.ParDo(
                _TimeSplitFn(config),
                beam.pvalue.AsSingleton(self._eval_cutoff)).with_outputs(
                    schema.TRAIN, schema.VALID, schema.EVAL, counts.COUNTS,
                    POSITIVES))


class LeaveLastOutExamples(beam.PTransform):
  """Distinct user events to leave-last-out examples (see the module docstring).

  Takes ``(user_id, [event, ...])`` lists, ``ReadEvents(grouped=True)``.

  Groups each user's events (a GroupByKey, whose result is iterated twice
  rather than held in memory).
  """

  def __init__(self, config: config_lib.PreprocessConfig):
    super().__init__()
    self._config = config

  def expand(self, user_events):
    return (user_events
            | "GroupByUser" >> beam.GroupByKey()
            | "Examples" >> beam.ParDo(_LeaveLastOutFn(
                self._config)).with_outputs(schema.TRAIN, schema.VALID,
                                            schema.EVAL, counts.COUNTS,
                                            POSITIVES))


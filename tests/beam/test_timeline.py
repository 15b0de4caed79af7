"""Bounded per-user timelines: day buckets and last-conversion histories."""

import random

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to

from beam import timeline
from tfrs_adcg import timestamps

DAY = timestamps.DAY_SECONDS
CONVERSIONS = ("checkout",)


def _events(count, seed=0, conversion_rate=0.2, days=5):
  rng = random.Random(seed)
  return [(rng.randrange(days * DAY),
           "checkout" if rng.random() < conversion_rate else "view",
           f"i{rng.randrange(20)}", f"a{rng.randrange(5)}")
          for _ in range(count)]


def _expected_timeline(events, max_seq_len, offset):
  by_day = {}
  for event in sorted(events):
    by_day.setdefault((event[0] - offset) // DAY, []).append(event)
  kept = [e for day in sorted(by_day) for e in by_day[day][-max_seq_len:]]
  conversions = {}
  for e in set(events):
    if e[1] in CONVERSIONS:
      day, second = divmod(e[0] - offset, DAY)
      conversions.setdefault(day, set()).add((second == 0, e[3], e[2]))
  return len(events), kept, conversions


def _as_sets(timeline_):
  count, kept, conversions = timeline_
  return count, kept, {day: set(c) for day, c in conversions.items()}


def test_day_timeline_keeps_last_events_per_day_and_conversions():
  fn = timeline.DayTimelineFn(max_seq_len=3, conversion_types=CONVERSIONS,
                              day_offset=100)
  events = _events(200, seed=1)
  # Merging the accumulators of any partition gives the same timeline.
  accumulators = [fn.create_accumulator() for _ in range(3)]
  for i in range(0, len(events), 7):  # Inputs are lists of a user's events.
    fn.add_input(accumulators[i % 3], events[i:i + 7])
  merged = fn.extract_output(
      fn.merge_accumulators([fn.compact(a) for a in accumulators]))
  assert _as_sets(merged) == _expected_timeline(events, 3, 100)


def test_day_timeline_days_start_at_the_offset():
  # Many events a second before, at and after day starts, and ties: the
  # last L of each day are kept, whatever the order of the inputs.
  offset = 3600
  rng = random.Random(4)
  events = [(offset + day * DAY + second, rng.choice(["view", "checkout"]),
             f"i{rng.randrange(3)}", "a")
            for day in range(-1, 4) for second in (-1, 0, 0, 1, 5)
            for _ in range(rng.randrange(3))]
  rng.shuffle(events)
  for max_seq_len in (1, 2, 7):
    fn = timeline.DayTimelineFn(max_seq_len, CONVERSIONS, day_offset=offset)
    accumulator = fn.create_accumulator()
    for i in range(0, len(events), 3):
      fn.add_input(accumulator, events[i:i + 3])
    assert _as_sets(fn.extract_output(accumulator)) == _expected_timeline(
        events, max_seq_len, offset)


def test_day_timeline_memory_is_bounded_by_days():
  fn = timeline.DayTimelineFn(max_seq_len=2, conversion_types=CONVERSIONS)
  accumulator = fn.create_accumulator()
  for event in _events(5000, seed=3, days=4):
    fn.add_input(accumulator, [event])
    assert len(accumulator[1]) < 2 * 2 * 4 + 1
  assert len(fn.extract_output(accumulator)[1]) == 2 * 4


def test_day_timeline_flags_conversions_at_the_first_second_of_a_day():
  fn = timeline.DayTimelineFn(2, CONVERSIONS)
  accumulator = fn.create_accumulator()
  fn.add_input(accumulator, [(DAY, "checkout", "i1", "a1"),
                             (DAY + 1, "checkout", "", "a2")])
  fn.add_input(accumulator, [(DAY + 2, "view", "i3", "a3")])
  _, kept, conversions = fn.extract_output(accumulator)
  assert set(conversions[1]) == {(True, "a1", "i1"), (False, "a2", "")}
  assert kept == [(DAY + 1, "checkout", "", "a2"),
                  (DAY + 2, "view", "i3", "a3")]


def test_day_timeline_as_a_combiner():
  events = _events(50, seed=2)
  with test_pipeline.TestPipeline() as pipeline:
    result = (pipeline
              | beam.Create([("u", events[i:i + 5])
                             for i in range(0, len(events), 5)])
              | beam.CombinePerKey(timeline.DayTimelineFn(4, CONVERSIONS))
              | beam.MapTuple(lambda user, t: (user, _as_sets(t))))
    assert_that(result, equal_to([("u", _expected_timeline(events, 4, 0))]))


def _reference_histories(events, max_seq_len, num_targets):
  ordered = sorted(events)
  targets = [e for e in ordered if e[1] in CONVERSIONS][-num_targets:]
  return [(target, [e for e in ordered if e[0] < target[0]][-max_seq_len:])
          for target in targets]


def test_last_conversion_histories_match_a_full_sort():
  for seed in range(20):
    events = _events(60, seed=seed, days=2)
    event_lists = [events[i:i + 9] for i in range(0, len(events), 9)]
    count, histories = timeline.last_conversion_histories(
        event_lists, max_seq_len=5, num_targets=4,
        conversion_types=CONVERSIONS)
    assert count == len(events)
    assert histories == _reference_histories(events, 5, 4)
    for target, history in histories:
      assert target not in history
      assert all(event[0] < target[0] for event in history)


def test_last_conversion_histories_without_conversions():
  assert timeline.last_conversion_histories(
      [[(1, "view", "i", "a")]], 3, 2, CONVERSIONS) == (1, [])


def _at(seconds, milliseconds=0):
  return timestamps.event_time(seconds * 1000 + milliseconds)


def test_day_timeline_orders_a_second_by_its_milliseconds():
  fn = timeline.DayTimelineFn(3, CONVERSIONS)
  accumulator = fn.create_accumulator()
  fn.add_input(accumulator, [(_at(DAY, 900), "view", "i2", "a1"),
                             (_at(DAY, 100), "checkout", "i9", "a2"),
                             (_at(DAY), "view", "i1", "a1"),
                             (_at(DAY + 1), "view", "i3", "a1")])
  _, kept, conversions = fn.extract_output(accumulator)
  # The view at .900 is the later one, whatever its type and ids say.
  assert [event[2] for event in kept] == ["i9", "i2", "i3"]
  # A conversion in the first second of a day, after its start: not at it.
  assert conversions == {1: [(False, "a2", "i9")]}


def test_last_conversion_histories_hold_earlier_events_of_the_same_second():
  view = (_at(DAY, 100), "view", "i1", "a1")
  checkout = (_at(DAY, 500), "checkout", "i1", "a1")
  later_view = (_at(DAY, 900), "view", "i2", "a1")
  _, histories = timeline.last_conversion_histories(
      [[later_view, checkout], [view]], max_seq_len=5, num_targets=1,
      conversion_types=CONVERSIONS)
  assert histories == [(checkout, [view])]


def test_keep_last_keeps_the_latest_events_overall_or_per_day():
  events = _events(200, seed=3)
  shuffled = list(events)
  assert timeline.keep_last(shuffled, 7) == sorted(events)[-7:]
  assert shuffled == sorted(events)  # Sorted in place.
  per_day = timeline.keep_last(list(events), 7, day_offset=3600)
  assert per_day == _expected_timeline(events, 7, 3600)[1]
  assert timeline.keep_last([], 7) == []


def test_next_trim_size_doubles_what_is_left_and_at_least_2l():
  assert timeline.next_trim_size(0, 50) == 100
  assert timeline.next_trim_size(50, 50) == 100
  assert timeline.next_trim_size(300, 50) == 600

"""Tests of beam.last_events: each user's last L events by as_of."""

import random

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing import util as beam_util
import pytest

from beam import counts
from beam import examples
from beam import last_events
from tfrs_adcg import timestamps


def _event(seconds, item="i", milliseconds=0):
  return (timestamps.event_time(seconds * 1000 + milliseconds), "view", item,
          "a")


def _combine(fn, event_lists, splits=2):
  """Combines the lists as a runner would: in several accumulators, each
  compacted (as before a shuffle), then merged."""
  accumulators = []
  for part in range(splits):
    accumulator = fn.create_accumulator()
    for event_list in event_lists[part::splits]:
      accumulator = fn.add_input(accumulator, list(event_list))
    accumulators.append(fn.compact(accumulator))
  return fn.extract_output(fn.merge_accumulators(accumulators))


@pytest.mark.parametrize("as_of", [None, 150, 10_000])
def test_last_events_fn_is_the_last_l_by_as_of_of_a_full_sort(as_of):
  rng = random.Random(as_of)
  events = [_event(rng.randrange(300), f"i{n}") for n in range(230)]
  event_lists = [events[n:n + 7] for n in range(0, len(events), 7)]
  history, before_history, after = _combine(
      last_events.LastEventsFn(max_seq_len=20, as_of=as_of), event_lists)
  by_as_of = sorted(e for e in events if as_of is None or e[0] <= as_of)
  assert history == by_as_of[-20:]
  assert before_history == len(by_as_of) - len(history)
  assert after == len(events) - len(by_as_of)


def test_last_events_fn_keeps_a_user_with_fewer_than_l_events_whole():
  events = [_event(30, "i3"), _event(10, "i1"), _event(20, "i2")]
  assert _combine(last_events.LastEventsFn(50), [events[:1], events[1:]]) == (
      sorted(events), 0, 0)


def test_last_events_fn_memory_stays_bounded():
  fn = last_events.LastEventsFn(max_seq_len=5)
  accumulator = fn.create_accumulator()
  for second in range(1000):
    accumulator = fn.add_input(accumulator, [_event(second)])
    assert len(accumulator[2]) < 2 * 5
  history, before_history, _ = fn.extract_output(accumulator)
  assert history == [_event(second) for second in range(995, 1000)]
  assert before_history == 995


def test_last_events_fn_as_of_is_exact_to_the_millisecond():
  at_as_of, just_after = _event(100), _event(100, milliseconds=1)
  history, _, after = _combine(last_events.LastEventsFn(5, as_of=100),
                               [[just_after, at_as_of]], splits=1)
  assert history == [at_as_of]
  assert after == 1


def test_user_histories_and_select_users_in_a_pipeline():
  user_events = [
      ("u1", [(10, "view", "i1", "a1"), (40, "view", "i4", "a4")]),
      ("u1", [(30, "view", "i3", "a3"), (20, "view", "i2", "a2")]),
      ("u2", [(50, "checkout", "i5", "a5")]),
  ]
  with test_pipeline.TestPipeline() as pipeline:
    selected = (pipeline
                | beam.Create(user_events)
                | last_events.UserHistories(2, as_of=30)
                | last_events.SelectUsers())
    beam_util.assert_that(selected.users, beam_util.equal_to([
        ("u1", [(20, "view", "i2", "a2"), (30, "view", "i3", "a3")])]),
                          label="Users")
    beam_util.assert_that(selected[last_events.SKIPPED], beam_util.equal_to(
        [("u2", last_events.NO_HISTORY, 1)]), label="Skipped")
    summed = selected[counts.COUNTS] | beam.CombinePerKey(sum)
    beam_util.assert_that(summed, beam_util.equal_to([
        (last_events.USERS_SEEN, 2),
        (examples.EVENTS_USED, 5),
        (last_events.EVENTS_IN_HISTORY, 2),
        (last_events.EVENTS_BEFORE_HISTORY, 1),
        (last_events.EVENTS_AFTER_AS_OF, 2),
        (f"{last_events.USERS_SKIPPED}/{last_events.NO_HISTORY}", 1),
    ]), label="Counts")

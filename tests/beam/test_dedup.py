"""Duplicate detection: shards, one copy of each event, the others dead."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to

from beam import dedup
from tfrs_adcg import schema
from tfrs_adcg import timestamps

T1 = timestamps.parse_timestamp("2026-01-01T00:10:42Z")
DISTINCT = [("u1", (T1, "view", "i1", "a1")),
            ("u2", (T1 + 1, "checkout", "", "a2")),
            ("u3", (T1 + 2, "view", "i,3", "a3"))]
# The raw row of DISTINCT[0] as a plain CSV row with a canonical time.
PLAIN_ROW = "u1,2026-01-01T00:10:42Z,view,i1,a1"


def test_dedup_shard_is_deterministic_and_in_range():
  assert dedup.dedup_shard("u1", T1, 64) == dedup.dedup_shard("u1", T1, 64)
  shards = {dedup.dedup_shard(f"u{i}", T1, 64) for i in range(500)}
  assert shards <= set(range(64)) and len(shards) > 50


def test_automatic_dedup_shards_per_8_mib_in_a_multiple_of_parallelism():
  mib = 2**20
  assert dedup.automatic_dedup_shards(0) == 1
  assert dedup.automatic_dedup_shards(8 * mib) == 1
  assert dedup.automatic_dedup_shards(8 * mib + 1) == 2
  assert dedup.automatic_dedup_shards(55 * mib) == 7
  assert dedup.automatic_dedup_shards(55 * mib, parallelism=2) == 8
  assert dedup.automatic_dedup_shards(64 * mib, parallelism=2) == 8
  assert dedup.automatic_dedup_shards(mib, parallelism=4) == 4


def test_plain_csv_row_is_the_row_of_the_raw_columns_in_order():
  assert dedup.plain_csv_row(DISTINCT[0]) == PLAIN_ROW
  assert dedup.plain_csv_row(DISTINCT[1]) == (
      "u2,2026-01-01T00:10:43Z,checkout,,a2")


def test_distinct_events_merge_keeps_one_copy():
  fn = dedup._DistinctEventsFn()
  first, second = fn.create_accumulator(), fn.create_accumulator()
  fn.add_input(first, [(DISTINCT[0], "r1"), (DISTINCT[0], "r2")])
  fn.add_input(second, [(DISTINCT[0], "r3"), (DISTINCT[1], "r4")])
  distinct, duplicates = fn.extract_output(
      fn.merge_accumulators([first, second]))
  assert sorted(distinct) == DISTINCT[:2]
  assert sorted(duplicates) == ["r2", "r3"]


def test_duplicates_without_their_raw_row_get_it_rebuilt():
  # None stands for the plain CSV row of the event, as parse_events gives.
  fn = dedup._DistinctEventsFn()
  first, second, third = (fn.create_accumulator() for _ in range(3))
  fn.add_input(first, [(DISTINCT[0], None), (DISTINCT[0], None)])
  fn.add_input(second, [(DISTINCT[0], None), (DISTINCT[1], None)])
  fn.add_input(third, [(DISTINCT[2], "r5")])
  distinct, duplicates = fn.extract_output(
      fn.merge_accumulators([first, second, third]))
  assert list(distinct.items()) == [(DISTINCT[0], None), (DISTINCT[1], None),
                                    (DISTINCT[2], "r5")]
  assert duplicates == [PLAIN_ROW, PLAIN_ROW]


def test_deduplicate_events():
  keyed = [(dedup.dedup_shard(e[0], e[1][0], 4), [(e, raw)])
           for e, raw in ((DISTINCT[0], "a"), (DISTINCT[0], "b"),
                          (DISTINCT[1], "c"))]
  with test_pipeline.TestPipeline() as pipeline:
    result = pipeline | beam.Create(keyed) | dedup.DeduplicateEvents()
    assert_that(result.events, equal_to(DISTINCT[:2]), label="Events")
    assert_that(result[dedup.DEAD_LETTERS] | beam.Map(lambda d: d[0]),
                equal_to([schema.DUPLICATE]), label="Dead")


def test_deduplicate_events_counts_ids_only_when_asked():
  keyed = [(0, [(DISTINCT[0], "a"), (DISTINCT[0], "b"), (DISTINCT[1], "c")])]
  with test_pipeline.TestPipeline() as pipeline:
    counted = (pipeline | "Counted" >> beam.Create(keyed)
               | "Dedup" >> dedup.DeduplicateEvents(grouped=True))
    uncounted = (pipeline | "Uncounted" >> beam.Create(keyed)
                 | "DedupNoIds" >> dedup.DeduplicateEvents(grouped=True,
                                                           count_ids=False))
    assert_that(counted[dedup.ID_COUNTS], equal_to([
        ((schema.EVENT_TYPE, "view"), 1), ((schema.ITEM_ID, "i1"), 1),
        ((schema.ADVERTISER_ID, "a1"), 1), ((schema.EVENT_TYPE, "checkout"), 1),
        ((schema.ADVERTISER_ID, "a2"), 1)]), label="Ids")
    assert_that(uncounted[dedup.ID_COUNTS], equal_to([]), label="NoIds")
    assert_that(uncounted.events, equal_to(
        [("u1", [DISTINCT[0][1]]), ("u2", [DISTINCT[1][1]])]),
                label="SameEvents")
    assert_that(uncounted[dedup.DEAD_LETTERS], equal_to(
        [(schema.DUPLICATE, "b")]), label="SameDead")

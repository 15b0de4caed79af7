"""An event log read into distinct valid events, dead letters and counts."""

import collections
import csv
import json

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam import event_log
from beam import events
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps
from tests.beam.raw_rows import (DISTINCT, EVENT_TYPES, MAX_TIME, MIN_TIME,
                                  ROWS, T1)


def test_time_range_fn_ignores_empty_accumulators():
  fn = event_log._TimeRangeFn()
  merged = fn.merge_accumulators([
      None, fn.add_input(fn.create_accumulator(), (T1 + 5, T1 + 9)), None,
      fn.add_input(fn.add_input(None, (T1 + 3, T1 + 4)), (T1 + 7, T1 + 7))])
  assert fn.extract_output(merged) == (T1 + 3, T1 + 9)
  assert fn.extract_output(fn.merge_accumulators([None, None])) is None

def _write_inputs(tmp_path):
  """ROWS as CSV, JSON Lines and Parquet (columns in another order)."""
  header = ",".join(schema.RAW_COLUMNS)
  (tmp_path / "events.csv").write_text(
      "\n".join([header] + [raw for raw, _ in ROWS]) + "\n")
  parsed = [next(csv.reader([raw])) for raw, _ in ROWS]
  records = [dict(zip(schema.RAW_COLUMNS, fields)) for fields in parsed]
  (tmp_path / "events.jsonl").write_text(
      "\n".join(json.dumps(record) for record in records) + "\n")
  columns = list(reversed(schema.RAW_COLUMNS))
  pq.write_table(
      pa.table({name: [record.get(name) for record in records]
                for name in columns}), tmp_path / "events.parquet")


@pytest.mark.parametrize("file_format", rows.FORMATS)
def test_read_events_accounts_for_every_row(tmp_path, file_format):
  _write_inputs(tmp_path)
  reasons = {}
  for _, reason in ROWS:
    if reason is not None:
      key = f"{events.EVENTS_DROPPED}/{reason}"
      reasons[key] = reasons.get(key, 0) + 1
  if file_format != rows.CSV:  # The short row is a row without advertiser.
    reasons.pop(f"{events.EVENTS_DROPPED}/{schema.MALFORMED_ROW}")
    reasons[f"{events.EVENTS_DROPPED}/{schema.MISSING_ADVERTISER_ID}"] += 1
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | event_log.ReadEvents(
        str(tmp_path / f"events.{file_format}"), file_format, EVENT_TYPES,
        MIN_TIME, MAX_TIME, dedup_shards=4)
    assert_that(read.events, equal_to(DISTINCT), label="Events")
    assert_that(read.counts | beam.CombinePerKey(sum),
                equal_to([(events.EVENTS_READ, len(ROWS))] +
                         list(reasons.items())), label="Counts")
    # The identity: every row read is a distinct event or a dead letter.
    assert len(DISTINCT) + sum(reasons.values()) == len(ROWS)
    assert_that(read.time_range, equal_to([(T1, T1 + 2)]), label="Range")
    assert_that(read.id_counts | "SumIds" >> beam.CombinePerKey(sum),
                equal_to([((schema.EVENT_TYPE, "view"), 2),
                          ((schema.EVENT_TYPE, "checkout"), 1),
                          ((schema.ITEM_ID, "i1"), 1),
                          ((schema.ITEM_ID, "i,3"), 1),
                          ((schema.ADVERTISER_ID, "a1"), 1),
                          ((schema.ADVERTISER_ID, "a2"), 1),
                          ((schema.ADVERTISER_ID, "a3"), 1)]), label="Ids")
    assert_that(
        read.dead_letters | beam.Map(lambda d: json.dumps(d[1]) and d[0]),
        equal_to([key.split("/")[1] for key, n in reasons.items()
                  for _ in range(n)]), label="DeadJson")
    if file_format == rows.CSV:
      assert_that(read.dead_letters, _csv_dead_letters_are_the_raw_rows,
                  label="DeadRows")


def _csv_dead_letters_are_the_raw_rows(dead_letters):
  """The CSV dead letters of ROWS: each rejected line, and two of the three
  copies of the duplicated event, exactly as read."""
  rejected = sorted((reason, raw) for raw, reason in ROWS
                    if reason not in (None, schema.DUPLICATE))
  assert sorted(d for d in dead_letters if d[0] != schema.DUPLICATE) == rejected
  duplicates = [raw for reason, raw in dead_letters
                if reason == schema.DUPLICATE]
  copies = collections.Counter(raw for raw, _ in ROWS[:3])
  assert len(duplicates) == 2 and collections.Counter(duplicates) <= copies


def test_grouped_events_are_the_same_events_in_lists_per_user(tmp_path):
  _write_inputs(tmp_path)
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | event_log.ReadEvents(
        str(tmp_path / "events.csv"), rows.CSV, EVENT_TYPES, MIN_TIME,
        MAX_TIME, dedup_shards=1, grouped=True)
    # One shard: each user's distinct events come in one list.
    assert_that(read.events | beam.MapTuple(lambda user, e: (user, sorted(e))),
                equal_to([(user, sorted(e for u, e in DISTINCT if u == user))
                          for user in {u for u, _ in DISTINCT}]))


def test_reading_without_id_counts_reads_the_same(tmp_path):
  # ROWS holds copies of an event, malformed and out-of-range rows.
  _write_inputs(tmp_path)
  with test_pipeline.TestPipeline() as pipeline:
    reads = {
        count_ids: pipeline | f"Read{count_ids}" >> event_log.ReadEvents(
            str(tmp_path / "events.csv"), rows.CSV, EVENT_TYPES, MIN_TIME,
            MAX_TIME, dedup_shards=2, grouped=True, count_ids=count_ids)
        for count_ids in (True, False)}
    # A user's lists hold distinct events, in whichever order.
    expected_events = [(user, sorted(e for u, e in DISTINCT if u == user))
                       for user in {u for u, _ in DISTINCT}]
    for count_ids, read in reads.items():
      assert_that(
          read.events | f"ByUser{count_ids}" >> beam.CombinePerKey(
              lambda lists: sorted(e for list_ in lists for e in list_)),
          equal_to(expected_events), label=f"Events{count_ids}")
      assert_that(read.counts | f"Sum{count_ids}" >> beam.CombinePerKey(sum),
                  equal_to(_counts_of_rows()), label=f"Counts{count_ids}")
      assert_that(read.dead_letters, _csv_dead_letters_are_the_raw_rows,
                  label=f"Dead{count_ids}")
    assert_that(reads[False].id_counts, equal_to([]), label="NoIds")


def _counts_of_rows():
  """The counts ReadEvents gives of ROWS read from CSV."""
  dropped = collections.Counter(f"{events.EVENTS_DROPPED}/{reason}"
                                for _, reason in ROWS if reason is not None)
  return [(events.EVENTS_READ, len(ROWS))] + list(dropped.items())


def test_read_events_fails_fast_on_bad_inputs(tmp_path):
  with pytest.raises(rows.InputError, match="matches no file"):
    event_log.ReadEvents(str(tmp_path / "*.csv"), rows.CSV, EVENT_TYPES,
                         MIN_TIME, MAX_TIME)
  (tmp_path / "empty.csv").write_text(",".join(schema.RAW_COLUMNS) + "\n")
  with pytest.raises(rows.InputError, match="no data row"):
    event_log.ReadEvents(str(tmp_path / "empty.csv"), rows.CSV, EVENT_TYPES,
                         MIN_TIME, MAX_TIME)
  (tmp_path / "other.csv").write_text("user,time\nu1,1\n")
  with pytest.raises(rows.InputError, match="no column"):
    event_log.ReadEvents(str(tmp_path / "other.csv"), rows.CSV, EVENT_TYPES,
                         MIN_TIME, MAX_TIME)

def test_events_within_a_second_keep_their_order(tmp_path):
  (tmp_path / "e.csv").write_text(
      "user_id,timestamp,event_type,item_id,advertiser_id\n"
      "u1,1767226242900,view,i1,a1\n"
      "u1,1767226242100,checkout,i1,a1\n"
      "u1,1767226242100,checkout,i1,a1\n"
      "u1,1767226243000,view,i2,a1\n")
  read_events = event_log.ReadEvents(
      str(tmp_path / "e.csv"), rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME,
      dedup_shards=1, grouped=True)
  assert read_events.timestamp_unit == timestamps.MILLISECONDS
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | read_events

    def check(user_lists):
      (user, user_events), = user_lists
      ordered = sorted(user_events)
      # The view sorted first when times were whole seconds.
      assert user == "u1" and ordered == [
          (timestamps.event_time(1767226242100), "checkout", "i1", "a1"),
          (timestamps.event_time(1767226242900), "view", "i1", "a1"),
          (T1 + 1, "view", "i2", "a1")]
      assert [type(event[0]) for event in ordered] == [
          timestamps.Instant, timestamps.Instant, int]

    assert_that(read.events, check)
    assert_that(read.time_range, equal_to([(T1, T1 + 1)]), label="Range")

def test_read_events_refuses_each_headerless_csv_file(tmp_path):
  header = ",".join(schema.RAW_COLUMNS) + "\n"
  (tmp_path / "a.csv").write_text(header + "u,2026-01-01T00:10:42Z,view,,a\n")
  (tmp_path / "b.csv").write_text("u,2026-01-01T00:10:43Z,view,,a\n")
  with pytest.raises(rows.InputError, match=r"b\.csv has no column"):
    event_log.ReadEvents(str(tmp_path / "*.csv"), rows.CSV, EVENT_TYPES,
                         MIN_TIME, MAX_TIME)

def test_json_lines_with_a_bom_and_a_first_line_that_is_no_object(tmp_path):
  good = {"user_id": "u1", "timestamp": "2026-01-01T00:10:42Z",
          "event_type": "view", "item_id": 5, "advertiser_id": 678}
  lines = [json.dumps(good), "[1, 2]",
           json.dumps(good | {"advertiser_id": 678.0}),
           json.dumps(good | {"event_type": "checkout", "item_id": True})]
  (tmp_path / "e.jsonl").write_bytes(("\ufeff[0]\n" + "\n".join(lines) +
                                      "\n").encode("utf-8"))
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | event_log.ReadEvents(
        str(tmp_path / "e.jsonl"), rows.JSONL, EVENT_TYPES, MIN_TIME, MAX_TIME)
    assert_that(read.events, equal_to([("u1", (T1, "view", "5", "678"))]))
    assert_that(read.counts | beam.CombinePerKey(sum), equal_to([
        (events.EVENTS_READ, 5),
        (f"{events.EVENTS_DROPPED}/{schema.MALFORMED_ROW}", 2),
        (f"{events.EVENTS_DROPPED}/{schema.DUPLICATE}", 1),
        (f"{events.EVENTS_DROPPED}/{schema.INVALID_ID}", 1)]), label="Counts")

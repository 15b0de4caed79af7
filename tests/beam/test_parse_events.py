"""Batches of raw rows to keyed events, dead letters and counts."""

import json
import random

import apache_beam as beam
from apache_beam.io import source_test_utils
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pytest

from beam import counts
from beam import dedup
from beam import events
from beam import logs
from beam import parse_events
from beam import row_source
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps
from tests.beam.raw_rows import (DISTINCT, EVENT_TYPES, MAX_TIME, MIN_TIME,
                                  ROWS, T1)


def _splitter():
  return rows.RowSplitter(rows.CSV, schema.RAW_COLUMNS, schema.RAW_COLUMNS)


def _batch(raw_rows):
  """A ``rows.RowBatch`` of CSV rows under the raw columns' header."""
  return schema.RAW_COLUMNS, list(raw_rows)


def test_parse_events_routes_each_row():
  raw_rows = [raw for raw, _ in ROWS]
  with test_pipeline.TestPipeline() as pipeline:
    parsed = (pipeline
              | beam.Create([_batch(raw_rows[:6]), _batch(raw_rows[6:])])
              | parse_events.ParseEvents(rows.CSV, EVENT_TYPES, MIN_TIME,
                                         MAX_TIME, dedup_shards=8))
    expected_dead = [(reason, raw) for raw, reason in ROWS
                     if reason not in (None, schema.DUPLICATE)]
    assert_that(parsed[parse_events.DEAD_LETTERS], equal_to(expected_dead),
                label="DeadLetters")
    # A None raw row stands for the plain CSV row of the event.
    assert_that(
        parsed.events | beam.FlatMap(lambda shard_rows: shard_rows[1])
        | beam.MapTuple(
            lambda event, raw: (event, raw or dedup.plain_csv_row(event))),
        equal_to([(DISTINCT[0], ROWS[0][0]), (DISTINCT[0], ROWS[1][0]),
                  (DISTINCT[0], ROWS[2][0]), (DISTINCT[1], ROWS[3][0]),
                  (DISTINCT[2], ROWS[4][0])]), label="Events")
    assert_that(parsed[counts.COUNTS] | "Sum" >> beam.CombinePerKey(sum),
                equal_to([(events.EVENTS_READ, len(ROWS))]), label="Counts")
    # Per bundle: together, the earliest and latest valid times.
    assert_that(
        parsed[parse_events.TIME_RANGE] | beam.combiners.ToList()
        | beam.Map(lambda pairs: (min(p[0] for p in pairs),
                                  max(p[1] for p in pairs))),
        equal_to([(T1, T1 + 2)]), label="Range")


# Rows through every way of _ParseEventsFn.process: its fast path (the time
# cached, seen first or in another form) and validate() for the others.
MIXED_ROWS = [raw for raw, _ in ROWS] + [
    "u4,2026-01-01T00:10:42Z,checkout,i4,a4",
    "u4,2026-01-01T23:59:59Z,view,,a4",
    "u4,2026-01-01 23:59:59Z,view,,a4",
    "u4,2026-01-01T23:59:59,view,,a4",
    "u4,2026-01-01 23:59:59,view,,a4",
    "u4,2026-01-01T23:59:59Z,view,,a4",
    "u4,2026-01-02T00:00:00Z,view,i4,a4",
    "u5,2026-01-01T24:00:00Z,view,i5,a5",
    "u5,2026-01-01T23:59:60Z,view,i5,a5",
    "u5,2026-13-01T00:00:00Z,view,i5,a5",
    "u5,2026-01-01T00:00:00.5Z,view,i5,a5",
    "u5,2026-W01-1T00:10:42Z,view,i5,a5",  # A week date: a later fallback.
    "u5,2026-01-01T00:00:00+01:00,view,i5,a5",
    "u5, 2026-01-01T00:00:00Z,view,i5,a5",
    "u5,2019-12-31T23:59:59Z,view,i5,a5",
    "u5,2026-01-01T00:00:00Z,click,i5,a5",
    "u5,2026-01-01T00:00:00Z,view,i5,",
    ",,,,",
    "",
    "u5,2026-01-01T00:00:00Z,view,i5,a5,a6",
    'u6,"2026-01-01T00:00:01Z",view,i6,a6',
    'u6,2026-01-01T00:00:01Z,"view",i6,a6',
]


def test_parse_events_fast_path_agrees_with_validate():
  fn, reference = (
      parse_events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
      for _ in range(2))
  expected_dead, expected_events = [], {}
  for raw in MIXED_ROWS:
    reason, event = reference.validate(raw, _splitter())
    if reason is None:
      shard = dedup.dedup_shard(event[0], event[1][0], 4)
      expected_events.setdefault(shard, []).append((event, raw))
    else:
      expected_dead.append((reason, raw))
  fn.start_bundle()
  for _ in range(2):  # Times seen first, then cached.
    dead, by_shard = [], {}
    for output in fn.process(_batch(MIXED_ROWS)):
      if isinstance(output, beam.pvalue.TaggedOutput):
        dead.append(output.value)
      else:
        by_shard[output[0]] = output[1]
    assert dead == expected_dead
    assert {shard: [(event, raw or dedup.plain_csv_row(event))
                    for event, raw in shard_rows]
            for shard, shard_rows in by_shard.items()} == expected_events
    # The raw row is left out exactly where it can be rebuilt.
    left_out = [event for shard_rows in by_shard.values()
                for event, raw in shard_rows if raw is None]
    rebuildable = [event for shard_rows in expected_events.values()
                   for event, raw in shard_rows
                   if raw == dedup.plain_csv_row(event)]
    assert sorted(left_out) == sorted(rebuildable) and len(left_out) > 3


def test_a_shard_keeps_the_order_of_its_batch_across_both_ways():
  # The row-by-row way takes the second row (its time's form), the
  # column-wise one the others; the first copy of an event is the one kept.
  raw_rows = ["u1,2026-01-01T00:00:00Z,view,i1,a1",
              "u1,2026-01-01T00:00:00+00:00,view,i1,a1",
              "u2,2026-01-01T00:00:05Z,view,i2,a2",
              "u1,2026-01-01T00:00:00Z,view,i1,a1"]
  fn = parse_events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME,
                                   1)
  fn.start_bundle()
  (shard, shard_rows), = fn.process(_batch(raw_rows))
  assert shard == 0
  assert [raw or dedup.plain_csv_row(event)
          for event, raw in shard_rows] == raw_rows
  assert [raw is None for _, raw in shard_rows] == [True, False, True, True]


def test_parse_events_turns_json_values_into_text():
  splitter = rows.RowSplitter(rows.JSONL, [], schema.RAW_COLUMNS)
  fn = parse_events._ParseEventsFn(rows.JSONL, EVENT_TYPES, MIN_TIME,
                                   MAX_TIME, 4)
  raw = json.dumps({"user_id": 7, "timestamp": T1, "event_type": "checkout",
                    "item_id": None, "advertiser_id": 12})
  assert fn.validate(raw, splitter) == (None,
                                        ("7", (T1, "checkout", "", "12")))
  assert fn.validate(json.dumps({"user_id": "u"}), splitter)[0] == (
      schema.MISSING_ADVERTISER_ID)


@pytest.mark.parametrize("record, reason", [
    ({"user_id": {"x": 1}}, schema.INVALID_ID),
    ({"advertiser_id": True}, schema.INVALID_ID),
    ({"item_id": [1]}, schema.INVALID_ID),
    ({"item_id": float("nan")}, schema.INVALID_ID),
    ({"user_id": "\ud800"}, schema.INVALID_ID),
    ({"user_id": "u\t1"}, schema.INVALID_ID),
    ({"item_id": "i\n1"}, schema.INVALID_ID),
    ({"advertiser_id": "a\r1"}, schema.INVALID_ID),
    ({"timestamp": {"s": 1}}, schema.BAD_TIMESTAMP),
    ({"timestamp": True}, schema.BAD_TIMESTAMP),
    ({"advertiser_id": 678.0}, None),
    ({"advertiser_id": 678.5}, None)])
def test_json_values_that_are_no_ids_are_dead_letters(record, reason):
  fn = parse_events._ParseEventsFn(rows.JSONL, EVENT_TYPES, MIN_TIME,
                                   MAX_TIME, 4)
  splitter = rows.RowSplitter(rows.JSONL, [], schema.RAW_COLUMNS)
  row = {"user_id": "u", "timestamp": T1, "event_type": "view",
         "item_id": "i", "advertiser_id": 678, **record}
  found, event = fn.validate(json.dumps(row), splitter)
  assert found == reason
  if reason is None:
    assert event[1][3] == ("678" if row["advertiser_id"] == 678 else "678.5")


def test_csv_ids_with_tabs_or_breaks_are_dead_letters():
  fn = parse_events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  batch = ["u\t1,2026-01-01T00:10:42Z,view,i1,a1",
           "u1,2026-01-01T00:10:42Z,view,i\r1,a1",
           'u1,2026-01-01T00:10:42Z,view,i1,"a\n1"',
           "u1,2026-01-01T00:10:42Z,view,i1,a1"]
  outputs = list(fn.process(_batch(batch)))
  dead = [output.value for output in outputs
          if isinstance(output, beam.pvalue.TaggedOutput)]
  assert dead == [(schema.INVALID_ID, raw) for raw in batch[:3]]


def _fuzz_rows(rng):
  """Random raw rows: bytes decoded as the line reader does, CSV and JSON
  fragments, unicode, valid rows with one field spoiled."""
  valid = ["u1", "2026-01-01T00:10:42Z", "view", "i1", "a1"]
  pieces = [",", '"', '""', "\t", "\r", "\n", "{", "}", "[", "]", ":", "\\",
            "null", "true", "1e999", "NaN", "-1", "678.0", "\ufeff", "é",
            "\u2028", "\x00", "💥", "2026-01-01T00:10:42.5Z", "1767226242123",
            '"user_id"', '"timestamp"', "view", "checkout", " "]
  kind = rng.randrange(5)
  if kind == 0:
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
    return data.decode("utf-8", "replace")
  if kind == 1:
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(30)))
  if kind == 2:
    return "".join(chr(rng.randrange(0x110000)) for _ in range(20)).encode(
        "utf-8", "replace").decode("utf-8", "replace")
  if kind == 3:
    fields = list(valid)
    fields[rng.randrange(5)] = "".join(
        rng.choice(pieces) for _ in range(rng.randrange(4)))
    return ",".join(fields)
  record = dict(zip(schema.RAW_COLUMNS, valid))
  record[rng.choice(schema.RAW_COLUMNS)] = rng.choice(
      [None, True, 1.5, 678.0, {"x": 1}, [1], "a\tb", 1767226242123, -1e300,
       "".join(rng.choice(pieces) for _ in range(5))])
  text = json.dumps(record)
  cut = rng.randrange(len(text) + 1)
  return text if rng.random() < 0.5 else text[:cut] + rng.choice(pieces)


@pytest.mark.parametrize("file_format", [rows.CSV, rows.JSONL])
def test_parse_events_survives_random_rows(file_format):
  rng = random.Random(16)
  fn = parse_events._ParseEventsFn(file_format, EVENT_TYPES, MIN_TIME,
                                   MAX_TIME, 8, timestamps.MILLISECONDS)
  columns = schema.RAW_COLUMNS if file_format == rows.CSV else ()
  batch = [_fuzz_rows(rng) for _ in range(3000)]
  fn.start_bundle()
  valid = dead = 0
  for output in fn.process((columns, batch)):
    if isinstance(output, beam.pvalue.TaggedOutput):
      assert output.value[0] in schema.DROP_REASONS
      json.dumps(output.value, ensure_ascii=False).encode("utf-8")
      dead += 1
    else:
      for (user, (_, event_type, item, advertiser)), _ in output[1]:
        for id_ in (user, item, advertiser):
          assert not any(c in id_ for c in "\t\r\n")
          id_.encode("utf-8")
        assert event_type in EVENT_TYPES
        valid += 1
  finished = {output.value.value for output in fn.finish_bundle()}
  assert (events.EVENTS_READ, len(batch)) in finished
  assert valid + dead == len(batch) and valid and dead

def test_parsing_logs_the_rows_read_so_far(monkeypatch, caplog):
  monkeypatch.setattr(logs, "PROGRESS_SECONDS", 0.0)
  fn = parse_events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  fn.setup()
  fn.start_bundle()
  with caplog.at_level("INFO", logger="beam.parse_events"):
    for _ in range(2):
      list(fn.process(_batch([raw for raw, _ in ROWS])))
  assert f"{2 * len(ROWS)} event rows read so far" in caplog.text


def test_random_files_read_and_parse_without_losing_a_row(tmp_path):
  rng = random.Random(61)
  fn = parse_events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  fn.start_bundle()
  read = parsed = 0
  for case in range(300):
    path = tmp_path / f"{case}.csv"
    lines = [_fuzz_rows(rng) for _ in range(rng.randrange(1, 12))]
    path.write_bytes(("\ufeff" * rng.randrange(2) + ",".join(
        schema.RAW_COLUMNS) + "\n" + "\n".join(lines)).encode(
            "utf-8", "surrogatepass"))
    source = row_source._LineBatchSource(str(path), True, batch_size=3)
    for bundle in source.split(desired_bundle_size=rng.randrange(1, 200)):
      for row_batch in source_test_utils.read_from_source(
          bundle.source, bundle.start_position, bundle.stop_position):
        assert row_batch[0] == schema.RAW_COLUMNS
        read += len(row_batch[1])
        for output in fn.process(row_batch):
          parsed += (1 if isinstance(output, beam.pvalue.TaggedOutput)
                     else len(output[1]))
  assert read == parsed > 300

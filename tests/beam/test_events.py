"""Raw rows to distinct valid events, dead letters and counts."""

import collections
import csv
import datetime
import json
import random

import apache_beam as beam
from apache_beam.io import source_test_utils
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam import counts
from beam import events
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps

EVENT_TYPES = ("view", "checkout")
MIN_TIME = timestamps.parse_timestamp("2020-01-01T00:00:00Z")
MAX_TIME = timestamps.parse_timestamp("2030-01-01T00:00:00Z")
T1 = timestamps.parse_timestamp("2026-01-01T00:10:42Z")

# (raw CSV row, dead-letter reason or None).
ROWS = [
    ("u1,2026-01-01T00:10:42Z,view,i1,a1", None),
    ("u1,1767226242,view,i1,a1", events.DUPLICATE),  # Same time, epoch form.
    ("u1,2026-01-01T00:10:42Z,view,i1,a1", events.DUPLICATE),
    ("u2,2026-01-01 00:10:43,checkout,,a2", None),
    ('u3,2026-01-01T00:10:44Z,view,"i,3",a3', None),
    (",2026-01-01T00:10:42Z,view,i1,a1", events.MISSING_USER_ID),
    ("u1,2026-01-01T00:10:42Z,view,i1,", events.MISSING_ADVERTISER_ID),
    ("u1,2026-02-30T00:10:42Z,view,i1,a1", events.BAD_TIMESTAMP),
    ("u1,,view,i1,a1", events.BAD_TIMESTAMP),
    ("u1,inf,view,i1,a1", events.BAD_TIMESTAMP),
    ("u1,2100-01-01T00:00:00Z,view,i1,a1", events.TIMESTAMP_OUT_OF_RANGE),
    ("u1,2026-01-01T00:10:42Z,click,i1,a1", events.UNKNOWN_EVENT_TYPE),
    ("u1,2026-01-01T00:10:42Z,view,i1", events.MALFORMED_ROW),
]
DISTINCT = [("u1", (T1, "view", "i1", "a1")),
            ("u2", (T1 + 1, "checkout", "", "a2")),
            ("u3", (T1 + 2, "view", "i,3", "a3"))]


@pytest.mark.parametrize("value", [
    "2026-01-01T00:10:42Z", "2026-01-01 00:10:42", "2026-01-01T00:10:42",
    "2026-01-01T00:10:42.9Z", "2026-01-01T01:10:42+01:00", "1767226242",
    "1767226242.5", 1767226242, 1767226242.5, "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T+1:00:00Z", "n/a", "", "nan"])
def test_timestamp_parser_agrees_with_parse_timestamp(value):
  parser = events.TimestampParser()
  try:
    expected = timestamps.event_time(timestamps.parse_timestamp_ms(value))
  except ValueError:
    expected = None
  for _ in range(2):  # Uncached, then cached.
    try:
      assert parser(value) == expected
    except ValueError:
      assert expected is None


def test_timestamp_parser_takes_parquet_datetimes():
  parser = events.TimestampParser()
  moment = datetime.datetime(2026, 1, 1, 0, 10, 42)
  assert parser(moment) == T1
  assert parser(moment.replace(tzinfo=datetime.timezone.utc)) == T1
  with pytest.raises(ValueError):
    parser(None)


def test_dedup_shard_is_deterministic_and_in_range():
  assert events.dedup_shard("u1", T1, 64) == events.dedup_shard("u1", T1, 64)
  shards = {events.dedup_shard(f"u{i}", T1, 64) for i in range(500)}
  assert shards <= set(range(64)) and len(shards) > 50


def test_automatic_dedup_shards_per_8_mib_in_a_multiple_of_parallelism():
  mib = 2**20
  assert events.automatic_dedup_shards(0) == 1
  assert events.automatic_dedup_shards(8 * mib) == 1
  assert events.automatic_dedup_shards(8 * mib + 1) == 2
  assert events.automatic_dedup_shards(55 * mib) == 7
  assert events.automatic_dedup_shards(55 * mib, parallelism=2) == 8
  assert events.automatic_dedup_shards(64 * mib, parallelism=2) == 8
  assert events.automatic_dedup_shards(mib, parallelism=4) == 4


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
              | events.ParseEvents(rows.CSV, EVENT_TYPES, MIN_TIME,
                                   MAX_TIME, dedup_shards=8))
    expected_dead = [(reason, raw) for raw, reason in ROWS
                     if reason not in (None, events.DUPLICATE)]
    assert_that(parsed[events.DEAD_LETTERS], equal_to(expected_dead),
                label="DeadLetters")
    # A None raw row stands for the plain CSV row of the event.
    assert_that(
        parsed.events | beam.FlatMap(lambda shard_rows: shard_rows[1])
        | beam.MapTuple(
            lambda event, raw: (event, raw or events.plain_csv_row(event))),
        equal_to([(DISTINCT[0], ROWS[0][0]), (DISTINCT[0], ROWS[1][0]),
                  (DISTINCT[0], ROWS[2][0]), (DISTINCT[1], ROWS[3][0]),
                  (DISTINCT[2], ROWS[4][0])]), label="Events")
    assert_that(parsed[counts.COUNTS] | "Sum" >> beam.CombinePerKey(sum),
                equal_to([(events.EVENTS_READ, len(ROWS))]), label="Counts")
    assert_that(
        parsed[events.TIME_RANGE] | beam.CombineGlobally(
            events._TimeRangeFn()), equal_to([(T1, T1 + 2)]), label="Range")


def test_distinct_events_merge_keeps_one_copy():
  fn = events._DistinctEventsFn()
  first, second = fn.create_accumulator(), fn.create_accumulator()
  fn.add_input(first, [(DISTINCT[0], "r1"), (DISTINCT[0], "r2")])
  fn.add_input(second, [(DISTINCT[0], "r3"), (DISTINCT[1], "r4")])
  distinct, duplicates = fn.extract_output(
      fn.merge_accumulators([first, second]))
  assert sorted(distinct) == DISTINCT[:2]
  assert sorted(duplicates) == ["r2", "r3"]


def test_duplicates_without_their_raw_row_get_it_rebuilt():
  # None stands for the plain CSV row of the event, as _ParseEventsFn gives.
  fn = events._DistinctEventsFn()
  first, second, third = (fn.create_accumulator() for _ in range(3))
  fn.add_input(first, [(DISTINCT[0], None), (DISTINCT[0], None)])
  fn.add_input(second, [(DISTINCT[0], None), (DISTINCT[1], None)])
  fn.add_input(third, [(DISTINCT[2], "r5")])
  distinct, duplicates = fn.extract_output(
      fn.merge_accumulators([first, second, third]))
  assert list(distinct.items()) == [(DISTINCT[0], None), (DISTINCT[1], None),
                                    (DISTINCT[2], "r5")]
  assert duplicates == [ROWS[0][0], ROWS[0][0]]


@pytest.mark.parametrize("value", [
    "2026-01-01T00:10:42Z", "1970-01-01T00:00:00Z", "0999-12-31T23:59:59Z",
    "2024-02-29T12:00:00Z"])
def test_canonical_times_are_written_back_as_they_were_read(value):
  assert timestamps.to_iso(events.TimestampParser()(value)) == value


def test_timestamp_parser_caches_hold_canonical_times_only():
  parser = events.TimestampParser()
  values = ["2026-01-01T00:10:42Z", "2026-01-01 00:10:43",
            "2026-01-01T00:10:44", "2026-01-01 00:10:45Z",
            "2026-01-02T00:10:46Z"]
  for value in values:
    parser(value)
  dates, times_of_day = parser.caches
  cached = [value for value in values
            if value[:10] in dates and value[10:] in times_of_day]
  assert cached == [values[0], values[-1]]
  for value in values:  # Cached or not, the same times.
    assert parser(value) == timestamps.parse_timestamp(value)


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
  fn = events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  reference = events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME,
                                    MAX_TIME, 4)
  expected_dead, expected_events = [], {}
  for raw in MIXED_ROWS:
    reason, event = reference.validate(raw, _splitter())
    if reason is None:
      shard = events.dedup_shard(event[0], event[1][0], 4)
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
    assert {shard: [(event, raw or events.plain_csv_row(event))
                    for event, raw in shard_rows]
            for shard, shard_rows in by_shard.items()} == expected_events
    # The raw row is left out exactly where it can be rebuilt.
    left_out = [event for shard_rows in by_shard.values()
                for event, raw in shard_rows if raw is None]
    rebuildable = [event for shard_rows in expected_events.values()
                   for event, raw in shard_rows
                   if raw == events.plain_csv_row(event)]
    assert sorted(left_out) == sorted(rebuildable) and len(left_out) > 3


def test_parse_events_turns_json_values_into_text():
  splitter = rows.RowSplitter(rows.JSONL, [], schema.RAW_COLUMNS)
  fn = events._ParseEventsFn(rows.JSONL, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  raw = json.dumps({"user_id": 7, "timestamp": T1, "event_type": "checkout",
                    "item_id": None, "advertiser_id": 12})
  assert fn.validate(raw, splitter) == (None,
                                        ("7", (T1, "checkout", "", "12")))
  assert fn.validate(json.dumps({"user_id": "u"}), splitter)[0] == (
      events.MISSING_ADVERTISER_ID)


def test_deduplicate_events():
  keyed = [(events.dedup_shard(e[0], e[1][0], 4), [(e, raw)])
           for e, raw in ((DISTINCT[0], "a"), (DISTINCT[0], "b"),
                          (DISTINCT[1], "c"))]
  with test_pipeline.TestPipeline() as pipeline:
    result = pipeline | beam.Create(keyed) | events.DeduplicateEvents()
    assert_that(result.events, equal_to(DISTINCT[:2]), label="Events")
    assert_that(result[events.DEAD_LETTERS] | beam.Map(lambda d: d[0]),
                equal_to([events.DUPLICATE]), label="Dead")


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
    reasons.pop(f"{events.EVENTS_DROPPED}/{events.MALFORMED_ROW}")
    reasons[f"{events.EVENTS_DROPPED}/{events.MISSING_ADVERTISER_ID}"] += 1
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | events.ReadEvents(
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
                    if reason not in (None, events.DUPLICATE))
  assert sorted(d for d in dead_letters if d[0] != events.DUPLICATE) == rejected
  duplicates = [raw for reason, raw in dead_letters
                if reason == events.DUPLICATE]
  copies = collections.Counter(raw for raw, _ in ROWS[:3])
  assert len(duplicates) == 2 and collections.Counter(duplicates) <= copies


def test_grouped_events_are_the_same_events_in_lists_per_user(tmp_path):
  _write_inputs(tmp_path)
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | events.ReadEvents(
        str(tmp_path / "events.csv"), rows.CSV, EVENT_TYPES, MIN_TIME,
        MAX_TIME, dedup_shards=1, grouped=True)
    # One shard: each user's distinct events come in one list.
    assert_that(read.events | beam.MapTuple(lambda user, e: (user, sorted(e))),
                equal_to([(user, sorted(e for u, e in DISTINCT if u == user))
                          for user in {u for u, _ in DISTINCT}]))


def test_read_events_fails_fast_on_bad_inputs(tmp_path):
  with pytest.raises(rows.InputError, match="matches no file"):
    events.ReadEvents(str(tmp_path / "*.csv"), rows.CSV, EVENT_TYPES, MIN_TIME,
                      MAX_TIME)
  (tmp_path / "empty.csv").write_text(",".join(schema.RAW_COLUMNS) + "\n")
  with pytest.raises(rows.InputError, match="no data row"):
    events.ReadEvents(str(tmp_path / "empty.csv"), rows.CSV, EVENT_TYPES,
                      MIN_TIME, MAX_TIME)
  (tmp_path / "other.csv").write_text("user,time\nu1,1\n")
  with pytest.raises(rows.InputError, match="no column"):
    events.ReadEvents(str(tmp_path / "other.csv"), rows.CSV, EVENT_TYPES,
                      MIN_TIME, MAX_TIME)


@pytest.mark.parametrize("record, reason", [
    ({"user_id": {"x": 1}}, events.INVALID_ID),
    ({"advertiser_id": True}, events.INVALID_ID),
    ({"item_id": [1]}, events.INVALID_ID),
    ({"item_id": float("nan")}, events.INVALID_ID),
    ({"user_id": "\ud800"}, events.INVALID_ID),
    ({"user_id": "u\t1"}, events.INVALID_ID),
    ({"item_id": "i\n1"}, events.INVALID_ID),
    ({"advertiser_id": "a\r1"}, events.INVALID_ID),
    ({"timestamp": {"s": 1}}, events.BAD_TIMESTAMP),
    ({"timestamp": True}, events.BAD_TIMESTAMP),
    ({"advertiser_id": 678.0}, None),
    ({"advertiser_id": 678.5}, None)])
def test_json_values_that_are_no_ids_are_dead_letters(record, reason):
  fn = events._ParseEventsFn(rows.JSONL, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  splitter = rows.RowSplitter(rows.JSONL, [], schema.RAW_COLUMNS)
  row = {"user_id": "u", "timestamp": T1, "event_type": "view",
         "item_id": "i", "advertiser_id": 678, **record}
  found, event = fn.validate(json.dumps(row), splitter)
  assert found == reason
  if reason is None:
    assert event[1][3] == ("678" if row["advertiser_id"] == 678 else "678.5")


def test_csv_ids_with_tabs_or_breaks_are_dead_letters():
  fn = events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  batch = ["u\t1,2026-01-01T00:10:42Z,view,i1,a1",
           "u1,2026-01-01T00:10:42Z,view,i\r1,a1",
           'u1,2026-01-01T00:10:42Z,view,i1,"a\n1"',
           "u1,2026-01-01T00:10:42Z,view,i1,a1"]
  outputs = list(fn.process(_batch(batch)))
  dead = [output.value for output in outputs
          if isinstance(output, beam.pvalue.TaggedOutput)]
  assert dead == [(events.INVALID_ID, raw) for raw in batch[:3]]


def test_events_within_a_second_keep_their_order(tmp_path):
  (tmp_path / "e.csv").write_text(
      "user_id,timestamp,event_type,item_id,advertiser_id\n"
      "u1,1767226242900,view,i1,a1\n"
      "u1,1767226242100,checkout,i1,a1\n"
      "u1,1767226242100,checkout,i1,a1\n"
      "u1,1767226243000,view,i2,a1\n")
  read_events = events.ReadEvents(
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


def test_resolve_timestamp_unit(tmp_path, caplog):
  header = ",".join(schema.RAW_COLUMNS) + "\n"
  (tmp_path / "s.csv").write_text(header + "u,1767226242,view,,a\n")
  (tmp_path / "us.csv").write_text(header + "u,1767226242000000,view,,a\n")
  (tmp_path / "iso.csv").write_text(header + "u,2026-01-01T00:10:42Z,view,,a\n")
  path = lambda name: str(tmp_path / name)
  with caplog.at_level("INFO"):
    assert events.resolve_timestamp_unit(
        [path("iso.csv"), path("us.csv")], rows.CSV,
        timestamps.AUTO) == timestamps.MICROSECONDS
  assert "epoch microseconds, by their magnitude" in caplog.text
  assert events.resolve_timestamp_unit(
      [path("iso.csv")], rows.CSV, timestamps.AUTO) == timestamps.SECONDS
  assert events.resolve_timestamp_unit(
      [path("us.csv")], rows.CSV, timestamps.MILLISECONDS) == (
          timestamps.MILLISECONDS)
  with pytest.raises(rows.InputError, match=r"us\.csv has timestamps in "
                     r"epoch microseconds, .*s\.csv in epoch seconds"):
    events.resolve_timestamp_unit([path("s.csv"), path("us.csv")], rows.CSV,
                                  timestamps.AUTO)


def test_read_events_refuses_each_headerless_csv_file(tmp_path):
  header = ",".join(schema.RAW_COLUMNS) + "\n"
  (tmp_path / "a.csv").write_text(header + "u,2026-01-01T00:10:42Z,view,,a\n")
  (tmp_path / "b.csv").write_text("u,2026-01-01T00:10:43Z,view,,a\n")
  with pytest.raises(rows.InputError, match=r"b\.csv has no column"):
    events.ReadEvents(str(tmp_path / "*.csv"), rows.CSV, EVENT_TYPES,
                      MIN_TIME, MAX_TIME)


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
  fn = events._ParseEventsFn(file_format, EVENT_TYPES, MIN_TIME, MAX_TIME, 8,
                             timestamps.MILLISECONDS)
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


def test_json_lines_with_a_bom_and_a_first_line_that_is_no_object(tmp_path):
  good = {"user_id": "u1", "timestamp": "2026-01-01T00:10:42Z",
          "event_type": "view", "item_id": 5, "advertiser_id": 678}
  lines = [json.dumps(good), "[1, 2]",
           json.dumps(good | {"advertiser_id": 678.0}),
           json.dumps(good | {"event_type": "checkout", "item_id": True})]
  (tmp_path / "e.jsonl").write_bytes(("\ufeff[0]\n" + "\n".join(lines) +
                                      "\n").encode("utf-8"))
  with test_pipeline.TestPipeline() as pipeline:
    read = pipeline | events.ReadEvents(str(tmp_path / "e.jsonl"), rows.JSONL,
                                        EVENT_TYPES, MIN_TIME, MAX_TIME)
    assert_that(read.events, equal_to([("u1", (T1, "view", "5", "678"))]))
    assert_that(read.counts | beam.CombinePerKey(sum), equal_to([
        (events.EVENTS_READ, 5),
        (f"{events.EVENTS_DROPPED}/{events.MALFORMED_ROW}", 2),
        (f"{events.EVENTS_DROPPED}/{events.DUPLICATE}", 1),
        (f"{events.EVENTS_DROPPED}/{events.INVALID_ID}", 1)]), label="Counts")


def test_parsing_logs_the_rows_read_so_far(monkeypatch, caplog):
  monkeypatch.setattr(events, "PROGRESS_SECONDS", 0.0)
  fn = events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  fn.setup()
  fn.start_bundle()
  with caplog.at_level("INFO", logger="beam.events"):
    for _ in range(2):
      list(fn.process(_batch([raw for raw, _ in ROWS])))
  assert f"{2 * len(ROWS)} event rows read so far" in caplog.text


def test_random_files_read_and_parse_without_losing_a_row(tmp_path):
  rng = random.Random(61)
  fn = events._ParseEventsFn(rows.CSV, EVENT_TYPES, MIN_TIME, MAX_TIME, 4)
  fn.start_bundle()
  read = parsed = 0
  for case in range(300):
    path = tmp_path / f"{case}.csv"
    lines = [_fuzz_rows(rng) for _ in range(rng.randrange(1, 12))]
    path.write_bytes(("\ufeff" * rng.randrange(2) + ",".join(
        schema.RAW_COLUMNS) + "\n" + "\n".join(lines)).encode(
            "utf-8", "surrogatepass"))
    source = rows._LineBatchSource(str(path), True, batch_size=3)
    for bundle in source.split(desired_bundle_size=rng.randrange(1, 200)):
      for row_batch in source_test_utils.read_from_source(
          bundle.source, bundle.start_position, bundle.stop_position):
        assert row_batch[0] == schema.RAW_COLUMNS
        read += len(row_batch[1])
        for output in fn.process(row_batch):
          parsed += (1 if isinstance(output, beam.pvalue.TaggedOutput)
                     else len(output[1]))
  assert read == parsed > 300

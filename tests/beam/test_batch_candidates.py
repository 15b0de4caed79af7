"""Tests of beam.batch_candidates: output = the SavedModel called per user."""

import collections
import csv
import glob
import json
import pathlib
import random
import shutil
from typing import Dict, List, Tuple

import numpy as np
import pyarrow.parquet as pq
import pytest

from beam import batch_candidates
from beam import candidate_writers
from beam import events as events_lib
from beam import examples
from beam import last_events
from beam import scoring
from export import export_info
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema
from tfrs_adcg import timestamps

AS_OF = "2026-02-01T00:00:00Z"
# One row per dead-letter reason; they must be counted and written, not lost.
BAD_ROWS = {
    schema.MALFORMED_ROW: "just,three,fields",
    schema.MISSING_USER_ID: ",2026-01-05T00:00:00Z,view,item_001,adv_01",
    schema.MISSING_ADVERTISER_ID: "user_001,2026-01-05T00:00:00Z,view,i,",
    schema.BAD_TIMESTAMP: "user_001,yesterday,view,item_001,adv_01",
    schema.TIMESTAMP_OUT_OF_RANGE:
        "user_001,1990-01-01T00:00:00Z,view,item_001,adv_01",
    schema.UNKNOWN_EVENT_TYPE:
        "user_001,2026-01-05T00:00:00Z,teleport,item_001,adv_01",
}
# Valid rows of users made for the as_of boundary: only events after as_of,
# and one event exactly at as_of (which counts: histories are inclusive).
EXTRA_ROWS = [
    "user_late,2026-02-05T00:00:00Z,view,item_001,adv_01",
    "user_late,2026-02-06T00:00:00Z,checkout,item_001,adv_01",
    f"user_edge,{AS_OF},add_to_cart,item_002,adv_02",
    "user_edge,2026-02-02T00:00:00Z,view,item_003,adv_03",
]

Event = Tuple[int, str, str, str]
Ranking = Tuple[List[str], List[float]]


def _read_events(path: pathlib.Path) -> Dict[str, List[Event]]:
  """Every user's events from a clean CSV, independently of beam.events."""
  user_events = collections.defaultdict(list)
  with open(path, newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
      user_events[row[schema.RAW_USER_ID]].append((
          timestamps.parse_timestamp(row[schema.RAW_TIMESTAMP]),
          row[schema.RAW_EVENT_TYPE], row[schema.RAW_ITEM_ID],
          row[schema.RAW_ADVERTISER_ID]))
  return user_events


def _load(version_dir: pathlib.Path):
  if export_info.ExportInfo.read(str(version_dir)).index == "scann":
    from scann.scann_ops.py import scann_ops  # pylint: disable=g-import-not-at-top,unused-import
  return tf.saved_model.load(str(version_dir))


def _direct_call(loaded, history: List[Event], top_k: int) -> Ranking:
  """One user's candidates from the SavedModel's serving_default itself."""
  times, types, items, advertisers = zip(*history)
  outputs = loaded.signatures["serving_default"](
      advertiser_id=tf.constant([advertisers]),
      item_id=tf.constant([items]),
      event_type=tf.constant([types]),
      timestamp=tf.constant([list(map(timestamps.milliseconds, times))],
                            tf.int64))
  ids = [i.decode() for i in outputs["candidate_ids"][0, :top_k].numpy()]
  scores = outputs["scores"][0, :top_k].numpy().tolist()
  kept = [(i, s) for i, s in zip(ids, scores) if i]
  return [i for i, _ in kept], [s for _, s in kept]


def _expected(user_events: Dict[str, List[Event]], version_dir: pathlib.Path,
              as_of: int, top_k: int) -> Tuple[Dict[str, Ranking], set]:
  """(user -> direct ranking of the last L events by as_of, skipped users)."""
  max_seq_len = export_info.ExportInfo.read(str(version_dir)).max_seq_len
  loaded = _load(version_dir)
  expected, skipped = {}, set()
  for user, user_history in user_events.items():
    history = sorted(e for e in set(user_history) if e[0] <= as_of)
    if history:
      expected[user] = _direct_call(loaded, history[-max_seq_len:], top_k)
    else:
      skipped.add(user)
  return expected, skipped


def assert_same_ranking(actual: Ranking, expected: Ranking,
                        atol: float = 1e-5) -> None:
  """Equal up to float noise: scores close, ids equal except for near-ties."""
  actual_ids, actual_scores = actual
  expected_ids, expected_scores = expected
  np.testing.assert_allclose(actual_scores, expected_scores, atol=atol)
  actual_by_id = dict(zip(actual_ids, actual_scores))
  expected_by_id = dict(zip(expected_ids, expected_scores))
  for candidate, score in expected_by_id.items():
    if candidate in actual_by_id:
      assert actual_by_id[candidate] == pytest.approx(score, abs=atol)
    else:  # Only a near-tie at the cut may differ.
      assert score == pytest.approx(actual_scores[-1], abs=atol), candidate
  assert len(set(actual_ids)) == len(actual_ids)


def _read_jsonl(output: pathlib.Path) -> List[dict]:
  records = []
  for path in sorted(glob.glob(str(output / f"{schema.CANDIDATES}-*.jsonl"))):
    with open(path, encoding="utf-8") as f:
      records += [json.loads(line) for line in f]
  return records


def _read_parquet(output: pathlib.Path) -> List[dict]:
  paths = sorted(glob.glob(str(output / f"{schema.CANDIDATES}-*.parquet")))
  return [record for path in paths
          for record in pq.read_table(path).to_pylist()]


def _read_tfrecord(output: pathlib.Path) -> List[dict]:
  paths = sorted(glob.glob(
      str(output / f"{schema.CANDIDATES}-*{schema.TFRECORD_SUFFIX}")))
  records = []
  for serialized in tf.data.TFRecordDataset(paths, compression_type="GZIP"):
    records.append(candidate_writers.from_tf_example(serialized.numpy()))
  return records


def _by_user(records: List[dict]) -> Dict[str, dict]:
  by_user = {record[schema.USER_ID]: record for record in records}
  assert len(by_user) == len(records), "a user was written twice"
  return by_user


@pytest.fixture(scope="module")
def dirty_input(synthetic_dir, tmp_path_factory) -> pathlib.Path:
  """The synthetic log plus one bad row per reason, a duplicate, and users
  at the as_of boundary."""
  clean = synthetic_dir / "events.csv"
  lines = clean.read_text(encoding="utf-8").splitlines()
  path = tmp_path_factory.mktemp("batch_input") / "events.csv"
  path.write_text("\n".join(lines + list(BAD_ROWS.values()) + [lines[1]]
                            + EXTRA_ROWS) + "\n", encoding="utf-8")
  return path


@pytest.fixture(scope="module")
def all_events(synthetic_dir) -> Dict[str, List[Event]]:
  user_events = _read_events(synthetic_dir / "events.csv")
  for line in EXTRA_ROWS:
    user, when, event_type, item, advertiser = line.split(",")
    user_events[user].append(
        (timestamps.parse_timestamp(when), event_type, item, advertiser))
  return user_events


def _run(input_path, version_dir, output, *flags) -> dict:
  return batch_candidates.run([
      "--input", str(input_path), "--model", str(version_dir),
      "--output", str(output), "--batch_size", "64", *flags])


@pytest.fixture(scope="module")
def jsonl_run(dirty_input, exported_versions, tmp_path_factory):
  output = tmp_path_factory.mktemp("candidates_jsonl")
  manifest = _run(dirty_input, exported_versions["brute_force"], output,
                  "--as_of", AS_OF, "--top_k", "10")
  return output, manifest


def test_each_user_gets_the_models_answer_on_its_last_events(
    jsonl_run, all_events, exported_versions):
  output, manifest = jsonl_run
  version_dir = exported_versions["brute_force"]
  expected, skipped = _expected(all_events, version_dir,
                                timestamps.parse_timestamp(AS_OF), top_k=10)
  written = _by_user(_read_jsonl(output))
  assert set(written) == set(expected)
  assert "user_edge" in written and "user_late" in skipped
  version = export_info.ExportInfo.read(str(version_dir)).version
  for user, record in written.items():
    assert len(record[schema.CANDIDATE_IDS]) == 10
    assert_same_ranking(
        (record[schema.CANDIDATE_IDS], record[schema.SCORES]), expected[user])
    assert record[schema.MODEL_VERSION] == version
    assert record[schema.AS_OF] == AS_OF
    assert record[schema.GENERATED_AT] == manifest[schema.GENERATED_AT]
  assert manifest["files"] and all(
      path.startswith(str(output)) for path in manifest["files"])


def test_bad_rows_and_users_without_history_are_counted_not_lost(
    jsonl_run, all_events, synthetic_dir):
  output, manifest = jsonl_run
  counts = manifest["counts"]
  clean_rows = sum(len(events) for events in
                   _read_events(synthetic_dir / "events.csv").values())
  assert counts[events_lib.EVENTS_READ] == (
      clean_rows + len(BAD_ROWS) + 1 + len(EXTRA_ROWS))
  expected_dropped = {reason: 1 for reason in BAD_ROWS}
  expected_dropped[schema.DUPLICATE] = 1
  assert {r: n for r, n in counts[events_lib.EVENTS_DROPPED].items() if n} == (
      expected_dropped)
  assert counts[examples.EVENTS_USED] == clean_rows + len(EXTRA_ROWS)
  as_of = timestamps.parse_timestamp(AS_OF)
  after = sum(1 for events in all_events.values() for e in events
              if e[0] > as_of)
  assert counts[last_events.EVENTS_AFTER_AS_OF] == after
  max_seq_len = jsonl_run[1]["model"]["max_seq_len"]
  assert counts[last_events.EVENTS_IN_HISTORY] == sum(
      min(max_seq_len, sum(1 for e in events if e[0] <= as_of))
      for events in all_events.values())

  dead_letters = []
  for path in glob.glob(str(output / schema.DEAD_LETTER_DIR / "*.jsonl")):
    with open(path, encoding="utf-8") as f:
      dead_letters += [json.loads(line) for line in f]
  assert sorted(d["reason"] for d in dead_letters) == sorted(expected_dropped)
  assert {d["row"] for d in dead_letters
          if d["reason"] != schema.DUPLICATE} == set(BAD_ROWS.values())

  skipped = []
  for path in glob.glob(str(output / schema.SKIPPED_USERS_DIR / "*.jsonl")):
    with open(path, encoding="utf-8") as f:
      skipped += [json.loads(line) for line in f]
  no_history = {user for user, events in all_events.items()
                if all(e[0] > as_of for e in events)}
  assert {s[schema.USER_ID] for s in skipped} == no_history
  assert {s["reason"] for s in skipped} == {last_events.NO_HISTORY}
  assert counts[last_events.USERS_SEEN] == len(all_events)
  assert counts[last_events.USERS_SKIPPED] == {
      last_events.NO_HISTORY: len(no_history)}
  assert counts[scoring.USERS_WRITTEN] == len(_read_jsonl(output))
  assert counts[last_events.USERS_SEEN] == (
      counts[scoring.USERS_WRITTEN] + len(no_history))


def test_rerun_writes_the_same_candidates_in_parquet(
    jsonl_run, dirty_input, exported_versions, tmp_path):
  first_output, first_manifest = jsonl_run
  manifest = _run(dirty_input, exported_versions["brute_force"], tmp_path,
                  "--as_of", AS_OF, "--top_k", "10", "--format", "parquet")
  assert manifest["counts"] == first_manifest["counts"]
  first = _by_user(_read_jsonl(first_output))
  again = _by_user(_read_parquet(tmp_path))
  assert set(again) == set(first)
  for user, record in again.items():
    assert_same_ranking(
        (record[schema.CANDIDATE_IDS], record[schema.SCORES]),
        (first[user][schema.CANDIDATE_IDS], first[user][schema.SCORES]),
        atol=1e-6)
    for field in (schema.MODEL_VERSION, schema.AS_OF):
      assert record[field] == first[user][field]


def test_scann_model_to_tfrecord_with_default_as_of(
    synthetic_dir, exported_versions, tmp_path):
  version_dir = exported_versions["scann"]
  manifest = _run(synthetic_dir / "events.csv", version_dir, tmp_path,
                  "--format", "tfrecord")
  user_events = _read_events(synthetic_dir / "events.csv")
  latest = max(e[0] for events in user_events.values() for e in events)
  assert manifest["as_of_epoch"] == latest
  info = export_info.ExportInfo.read(str(version_dir))
  expected, skipped = _expected(user_events, version_dir, latest, info.k)
  assert not skipped
  written = _by_user(_read_tfrecord(tmp_path))
  assert set(written) == set(expected)
  for user, record in written.items():
    assert record[schema.AS_OF] == timestamps.to_iso(latest)
    assert_same_ranking(
        (record[schema.CANDIDATE_IDS], record[schema.SCORES]), expected[user])
  assert manifest["counts"][last_events.EVENTS_AFTER_AS_OF] == 0


@pytest.mark.parametrize("damage,message", [
    ("saved_model.pb", "holds no saved_model.pb"),
    ("variables/variables.data-00000-of-00001",
     "variables of .* are truncated or corrupted"),
])
def test_an_incomplete_model_is_refused_before_the_pipeline_starts(
    synthetic_dir, exported_versions, tmp_path, damage, message):
  version_dir = tmp_path / "1"
  shutil.copytree(exported_versions["brute_force"], version_dir)
  path = version_dir / damage
  if damage == "saved_model.pb":
    path.unlink()
  else:
    path.write_bytes(path.read_bytes()[:100])
  with pytest.raises(ValueError, match=f"--model: .*{message}"):
    _run(synthetic_dir / "events.csv", version_dir, tmp_path / "out")
  assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_without_the_flag(jsonl_run, dirty_input,
                                                exported_versions):
  output, _ = jsonl_run
  with pytest.raises(ValueError, match="--overwrite"):
    _run(dirty_input, exported_versions["brute_force"], output)


def test_an_item_model_gives_each_user_its_top_items(
    item_synthetic_dir, item_exported_versions, tmp_path):
  events_path = item_synthetic_dir / "events.parquet"
  user_events = collections.defaultdict(list)
  for row in pq.read_table(str(events_path)).to_pylist():
    user_events[row[schema.RAW_USER_ID]].append((
        timestamps.parse_timestamp(row[schema.RAW_TIMESTAMP]),
        row[schema.RAW_EVENT_TYPE], row[schema.RAW_ITEM_ID],
        row[schema.RAW_ADVERTISER_ID]))
  as_of = max(t for history in user_events.values() for t, *_ in history)
  version_dir = item_exported_versions["brute_force"]
  manifest = _run(events_path, version_dir, tmp_path / "out", "--top_k", "10")
  written = _by_user(_read_jsonl(tmp_path / "out"))
  expected, skipped = _expected(user_events, version_dir, as_of, top_k=10)
  assert not skipped and set(written) == set(expected)
  catalog = set(pq.read_table(str(item_synthetic_dir / "items.parquet"),
                              columns=[schema.CATALOG_ITEM_ID])
                .column(0).to_pylist())
  for user, record in written.items():
    assert set(record[schema.CANDIDATE_IDS]) <= catalog
    assert_same_ranking((record[schema.CANDIDATE_IDS], record[schema.SCORES]),
                        expected[user])
  assert manifest["counts"]["users_written"] == len(expected)


# A tiny log for the plain reference below: L is conftest.TINY_SEQ_LEN (20).
TINY_AS_OF = "2026-01-20T12:00:00Z"


def _tiny_log(advertisers: List[str], items: List[str]) -> List[str]:
  """Rows of: a user with more than L events by as_of, out of time order,
  duplicates among its old and its last events, and events after as_of; a user with fewer than L
  events and a duplicate; a user whose events share a second, one of them
  a fraction of a second after as_of; a user with no event by as_of; and
  one bad row per reason."""
  def row(user, when, event_type, n):
    return (f"{user},{when},{event_type},{items[n % len(items)]},"
            f"{advertisers[n % len(advertisers)]}")

  many = [row("u_many", f"2026-01-{1 + n // 4:02d}T{n % 4 * 5:02d}:00:00Z",
              "view" if n % 5 else "checkout", n) for n in range(34)]
  many += [many[0], many[0], many[30]]  # An old and a recent duplicate.
  random.Random(0).shuffle(many)  # Out of time order.
  many += [row("u_many", "2026-01-21T00:00:00Z", "view", 1)]
  few = [row("u_few", "2026-01-19T08:00:00Z", "view", 3),
         row("u_few", "2026-01-20T12:00:00Z", "add_to_cart", 4)]
  few.append(few[0])
  same_second = [row("u_ms", f"{TINY_AS_OF[:-1]}.{ms:03d}Z", "view", n)
                 for n, ms in enumerate((0, 250, 750))]
  same_second.append(row("u_ms", "2026-01-20T11:59:59.999Z", "signup", 5))
  late = [row("u_late", "2026-01-25T00:00:00Z", "view", 6)]
  bad = ["just,three,fields",
         ",2026-01-05T00:00:00Z,view,item,adv",
         "u_bad,2026-01-05T00:00:00Z,view,item,",
         "u_bad,yesterday,view,item,adv",
         "u_bad,1990-01-01T00:00:00Z,view,item,adv",
         "u_bad,2026-01-05T00:00:00Z,teleport,item,adv"]
  return many + few + same_second + late + bad


def _plain_reference(lines: List[str], as_of_ms: int, max_seq_len: int):
  """(user -> last L distinct events by as_of, oldest first, as (epoch
  milliseconds, type, item, advertiser); the rows dropped, as (reason, row)),
  by plain Python."""
  distinct, dropped = {}, []
  for line in lines:
    fields = line.split(",")
    if len(fields) != 5:
      dropped.append((schema.MALFORMED_ROW, line))
      continue
    user, when, event_type, item, advertiser = fields
    if not user:
      dropped.append((schema.MISSING_USER_ID, line))
      continue
    if not advertiser:
      dropped.append((schema.MISSING_ADVERTISER_ID, line))
      continue
    try:
      ms = timestamps.parse_timestamp_ms(when)
    except ValueError:
      dropped.append((schema.BAD_TIMESTAMP, line))
      continue
    if ms < timestamps.parse_timestamp_ms("2000-01-01T00:00:00Z"):
      dropped.append((schema.TIMESTAMP_OUT_OF_RANGE, line))
      continue
    if event_type not in ("view", "add_to_cart", "checkout", "signup"):
      dropped.append((schema.UNKNOWN_EVENT_TYPE, line))
      continue
    event = (user, (ms, event_type, item, advertiser))
    if event in distinct:
      dropped.append((schema.DUPLICATE, line))
    distinct[event] = True
  histories = collections.defaultdict(list)
  for user, event in distinct:
    histories[user].append(event)
  return {user: sorted(e for e in user_events if e[0] <= as_of_ms)[
      -max_seq_len:] for user, user_events in histories.items()}, dropped


def test_a_multi_process_run_matches_a_plain_reference(
    synthetic_dir, exported_versions, tmp_path):
  version_dir = exported_versions["scann"]
  info = export_info.ExportInfo.read(str(version_dir))
  known = list(_read_events(synthetic_dir / "events.csv").values())[0]
  lines = _tiny_log(sorted({e[3] for e in known}),
                    sorted({e[2] for e in known if e[2]}))
  path = tmp_path / "events.csv"
  path.write_text(",".join(schema.RAW_COLUMNS) + "\n" + "\n".join(lines)
                  + "\n", encoding="utf-8")
  manifest = _run(path, version_dir, tmp_path / "out", "--as_of", TINY_AS_OF,
                  "--direct_num_workers", "2",
                  "--direct_running_mode", "multi_processing")

  histories, dropped = _plain_reference(
      lines, timestamps.parse_timestamp_ms(TINY_AS_OF), info.max_seq_len)
  assert len(histories["u_many"]) == info.max_seq_len
  assert len(histories["u_few"]) == 2 and len(histories["u_ms"]) == 2
  loaded = _load(version_dir)
  written = _by_user(_read_jsonl(tmp_path / "out"))
  assert set(written) == {user for user, h in histories.items() if h}
  for user, record in written.items():
    history = [(timestamps.event_time(ms), *ids)
               for ms, *ids in histories[user]]
    assert_same_ranking((record[schema.CANDIDATE_IDS], record[schema.SCORES]),
                        _direct_call(loaded, history, info.k))

  dead_letters = [
      json.loads(line) for dead_path
      in glob.glob(str(tmp_path / "out" / schema.DEAD_LETTER_DIR / "*"))
      for line in open(dead_path, encoding="utf-8")]
  assert sorted((d["reason"], d["row"]) for d in dead_letters) == sorted(
      dropped)
  counts = manifest["counts"]
  assert counts[events_lib.EVENTS_READ] == len(lines)
  assert counts[examples.EVENTS_USED] == len(lines) - len(dropped)
  assert counts[last_events.EVENTS_IN_HISTORY] == sum(
      map(len, histories.values()))
  assert counts[last_events.USERS_SKIPPED] == {last_events.NO_HISTORY: 1}
  assert counts[scoring.USERS_WRITTEN] == 3

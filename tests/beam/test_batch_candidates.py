"""Tests of beam.batch_candidates: output = the SavedModel called per user."""

import collections
import csv
import glob
import json
import os
import pathlib
import shutil
from typing import Dict, List, Tuple

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing import util as beam_util
import numpy as np
import pyarrow.parquet as pq
import pytest

from beam import batch_candidates
from beam import events as events_lib
from beam import examples
from beam import inference
from export import savedmodel
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
  if savedmodel.read_export_info(str(version_dir))["index"] == "scann":
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
  max_seq_len = savedmodel.read_export_info(str(version_dir))["max_seq_len"]
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
    feature = tf.train.Example.FromString(
        serialized.numpy()).features.feature
    text = lambda name, f=feature: f[name].bytes_list.value[0].decode()
    records.append({
        schema.USER_ID: text(schema.USER_ID),
        schema.CANDIDATE_IDS: [
            v.decode() for v in feature[schema.CANDIDATE_IDS].bytes_list.value],
        schema.SCORES: list(feature[schema.SCORES].float_list.value),
        schema.MODEL_VERSION: feature[schema.MODEL_VERSION].int64_list.value[0],
        schema.AS_OF: text(schema.AS_OF),
        schema.GENERATED_AT: text(schema.GENERATED_AT),
    })
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
  return batch_candidates.main([
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
  version = savedmodel.read_export_info(str(version_dir))["version"]
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
  assert counts[batch_candidates.EVENTS_AFTER_AS_OF] == after
  max_seq_len = jsonl_run[1]["model"]["max_seq_len"]
  assert counts[batch_candidates.EVENTS_IN_HISTORY] == sum(
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
  assert {s["reason"] for s in skipped} == {batch_candidates.NO_HISTORY}
  assert counts[batch_candidates.USERS_SEEN] == len(all_events)
  assert counts[batch_candidates.USERS_SKIPPED] == {
      batch_candidates.NO_HISTORY: len(no_history)}
  assert counts[batch_candidates.USERS_WRITTEN] == len(_read_jsonl(output))
  assert counts[batch_candidates.USERS_SEEN] == (
      counts[batch_candidates.USERS_WRITTEN] + len(no_history))


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
  info = savedmodel.read_export_info(str(version_dir))
  expected, skipped = _expected(user_events, version_dir, latest, info["k"])
  assert not skipped
  written = _by_user(_read_tfrecord(tmp_path))
  assert set(written) == set(expected)
  for user, record in written.items():
    assert record[schema.AS_OF] == timestamps.to_iso(latest)
    assert_same_ranking(
        (record[schema.CANDIDATE_IDS], record[schema.SCORES]), expected[user])
  assert manifest["counts"][batch_candidates.EVENTS_AFTER_AS_OF] == 0


def test_top_k_above_the_models_k_is_a_clear_error(
    synthetic_dir, exported_versions, tmp_path):
  version_dir = exported_versions["brute_force"]
  k = savedmodel.read_export_info(str(version_dir))["k"]
  with pytest.raises(ValueError, match=f"--top_k .* k={k}"):
    _run(synthetic_dir / "events.csv", version_dir, tmp_path,
         "--top_k", str(k + 1))
  assert not os.listdir(tmp_path)


def test_not_an_export_is_a_clear_error(synthetic_dir, tmp_path):
  with pytest.raises(ValueError, match="--model.*holds no saved_model.pb"):
    _run(synthetic_dir / "events.csv", tmp_path, tmp_path / "out")


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


def test_last_events_fn_keeps_the_last_events_by_as_of():
  fn = batch_candidates.LastEventsFn(max_seq_len=2)
  events = [((t, "view", f"i{t}", "a"), t <= 5) for t in range(9, 0, -1)]
  left, right = fn.create_accumulator(), fn.create_accumulator()
  for event in events[:4]:
    left = fn.add_input(left, event)
  for event in events[4:]:
    right = fn.add_input(right, event)
  assert len(right[2]) < 4  # Trimmed while adding.
  merged = fn.compact(fn.merge_accumulators([left, right]))
  history, before_history, after = fn.extract_output(merged)
  assert history == [(4, "view", "i4", "a"), (5, "view", "i5", "a")]
  assert before_history == 3
  assert after == 4


def test_user_histories_and_select_users_in_a_pipeline():
  user_events = [
      ("u1", (10, "view", "i1", "a1")), ("u1", (20, "view", "i2", "a2")),
      ("u1", (30, "view", "i3", "a3")), ("u1", (40, "view", "i4", "a4")),
      ("u2", (50, "checkout", "i5", "a5")),
  ]
  with test_pipeline.TestPipeline() as pipeline:
    as_of = pipeline | "AsOf" >> beam.Create([30])
    selected = (pipeline
                | beam.Create(user_events)
                | batch_candidates.UserHistories(2, as_of)
                | batch_candidates.SelectUsers())
    beam_util.assert_that(selected.users, beam_util.equal_to([
        ("u1", [(20, "view", "i2", "a2"), (30, "view", "i3", "a3")])]),
                          label="Users")
    beam_util.assert_that(selected[batch_candidates.SKIPPED],
                          beam_util.equal_to(
                              [("u2", batch_candidates.NO_HISTORY, 1)]),
                          label="Skipped")
    counts = (selected["counts"]
              | beam.CombinePerKey(sum))
    beam_util.assert_that(counts, beam_util.equal_to([
        (batch_candidates.USERS_SEEN, 2),
        (examples.EVENTS_USED, 5),
        (batch_candidates.EVENTS_IN_HISTORY, 2),
        (batch_candidates.EVENTS_BEFORE_HISTORY, 1),
        (batch_candidates.EVENTS_AFTER_AS_OF, 2),
        (f"{batch_candidates.USERS_SKIPPED}/{batch_candidates.NO_HISTORY}",
         1),
    ]), label="Counts")


def test_model_inputs_pad_after_the_events():
  tensors = inference.model_inputs([
      [(1, "view", "i1", "a1"), (2, "signup", "", "a2")],
      [(timestamps.event_time(3250), "view", "i3", "a3")],
  ])
  assert set(tensors) == set(schema.SEQUENCE_FEATURES)
  # Event times (epoch seconds, or Instants) as epoch milliseconds.
  assert tensors[schema.TIMESTAMP].numpy().tolist() == [[1000, 2000],
                                                        [3250, 0]]
  assert tensors[schema.ADVERTISER_ID].numpy().tolist() == [
      [b"a1", b"a2"], [b"a3", b""]]
  assert tensors[schema.ITEM_ID].shape == (2, 2)
  assert tensors[schema.TIMESTAMP].dtype == tf.int64


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


def test_task_flag_must_match_the_models_task(
    synthetic_dir, exported_versions, item_exported_versions, tmp_path):
  advertiser_dir = exported_versions["brute_force"]
  item_dir = item_exported_versions["brute_force"]
  assert inference.ModelInfo.read(str(item_dir)).task == schema.ITEM_TASK
  with pytest.raises(ValueError, match="--task item does not match"):
    _run(synthetic_dir / "events.csv", advertiser_dir, tmp_path, "--task",
         "item")
  with pytest.raises(ValueError, match="returns item candidates"):
    _run(synthetic_dir / "events.csv", item_dir, tmp_path, "--task",
         "advertiser")
  assert not os.listdir(tmp_path)


def test_a_misspelled_flag_is_an_error_that_names_it(tmp_path, capsys):
  with pytest.raises(SystemExit):
    batch_candidates.parse_args(["--input", "e.csv", "--model",
                                 str(tmp_path), "--output", str(tmp_path),
                                 "--top_kk", "5"])
  assert "unrecognized arguments: --top_kk 5" in capsys.readouterr().err

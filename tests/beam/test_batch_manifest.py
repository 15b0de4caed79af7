"""Tests of beam.batch_manifest: the counts of a candidates run add up."""

import pytest

from beam import batch_config
from beam import batch_manifest
from beam import events
from beam import examples
from beam import inference
from beam import last_events
from beam import rows
from beam import scoring
from tfrs_adcg import schema
from tfrs_adcg import timestamps

MODEL = inference.ModelInfo(path="serving/adcg/7", version=7,
                            index="brute_force", k=10, max_seq_len=5)
CONFIG = batch_config.BatchCandidatesConfig(
    input="events.csv", model=MODEL, output="out", input_format=rows.CSV,
    top_k=10)
LATEST = timestamps.parse_timestamp("2026-02-01T00:00:00Z")
SUMMARY = {
    "counts": {
        events.EVENTS_READ: 12,
        examples.EVENTS_USED: 10,
        f"{events.EVENTS_DROPPED}/{schema.DUPLICATE}": 2,
        last_events.EVENTS_IN_HISTORY: 6,
        last_events.EVENTS_BEFORE_HISTORY: 1,
        last_events.EVENTS_AFTER_AS_OF: 3,
        last_events.USERS_SEEN: 3,
        scoring.USERS_WRITTEN: 2,
        f"{last_events.USERS_SKIPPED}/{last_events.NO_HISTORY}": 1,
    },
    "time_range": [LATEST - 3600, LATEST],
    "as_of": LATEST,
}


def test_build_manifest_nests_counts_and_states_times_in_iso():
  manifest = batch_manifest.build_manifest(
      CONFIG, SUMMARY, "2026-02-02T00:00:00Z", ["out/candidates-0-of-1.jsonl"])
  assert manifest[schema.AS_OF] == "2026-02-01T00:00:00Z"
  assert manifest["as_of_epoch"] == LATEST
  assert manifest["time_range"] == {"earliest": "2026-01-31T23:00:00Z",
                                    "latest": "2026-02-01T00:00:00Z"}
  assert manifest["model"]["version"] == 7
  assert manifest["config"]["model"] == "serving/adcg/7"
  counts = manifest["counts"]
  assert counts[events.EVENTS_DROPPED][schema.DUPLICATE] == 2
  assert counts[events.EVENTS_DROPPED][schema.BAD_TIMESTAMP] == 0
  assert counts[last_events.USERS_SKIPPED] == {last_events.NO_HISTORY: 1}
  batch_manifest.check_accounting(manifest)
  line = batch_manifest.summary_line(manifest)
  assert "users seen=3 written=2 skipped=1" in line
  assert "events read=12 used=10 (in histories 6) dropped=2" in line


def test_a_run_without_events_has_no_times():
  manifest = batch_manifest.build_manifest(CONFIG, {"counts": {}}, "t", [])
  assert manifest[schema.AS_OF] is None
  assert manifest["time_range"] == {"earliest": None, "latest": None}
  batch_manifest.check_accounting(manifest)


@pytest.mark.parametrize("name,message", [
    (scoring.USERS_WRITTEN, "User accounting is off"),
    (examples.EVENTS_USED, "Event accounting is off"),
])
def test_check_accounting_finds_a_lost_user_or_event(name, message):
  summary = {**SUMMARY, "counts": {**SUMMARY["counts"],
                                   name: SUMMARY["counts"][name] - 1}}
  manifest = batch_manifest.build_manifest(CONFIG, summary, "t", [])
  with pytest.raises(RuntimeError, match=message):
    batch_manifest.check_accounting(manifest)

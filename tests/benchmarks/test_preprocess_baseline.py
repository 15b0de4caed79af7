"""Tests of benchmarks.preprocess_baseline: on a log small enough to check by
hand (validation, duplicates, cutoffs, histories, labels and the files), and
against ``beam.preprocess`` on the session's synthetic log."""

import os

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import pytest

from benchmarks import preprocess_baseline
from benchmarks import preprocess_bench
from tfrs_adcg import schema

# Columns are read by name, in any order. Eval cutoff: the day of the latest
# event (Jan 4) less K = 1 day, Jan 3; valid cutoff Jan 2; training cutoffs
# up to Jan 1.
EVENTS_CSV = """\
timestamp,user_id,event_type,item_id,advertiser_id
2025-12-31T08:30:00Z,ann,view,p1,acme
2026-01-01T08:30:00Z,ann,checkout,p1,acme
2026-01-02T08:30:00Z,ann,view,p2,bolt
1767342600,ann,view,p2,bolt
2026-01-03T08:30:00Z,ann,checkout,p2,bolt
2026-01-03T08:30:00Z,ann,checkout,p2,bolt
2026-01-02T08:30:00Z,bob,view,p3,cora
2026-01-03T09:45:00Z,bob,signup,,acme
2026-01-04T08:30:00Z,bob,view,p3,cora
later,bob,view,p3,cora
2026-01-04T07:15:00Z,cy,wishlist,p3,cora
2026-01-04T07:15:00Z,cy,view,p3
2026-01-01T10:00:00Z,dee,view,p4,bolt
2026-01-02T12:00:00Z,dee,checkout,p4,bolt
"""

# The session fixture preprocessed_dir's settings: conftest.TINY_SEQ_LEN, K.
SESSION_MAX_SEQ_LEN = 20
SESSION_LABEL_WINDOW_DAYS = 7


def _parsed(data_dir, split, features):
  """The split's examples as tuples of ``features``' values, sorted."""
  files = tf.io.gfile.glob(schema.split_pattern(str(data_dir), split))
  records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))
  if not records:
    return []
  parsed = tf.io.parse_example(tf.stack(records), schema.feature_spec())
  columns = [parsed[name].to_list() if isinstance(parsed[name], tf.RaggedTensor)
             else parsed[name].numpy().tolist() for name in features]
  return sorted(zip(*columns))


def _examples(data_dir, split):
  """(user, history advertisers, label advertisers, label items) by user."""
  return _parsed(data_dir, split, (schema.USER_ID, schema.ADVERTISER_ID,
                                   schema.LABEL_ADVERTISER_IDS,
                                   schema.LABEL_ITEM_IDS))


def test_baseline_writes_windowed_examples_and_counts(tmp_path):
  events = tmp_path / "events.csv"
  events.write_text(EVENTS_CSV, encoding="utf-8")
  output = tmp_path / "data"
  counts = preprocess_baseline.baseline_preprocess(
      str(events), str(output), max_seq_len=2, label_window_days=1)
  # Dropped: the epoch-time and exact duplicates, a bad time, an unknown
  # type and a row of four columns (counted as read all the same).
  assert counts == {"events_read": 14, "events_used": 9,
                    "examples": {schema.TRAIN: 1, schema.VALID: 1,
                                 schema.EVAL: 2}}
  # Daily training cutoffs up to Jan 1, whose window ends at the valid
  # cutoff: it is ann's only one with a conversion in its window.
  assert _examples(output, schema.TRAIN) == [
      (b"ann", [b"acme"], [b"acme"], [b"p1"])]
  # dee's conversion is in the window of the valid cutoff, Jan 2, alone.
  assert _examples(output, schema.VALID) == [
      (b"dee", [b"bolt"], [b"bolt"], [b"p4"])]
  # At most L = 2 events of history; a signup labels no item.
  assert _examples(output, schema.EVAL) == [
      (b"ann", [b"acme", b"bolt"], [b"bolt"], [b"p2"]),
      (b"bob", [b"cora"], [b"acme"], [])]
  vocab = schema.vocab_path(str(output), schema.ADVERTISER_ID)
  with open(vocab, encoding="utf-8") as f:
    assert f.read() == "bolt\t4\nacme\t3\ncora\t2\n"
  # Positives of the training examples only: dee's valid label is none.
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES),
            encoding="utf-8") as f:
    assert f.read() == "acme\t1\t1.0\nbolt\t0\t0.5\ncora\t0\t0.5\n"


def test_baseline_without_positives_writes_uniform_frequencies(tmp_path):
  events = tmp_path / "events.csv"
  events.write_text(
      "user_id,timestamp,event_type,item_id,advertiser_id\n"
      "ann,2026-01-01T08:30:00Z,view,p1,acme\n"
      "ann,2026-01-05T08:30:00Z,view,p2,bolt\n", encoding="utf-8")
  output = tmp_path / "data"
  counts = preprocess_baseline.baseline_preprocess(
      str(events), str(output), max_seq_len=2, label_window_days=1)
  assert counts["examples"] == dict.fromkeys(schema.SPLITS, 0)
  # As beam.vocabulary: every candidate 1 / candidates.
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES),
            encoding="utf-8") as f:
    assert f.read() == "acme\t0\t0.5\nbolt\t0\t0.5\n"


def test_baseline_refuses_a_log_without_valid_events(tmp_path):
  events = tmp_path / "events.csv"
  events.write_text("user_id,timestamp,event_type,item_id,advertiser_id\n"
                    "ann,later,view,p1,acme\n", encoding="utf-8")
  with pytest.raises(ValueError, match="events.csv has no valid event"):
    preprocess_baseline.baseline_preprocess(
        str(events), str(tmp_path / "data"), max_seq_len=2,
        label_window_days=1)


def test_baseline_writes_beam_preprocess_examples(synthetic_dir,
                                                  preprocessed_dir, tmp_path):
  output = tmp_path / "baseline"
  counts = preprocess_baseline.baseline_preprocess(
      str(synthetic_dir / "events.csv"), str(output), SESSION_MAX_SEQ_LEN,
      SESSION_LABEL_WINDOW_DAYS)
  manifest = schema.read_manifest(str(preprocessed_dir))
  # What the benchmark checks of every run: the examples per split.
  preprocess_bench.check_examples([
      {"configuration": preprocess_bench.BASELINE.name, **counts},
      {"configuration": preprocess_bench.DEFAULT.name,
       "examples": manifest["counts"]["examples"]}])
  assert all(counts["examples"].values())
  # And the examples themselves, every feature.
  features = sorted(schema.feature_spec())
  for split in schema.SPLITS:
    assert (_parsed(output, split, features)
            == _parsed(preprocessed_dir, split, features)), split

"""Tests of benchmarks.preprocess_baseline on a log small enough to check by
hand: validation, duplicates, cutoffs, histories, labels and the files."""

import os

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from benchmarks import preprocess_baseline
from tfrs_adcg import schema

# Eval cutoff: the day of the latest event (Jan 4) less K = 1 day, Jan 3.
EVENTS_CSV = """\
user_id,timestamp,event_type,item_id,advertiser_id
u1,2025-12-31T10:00:00Z,view,i1,a1
u1,2026-01-01T10:00:00Z,checkout,i1,a1
u1,2026-01-02T10:00:00Z,view,i2,a2
u1,1767348000,view,i2,a2
u1,2026-01-03T10:00:00Z,checkout,i2,a2
u1,2026-01-03T10:00:00Z,checkout,i2,a2
u2,2026-01-02T10:00:00Z,view,i3,a3
u2,2026-01-03T11:00:00Z,signup,,a1
u2,2026-01-04T10:00:00Z,view,i3,a3
u2,soon,view,i3,a3
u3,2026-01-04T09:00:00Z,wishlist,i3,a3
u3,2026-01-04T09:00:00Z,view,i3
"""


def _examples(data_dir, split):
  """(user, history advertisers, label advertisers, label items) by user."""
  files = tf.io.gfile.glob(schema.split_pattern(str(data_dir), split))
  records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))
  parsed = tf.io.parse_example(tf.stack(records), schema.feature_spec())
  return sorted(zip(
      parsed[schema.USER_ID].numpy().tolist(),
      parsed[schema.ADVERTISER_ID].to_list(),
      parsed[schema.LABEL_ADVERTISER_IDS].to_list(),
      parsed[schema.LABEL_ITEM_IDS].to_list()))


def test_baseline_writes_windowed_examples_and_counts(tmp_path):
  events = tmp_path / "events.csv"
  events.write_text(EVENTS_CSV, encoding="utf-8")
  output = tmp_path / "data"
  counts = preprocess_baseline.baseline_preprocess(
      str(events), str(output), max_seq_len=2, label_window_days=1)
  # Dropped: the epoch-time and exact duplicates, a bad time, an unknown
  # type and a row of four columns (counted as read all the same).
  assert counts == {"events_read": 12, "events_used": 7,
                    "examples": {schema.TRAIN: 1, schema.EVAL: 2}}
  # Daily training cutoffs: Jan 1 is u1's only one with a conversion in
  # its window.
  assert _examples(output, schema.TRAIN) == [
      (b"u1", [b"a1"], [b"a1"], [b"i1"])]
  # At most L = 2 events of history; a signup labels no item.
  assert _examples(output, schema.EVAL) == [
      (b"u1", [b"a1", b"a2"], [b"a2"], [b"i2"]),
      (b"u2", [b"a3"], [b"a1"], [])]
  vocab = schema.vocab_path(str(output), schema.ADVERTISER_ID)
  with open(vocab, encoding="utf-8") as f:
    assert f.read() == "a1\t3\na2\t2\na3\t2\n"
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES),
            encoding="utf-8") as f:
    assert f.read() == "a1\t1\t1.0\na2\t0\t0.5\na3\t0\t0.5\n"

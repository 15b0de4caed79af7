"""Tests of benchmarks.preprocess_baseline on a log small enough to check by
hand: validation, duplicates, cutoffs, histories, labels and the files."""

import os

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from benchmarks import preprocess_baseline
from tfrs_adcg import schema

# Columns are read by name, in any order. Eval cutoff: the day of the latest
# event (Jan 4) less K = 1 day, Jan 3.
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
  # Daily training cutoffs: Jan 1 is ann's only one with a conversion in
  # its window.
  assert _examples(output, schema.TRAIN) == [
      (b"ann", [b"acme"], [b"acme"], [b"p1"])]
  # At most L = 2 events of history; a signup labels no item.
  assert _examples(output, schema.EVAL) == [
      (b"ann", [b"acme", b"bolt"], [b"bolt"], [b"p2"]),
      (b"bob", [b"cora"], [b"acme"], [])]
  vocab = schema.vocab_path(str(output), schema.ADVERTISER_ID)
  with open(vocab, encoding="utf-8") as f:
    assert f.read() == "acme\t3\nbolt\t2\ncora\t2\n"
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES),
            encoding="utf-8") as f:
    assert f.read() == "acme\t1\t1.0\nbolt\t0\t0.5\ncora\t0\t0.5\n"

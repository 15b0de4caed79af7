"""``python -m beam.preprocess`` end to end: files, manifest, errors."""

import json
import os

import pytest

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from beam import events
from beam import manifest as manifest_lib
from beam import preprocess
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import vocabulary as vocabulary_lib

EVENTS_CSV = """\
user_id,timestamp,event_type,item_id,advertiser_id
u1,2026-01-01T10:00:00Z,view,i1,a1
u1,2026-01-02T10:00:00Z,view,i2,a2
u1,2026-01-03T10:00:00Z,checkout,i2,a2
u1,2026-01-03T10:00:00Z,checkout,i2,a2
u2,2026-01-02T10:00:00Z,view,i3,a3
u2,2026-01-03T11:00:00Z,signup,,a1
u2,2026-01-04T10:00:00Z,view,i3,a3
u2,soon,view,i3,a3
u3,2026-01-04T09:00:00Z,wishlist,i3,a3
"""

CATALOG_CSV = """\
advertiser_id,category,price
a1,toys,1.5
a2,travel,20
a3,toys,
a4,toys,oops
"""


def _parse_split(data_dir, split):
  files = tf.io.gfile.glob(schema.split_pattern(str(data_dir), split))
  assert files, f"no {split} shards"
  records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))
  return tf.io.parse_example(tf.stack(records), schema.feature_spec())


def _check_examples(parsed, max_seq_len):
  """History oldest first, before the cutoff, at most L long; labels."""
  timestamps = parsed[schema.TIMESTAMP]
  lengths = timestamps.row_lengths().numpy()
  assert 1 <= lengths.min() and lengths.max() <= max_seq_len
  for name in schema.STRING_SEQUENCE_FEATURES:
    assert (parsed[name].row_lengths().numpy() == lengths).all()
  for history, cutoff in zip(timestamps.to_list(),
                             parsed[schema.CUTOFF].numpy()):
    assert history == sorted(history) and history[-1] < cutoff
  assert parsed[schema.LABEL_ADVERTISER_IDS].row_lengths().numpy().min() >= 1


def _check_accounting(manifest):
  counts = manifest["counts"]
  assert counts["events_read"] == counts["events_used"] + sum(
      counts["events_dropped"].values())


def test_main_writes_the_data_directory(tmp_path, capsys):
  (tmp_path / "events.csv").write_text(EVENTS_CSV)
  (tmp_path / "advertisers.csv").write_text(CATALOG_CSV)
  out = tmp_path / "data"
  manifest = preprocess.main([
      "--input", str(tmp_path / "events.csv"), "--advertiser_catalog",
      str(tmp_path / "advertisers.csv"), "--output", str(out),
      "--label_window_days", "1", "--max_seq_len", "2",
      "--eval_cutoff", "2026-01-05T00:00:00Z"])

  assert manifest == schema.read_manifest(str(out)) | {
      "created": manifest["created"]}
  assert manifest["schema_version"] == schema.SCHEMA_VERSION
  assert manifest["splits"] == list(schema.SPLITS)
  config = manifest["config"]
  assert config["eval_cutoff"] == "2026-01-05T00:00:00Z"
  assert config["eval_cutoff_epoch"] == 1767571200
  assert config["valid_cutoff"] == "2026-01-04T00:00:00Z"
  assert config["last_train_cutoff"] == "2026-01-03T00:00:00Z"
  assert config["max_seq_len"] == 2 and config["label_window_days"] == 1
  counts = manifest["counts"]
  assert counts["events_read"] == 9 and counts["events_used"] == 6
  assert counts["events_dropped"] == {
      reason: int(reason in (events.DUPLICATE, events.BAD_TIMESTAMP,
                             events.UNKNOWN_EVENT_TYPE))
      for reason in schema.DROP_REASONS}
  _check_accounting(manifest)
  assert counts["users"] == 2
  # Cutoff Jan 3: u1 (checkout Jan 3 10:00) and u2 (signup Jan 3 11:00).
  # Valid cutoff Jan 4 and eval cutoff Jan 5: nobody converts after them.
  assert counts["examples"] == {schema.TRAIN: 2, schema.VALID: 0,
                                schema.EVAL: 0}
  assert counts["positives"] == {schema.TRAIN: 2, schema.VALID: 0,
                                 schema.EVAL: 0}
  assert counts["catalog_rows_read"] == 4
  assert counts["catalog_advertisers"] == 3
  assert counts["catalog_rows_dropped"] == {"catalog_bad_number": 1}
  assert not os.path.exists(out / manifest_lib.SUMMARY)
  assert capsys.readouterr().out.startswith("beam.preprocess: events read=9 ")

  parsed = _parse_split(out, schema.TRAIN)
  _check_examples(parsed, max_seq_len=2)
  assert sorted(parsed[schema.USER_ID].numpy()) == [b"u1", b"u2"]

  dead_letters = [json.loads(line)
                  for path in tf.io.gfile.glob(
                      str(out / schema.DEAD_LETTER_DIR / "*.jsonl"))
                  for line in open(path)]
  assert sorted(d["reason"] for d in dead_letters) == [
      "bad_timestamp", "catalog_bad_number", "duplicate", "unknown_event_type"]
  assert {d["row"] for d in dead_letters} >= {
      "u2,soon,view,i3,a3", "a4,toys,oops"}

  vocabularies = vocabulary_lib.read_vocabularies(str(out))
  assert vocabularies.advertiser_ids == ["a1", "a2", "a3"]
  assert vocabularies.event_types == ["view", "checkout", "signup"]
  assert vocabularies.categories == ["toys", "travel"]
  assert vocabularies.positives == {"a1": 1, "a2": 1, "a3": 0}
  assert vocabularies.probabilities["a3"] == pytest.approx(0.25)
  assert vocabularies.catalog.advertiser_ids == ["a1", "a2", "a3"]


def test_main_refuses_to_mix_runs_and_fails_fast(tmp_path):
  (tmp_path / "events.csv").write_text(EVENTS_CSV)
  out = tmp_path / "data"
  out.mkdir()
  (out / schema.MANIFEST).write_text("{}")
  argv = ["--input", str(tmp_path / "events.csv"), "--output", str(out)]
  with pytest.raises(ValueError, match="--overwrite"):
    preprocess.main(argv)
  with pytest.raises(rows.InputError, match="matches no file"):
    preprocess.main(["--input", str(tmp_path / "none-*.csv"), "--output",
                     str(tmp_path / "other")])
  (tmp_path / "empty.csv").write_text("")
  with pytest.raises(rows.InputError, match="empty"):
    preprocess.main(["--input", str(tmp_path / "empty.csv"), "--output",
                     str(tmp_path / "other")])
  assert not os.path.exists(tmp_path / "other" / schema.MANIFEST)


def test_leave_last_out_item_task_on_corrupted_jsonl(tmp_path):
  raw = tmp_path / "raw"
  synthetic.main(["--output", str(raw), "--users", "60", "--advertisers",
                  "12", "--items", "60", "--days", "20", "--seed", "3",
                  "--format", "jsonl", "--corrupt_fraction", "0.05"])
  out = tmp_path / "data"
  manifest = preprocess.main([
      "--input", str(raw / "events.jsonl"), "--output", str(out),
      "--split", "leave_last_out", "--task", "item", "--max_seq_len", "8",
      "--max_train_targets", "2", "--direct_num_workers", "1"])
  injected = json.loads((raw / synthetic.CORRUPTIONS_FILE).read_text())
  counts = manifest["counts"]
  assert counts["events_dropped"] == {
      reason: injected.get(reason, 0) for reason in schema.DROP_REASONS}
  _check_accounting(manifest)
  assert manifest["splits"] == list(schema.SPLITS)
  for split in schema.SPLITS:
    parsed = _parse_split(out, split)
    _check_examples(parsed, max_seq_len=8)
    # One target per example: its advertiser, and its item unless a signup.
    lengths = parsed[schema.LABEL_ADVERTISER_IDS].row_lengths().numpy()
    assert (lengths == 1).all()
    assert counts["examples"][split] == len(parsed[schema.USER_ID])
  users = _parse_split(out, schema.EVAL)[schema.USER_ID].numpy()
  assert len(users) == len(set(users))  # One eval target per user.
  frequencies = (out / schema.CANDIDATE_FREQUENCIES).read_text().splitlines()
  items = (out / schema.VOCAB_DIR / "item_id.tsv").read_text().splitlines()
  assert sorted(line.split("\t")[0] for line in frequencies) == sorted(
      line.split("\t")[0] for line in items)


def test_preprocessed_dir_fixture(preprocessed_dir):
  manifest = schema.read_manifest(str(preprocessed_dir))
  _check_accounting(manifest)
  counts = manifest["counts"]
  assert counts["users"] > 0
  for split in manifest["splits"]:
    parsed = _parse_split(preprocessed_dir, split)
    assert len(parsed[schema.USER_ID]) == counts["examples"][split] > 0
    _check_examples(parsed, max_seq_len=20)
  assert manifest["config"]["max_seq_len"] == 20
  vocabularies = vocabulary_lib.read_vocabularies(str(preprocessed_dir))
  assert vocabularies.catalog is not None
  assert set(vocabularies.positives) == set(vocabularies.advertiser_ids)

"""``python -m beam.preprocess`` end to end: files, manifest, errors."""

import json
import os
import subprocess
import sys

import pytest

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from beam import manifest as manifest_lib
from beam import preprocess
from beam import rows
from beam import tfrecords
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import timestamps
from tfrs_adcg import vocabulary as vocabulary_lib

# Every test here runs the command end to end.
pytestmark = pytest.mark.integration

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
  manifest = preprocess.run([
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
      reason: int(reason in (schema.DUPLICATE, schema.BAD_TIMESTAMP,
                             schema.UNKNOWN_EVENT_TYPE))
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
    preprocess.run(argv)
  with pytest.raises(rows.InputError, match="matches no file"):
    preprocess.run(["--input", str(tmp_path / "none-*.csv"), "--output",
                     str(tmp_path / "other")])
  (tmp_path / "empty.csv").write_text("")
  with pytest.raises(rows.InputError, match="empty"):
    preprocess.run(["--input", str(tmp_path / "empty.csv"), "--output",
                     str(tmp_path / "other")])
  assert not os.path.exists(tmp_path / "other" / schema.MANIFEST)


def test_leave_last_out_item_task_on_corrupted_jsonl(tmp_path):
  raw = tmp_path / "raw"
  synthetic.main(["--output", str(raw), "--users", "60", "--advertisers",
                  "12", "--items", "60", "--days", "20", "--seed", "3",
                  "--format", "jsonl", "--corrupt_fraction", "0.05"])
  out = tmp_path / "data"
  manifest = preprocess.run([
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


def _epoch_ms(iso_time):
  return str(timestamps.parse_timestamp(iso_time) * 1000)


def _events_in_milliseconds():
  """EVENTS_CSV with epoch-millisecond times (the "soon" row stays)."""
  lines = EVENTS_CSV.splitlines()
  converted = [lines[0]]
  for line in lines[1:]:
    fields = line.split(",")
    if fields[1] != "soon":
      fields[1] = _epoch_ms(fields[1])
    converted.append(",".join(fields))
  return "\n".join(converted) + "\n"


def test_epoch_milliseconds_are_detected(tmp_path, caplog):
  (tmp_path / "events.csv").write_text(_events_in_milliseconds())
  with caplog.at_level("INFO"):
    manifest = preprocess.run([
        "--input", str(tmp_path / "events.csv"), "--output",
        str(tmp_path / "data"), "--eval_cutoff", "2026-01-05T00:00:00Z",
        "--label_window_days", "1"])
  assert "epoch milliseconds, by their magnitude" in caplog.text
  assert manifest["config"]["timestamp_unit"] == timestamps.MILLISECONDS
  counts = manifest["counts"]
  assert counts["events_used"] == 6 and counts["examples"]["train"] == 2
  _check_accounting(manifest)


@pytest.mark.parametrize("flags, cause", [
    (["--timestamp_unit", "s"],
     r"timestamp_out_of_range=9.*read as epoch seconds.*--timestamp_unit"),
    (["--event_types", "click,checkout", "--conversion_types", "checkout",
      "--timestamp_unit", "ms", "--max_time", "2026-01-01T00:00:00Z"],
     r"timestamp_out_of_range=9.*--max_time 2026-01-01T00:00:00Z"),
    (["--event_types", "click", "--conversion_types", "click"],
     r"unknown_event_type=9.*one of --event_types click"),
])
def test_a_run_that_drops_every_row_fails_with_the_cause(tmp_path, flags,
                                                         cause):
  (tmp_path / "events.csv").write_text(
      _events_in_milliseconds().replace("soon", "1767226242000"))
  out = tmp_path / "data"
  with pytest.raises(rows.InputError,
                     match=r"every one of the 9 event rows .* dropped"):
    preprocess.run(["--input", str(tmp_path / "events.csv"), "--output",
                     str(out)] + flags)
  with pytest.raises(rows.InputError, match=cause):
    preprocess.run(["--input", str(tmp_path / "events.csv"), "--output",
                     str(out), "--overwrite"] + flags)
  assert not os.path.exists(out / schema.MANIFEST)
  assert not os.path.exists(out / manifest_lib.SUMMARY)


def test_each_file_of_a_glob_has_its_own_header(tmp_path):
  lines = EVENTS_CSV.splitlines()
  (tmp_path / "a.csv").write_text("\n".join(lines[:5]) + "\n")
  reordered = ["advertiser_id,item_id,event_type,timestamp,user_id"] + [
      ",".join(reversed(line.split(","))) for line in lines[5:]]
  (tmp_path / "b.csv").write_text("\n".join(reordered) + "\n")
  manifest = preprocess.run([
      "--input", str(tmp_path / "*.csv"), "--output", str(tmp_path / "data"),
      "--eval_cutoff", "2026-01-05T00:00:00Z"])
  assert manifest["counts"]["events_read"] == 9
  assert manifest["counts"]["events_used"] == 6
  vocabularies = vocabulary_lib.read_vocabularies(str(tmp_path / "data"))
  assert vocabularies.advertiser_ids == ["a1", "a2", "a3"]
  assert sorted(vocabularies.item_ids) == ["i1", "i2", "i3"]


def test_rows_the_csv_module_chokes_on_are_counted_dead_letters(tmp_path):
  rows_ = [
      'u9,2026-01-02T10:00:00Z,view,"' + "x" * 200_000 + '",a1',
      'u9,2026-01-02T10:00:01Z,view,"i1"\r,a1',
      'u9,2026-01-02T10:00:02Z,view,"two\nlines",a1',
      'u9,2026-01-02T10:00:03Z,view,"i\t1",a1',
  ]
  (tmp_path / "events.csv").write_text(EVENTS_CSV + "\n".join(rows_) + "\n")
  out = tmp_path / "data"
  manifest = preprocess.run([
      "--input", str(tmp_path / "events.csv"), "--output", str(out),
      "--eval_cutoff", "2026-01-05T00:00:00Z"])
  counts = manifest["counts"]
  assert counts["events_read"] == 13  # Rows, not lines.
  assert counts["events_dropped"][schema.MALFORMED_ROW] == 2
  assert counts["events_dropped"][schema.INVALID_ID] == 2
  _check_accounting(manifest)
  vocabularies = vocabulary_lib.read_vocabularies(str(out))
  assert "two\nlines" not in vocabularies.item_ids


def test_a_failed_run_leaves_no_temporary_folders(tmp_path, monkeypatch):
  (tmp_path / "events.csv").write_text(EVENTS_CSV)
  out = tmp_path / "data"

  def fail(*unused_args):
    raise OSError("disk full")

  monkeypatch.setattr(tfrecords._GzipTFRecordSink, "write_record", fail)  # pylint: disable=protected-access
  with pytest.raises(Exception, match="disk full"):
    preprocess.run(["--input", str(tmp_path / "events.csv"), "--output",
                     str(out), "--eval_cutoff", "2026-01-05T00:00:00Z",
                     "--label_window_days", "1", "--direct_num_workers", "1"])
  left = [os.path.join(root, name) for root, dirs, files in os.walk(out)
          for name in dirs + files]
  assert not [path for path in left if "beam-temp-" in path]


def _run_command(*args):
  return subprocess.run(
      [sys.executable, "-m", "beam.preprocess", *args], capture_output=True,
      text=True, check=False, timeout=300,
      env={key: value for key, value in os.environ.items()
           if key not in ("PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL")})


def test_the_command_prints_our_lines_only(tmp_path):
  (tmp_path / "events.csv").write_text(EVENTS_CSV)
  done = _run_command("--input", str(tmp_path / "events.csv"), "--output",
                      str(tmp_path / "data"), "--eval_cutoff",
                      "2026-01-05T00:00:00Z", "--direct_num_workers", "2",
                      "--direct_running_mode", "multi_processing")
  assert done.returncode == 0, done.stderr
  lines = (done.stdout + done.stderr).splitlines()
  assert len(lines) <= 10, lines
  assert any(line.startswith("beam.preprocess: events read=9 ")
             for line in lines)
  for noise in ("Warning", "Worker", "harness", "cuda", "oneDNN"):
    assert noise not in done.stdout + done.stderr


def test_the_command_ends_a_bad_input_with_one_error_line(tmp_path):
  (tmp_path / "events.csv").write_text("user,time\nu1,1\n")
  done = _run_command("--input", str(tmp_path / "events.csv"), "--output",
                      str(tmp_path / "data"))
  assert done.returncode == 2
  assert done.stderr.splitlines()[-1].startswith(
      f"beam.preprocess: error: {tmp_path / 'events.csv'} has no column")
  assert "Traceback" not in done.stderr

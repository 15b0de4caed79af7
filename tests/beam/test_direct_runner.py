"""Worker processes for large local runs, and that they change no output."""

import glob
import gzip
import json
import os

from apache_beam.options.pipeline_options import PipelineOptions

from beam import direct_runner
from beam import preprocess
from tfrs_adcg import schema

_BIG = direct_runner.MIN_PARALLEL_BYTES
_PARALLEL = ["--direct_running_mode", "multi_processing",
             "--direct_num_workers"]


def test_large_local_input_gets_a_worker_per_core():
  assert direct_runner.parallel_options([], _BIG, 4) == _PARALLEL + ["4"]
  assert direct_runner.parallel_options(
      ["--runner", "DirectRunner", "--temp_location", "/tmp/x"], _BIG,
      2) == ["--runner", "DirectRunner", "--temp_location", "/tmp/x"
            ] + _PARALLEL + ["2"]


def test_the_users_choice_small_inputs_and_other_runners_are_kept():
  for args in (["--direct_num_workers", "1"],
               ["--direct_running_mode", "multi_threading"],
               ["--direct_num_workers=3"],
               ["--runner", "DataflowRunner", "--project", "p"],
               ["--runner=FlinkRunner"]):
    assert direct_runner.parallel_options(args, _BIG, 8) == args
  assert direct_runner.parallel_options([], _BIG - 1, 8) == []
  assert direct_runner.parallel_options([], _BIG, 1) == []


def test_direct_runner_names():
  for runner in (None, "DirectRunner", "direct",
                 "apache_beam.runners.direct.direct_runner.DirectRunner"):
    assert direct_runner.is_direct_runner(runner), runner
  for runner in ("DataflowRunner", "FlinkRunner", "SparkRunner",
                 "PortableRunner", "BundleBasedDirectRunner"):
    assert not direct_runner.is_direct_runner(runner), runner
  assert direct_runner.available_cores() >= 1


def test_parallelism_is_the_direct_runners_worker_count():
  def parallelism(*args):
    return direct_runner.parallelism(PipelineOptions(list(args)), cores=6)

  assert parallelism() == 1
  assert parallelism(*_PARALLEL, "2") == 2
  assert parallelism("--direct_num_workers=0") == 6
  assert parallelism("--runner", "DataflowRunner", "--direct_num_workers",
                     "4") == 1


def test_balanced_pieces_rounds_up_to_a_multiple():
  assert direct_runner.balanced_pieces(7, 1, 2) == 8
  assert direct_runner.balanced_pieces(8, 1, 2) == 8
  assert direct_runner.balanced_pieces(1, 1, 3) == 3
  assert direct_runner.balanced_pieces(5, 1, 1) == 5
  assert direct_runner.balanced_pieces(57, 8, 2) == 8  # 7.1 pieces: 8.
  assert direct_runner.balanced_pieces(64, 8, 2) == 8
  assert direct_runner.balanced_pieces(0, 8, 3) == 3  # At least one.


def _records(data_dir, split):
  """The serialized examples of a split, sorted (shards may differ)."""
  records = []
  for path in glob.glob(schema.split_pattern(str(data_dir), split)):
    data = gzip.open(path).read()
    position = 0
    while position < len(data):  # TFRecord: length, crc, data, crc.
      length = int.from_bytes(data[position:position + 8], "little")
      records.append(data[position + 12:position + 12 + length])
      position += 16 + length
  return sorted(records)


def _read(path):
  with open(path, encoding="utf-8") as f:
    return f.read()


def test_worker_processes_write_what_one_process_writes(
    preprocessed_dir, tmp_path):
  in_memory = schema.read_manifest(str(preprocessed_dir))
  config = in_memory["config"]
  preprocess.main([
      "--input", config["input"], "--output", str(tmp_path),
      "--advertiser_catalog", config["advertiser_catalog"],
      "--max_seq_len", str(config["max_seq_len"]),
      "--label_window_days", str(config["label_window_days"])] + _PARALLEL
                  + ["2"])
  parallel = schema.read_manifest(str(tmp_path))
  assert parallel["counts"] == in_memory["counts"]
  assert parallel["counts"]["examples"]["train"] > 0
  for split in (schema.TRAIN, schema.EVAL):
    assert _records(tmp_path, split) == _records(preprocessed_dir, split)
  for name in ([os.path.join(schema.VOCAB_DIR, os.path.basename(path))
                for path in glob.glob(str(preprocessed_dir / schema.VOCAB_DIR
                                          / "*"))]
               + [schema.CANDIDATE_FREQUENCIES]):
    assert _read(tmp_path / name) == _read(preprocessed_dir / name), name
  assert json.dumps(parallel["time_range"]) == json.dumps(
      in_memory["time_range"])

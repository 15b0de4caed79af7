"""The options and process tuning of each runner, and that worker processes
change no output."""

import gc
import glob
import gzip
import json
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.direct.direct_runner import DirectRunner
from apache_beam.runners.runner import PipelineState
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pytest

from beam import collector
from beam import preprocess
from beam import runner
from tfrs_adcg import schema

_BIG = runner.MIN_PARALLEL_BYTES
_PARALLEL = ["--direct_running_mode", "multi_processing",
             "--direct_num_workers"]
_PLUGIN = ["--beam_plugins", runner.COLLECTOR_PLUGIN]


def _chosen(args, input_bytes, cores):
  """The options ``pipeline_options`` picks, as the flags that are set."""
  return runner.pipeline_options(args, input_bytes, cores).get_all_options(
      drop_default=True)


def _given(args):
  return PipelineOptions(args).get_all_options(drop_default=True)


def test_large_local_input_gets_a_worker_per_core_and_the_plugin():
  assert _chosen([], _BIG, 4) == _given(_PARALLEL + ["4"] + _PLUGIN)
  local = ["--runner", "DirectRunner", "--temp_location", "/tmp/x"]
  assert _chosen(local, _BIG, 2) == _given(local + _PARALLEL + ["2"]
                                           + _PLUGIN)


def test_the_users_choice_and_small_inputs_keep_their_processes():
  for args in (["--direct_num_workers", "1"],
               ["--direct_running_mode", "multi_threading"],
               ["--direct_num_workers=3"],
               ["--beam_plugins", "my.plugin"]):
    chosen = _chosen(args, _BIG, 8)
    plugins = chosen.pop("beam_plugins")
    assert runner.COLLECTOR_PLUGIN in plugins
    expected = _given(args)
    assert set(expected.pop("beam_plugins", [])) < set(plugins)
    if "--beam_plugins" in args:  # No parallelism set: workers are added.
      expected.update(_given(_PARALLEL + ["8"]))
    assert chosen == expected, args
  assert _chosen([], _BIG - 1, 8) == _given(_PLUGIN)
  assert _chosen([], _BIG, 1) == _given(_PLUGIN)


def test_other_runners_get_the_users_options_untouched():
  for args in (["--runner", "DataflowRunner", "--project", "p",
                "--region", "r"],
               ["--runner=FlinkRunner", "--parallelism", "16"],
               ["--runner", "PortableRunner", "--direct_num_workers", "4"]):
    chosen = _chosen(args, 100 * _BIG, 8)
    assert chosen == _given(args), args
    assert "beam_plugins" not in chosen


def test_direct_runner_names():
  for name in (None, "DirectRunner", "direct",
               "apache_beam.runners.direct.direct_runner.DirectRunner"):
    assert runner.is_direct_runner(name), name
  for name in ("DataflowRunner", "FlinkRunner", "SparkRunner",
               "PortableRunner", "BundleBasedDirectRunner"):
    assert not runner.is_direct_runner(name), name
  assert runner.available_cores() >= 1


def test_parallelism_is_the_direct_runners_worker_count():
  def parallelism(*args):
    return runner.parallelism(PipelineOptions(list(args)), cores=6)

  assert parallelism() == 1
  assert parallelism(*_PARALLEL, "2") == 2
  assert parallelism("--direct_num_workers=0") == 6
  assert parallelism("--runner", "DataflowRunner", "--direct_num_workers",
                     "4") == 1


def test_balanced_pieces_rounds_up_to_a_multiple():
  assert runner.balanced_pieces(7, 1, 2) == 8
  assert runner.balanced_pieces(8, 1, 2) == 8
  assert runner.balanced_pieces(1, 1, 3) == 3
  assert runner.balanced_pieces(5, 1, 1) == 5
  assert runner.balanced_pieces(57, 8, 2) == 8  # 7.1 pieces: 8.
  assert runner.balanced_pieces(64, 8, 2) == 8
  assert runner.balanced_pieces(0, 8, 3) == 3  # At least one.


@pytest.fixture
def default_collector():
  """The collector as a fresh process has it; restored afterwards."""
  saved = gc.get_threshold()
  gc.unfreeze()
  gc.set_threshold(700, 10, 10)
  yield
  gc.unfreeze()
  gc.set_threshold(*saved)


def _one_element_pipeline(options):
  pipeline = beam.Pipeline(options=options)
  assert_that(pipeline | beam.Create([1]), equal_to([1]))
  return pipeline


def test_run_pipeline_collects_less_in_the_launching_direct_runner(
    default_collector):
  del default_collector
  result = runner.run_pipeline(
      _one_element_pipeline(runner.pipeline_options([], 0)))
  assert result.state == PipelineState.DONE
  assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
  assert gc.get_freeze_count() > 0


def test_run_pipeline_leaves_the_launching_process_of_other_runners(
    default_collector):
  del default_collector
  options = runner.pipeline_options(["--runner", "PortableRunner"], 0)
  pipeline = beam.Pipeline(runner=DirectRunner(), options=options)
  assert_that(pipeline | beam.Create([1]), equal_to([1]))
  assert runner.run_pipeline(pipeline).state == PipelineState.DONE
  assert gc.get_threshold()[0] == 700
  assert gc.get_freeze_count() == 0


def _collector_state(_, launcher_pid):
  """In the process that runs the bundle: whether it is a worker process,
  its young threshold, whether objects are frozen."""
  return (os.getpid() != launcher_pid, gc.get_threshold()[0],
          gc.get_freeze_count() > 0)


@pytest.mark.integration
def test_direct_runner_worker_processes_import_the_collector_plugin():
  for plugin, expected in (
      (True, (True, collector.YOUNG_THRESHOLD, True)),
      (False, (True, 700, False))):  # Python's default: the plugin did it.
    args = _PARALLEL + ["1"]
    options = (runner.pipeline_options(args, 0) if plugin
               else PipelineOptions(args))
    pipeline = beam.Pipeline(options=options)
    states = (pipeline | beam.Create([None])
              | beam.Map(_collector_state, os.getpid()))
    assert_that(states, equal_to([expected]))
    pipeline.run().wait_until_finish()


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
  preprocess.run([
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

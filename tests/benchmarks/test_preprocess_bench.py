"""Tests of benchmarks.preprocess_bench's helpers, with no timing.

The labels, the ratios, the median runs and rounds, the examples check and
the markdown.
"""

import pytest

from benchmarks import common
from benchmarks import preprocess_bench as bench


def _run(configuration, size=1000, events_per_second=1000, cpu=1000,
         workers=0, train=10):
  return {"target_events": size, "configuration": configuration.name,
          "events_read": size + 7, "events_per_second": events_per_second,
          "events_per_cpu_second": cpu, "sdk_workers": workers,
          "seconds": 1.0, "cpu_seconds": 1.0, "runner_peak_rss_mib": 100.0,
          "peak_tree_rss_mib": 300.0,
          "examples": {"train": train, "eval": 2}}


def test_labels_say_what_ran():
  assert bench.label(_run(bench.DEFAULT, workers=2), []) == (
      "beam.preprocess, DirectRunner, 2 worker processes (default)")
  assert bench.label(_run(bench.DEFAULT, workers=1), []) == (
      "beam.preprocess, DirectRunner, 1 worker process (default)")
  assert bench.label(_run(bench.ONE_PROCESS), []) == (
      "beam.preprocess, DirectRunner, one process, in-memory")
  # Other options may pick another single-process mode.
  assert bench.label(_run(bench.ONE_PROCESS), ["--x"]) == (
      "beam.preprocess, DirectRunner, one process")
  assert bench.label(_run(bench.BASELINE), []) == (
      "pandas/pyarrow, one process")


def _three_runs(size, default_eps, one_eps, baseline_eps):
  return [_run(bench.DEFAULT, size, default_eps, default_eps // 2, 2),
          _run(bench.ONE_PROCESS, size, one_eps, one_eps),
          _run(bench.BASELINE, size, baseline_eps, baseline_eps)]


def test_ratios_per_size():
  runs = (_three_runs(1000, 60_000, 20_000, 40_000)
          + _three_runs(5000, 30_000, 10_000, 60_000))
  by_pair = {(r["target_events"], r["configuration"], r["against"]): r
             for r in bench.ratios(runs)}
  assert len(by_pair) == 6
  first = by_pair[1000, "beam_default", "baseline"]
  assert first["events_per_second"] == 1.5
  assert first["events_per_cpu_second"] == 0.75
  assert by_pair[1000, "beam_one_process", "baseline"][
      "events_per_second"] == 0.5
  assert by_pair[1000, "beam_default", "beam_one_process"][
      "events_per_second"] == 3.0
  assert by_pair[5000, "beam_default", "baseline"]["events_per_second"] == 0.5


def test_median_runs_pick_the_median_time_and_keep_the_range():
  runs = []
  for seconds, speed in ((3.0, 100), (1.0, 300), (2.0, 200)):
    run = _run(bench.DEFAULT, events_per_second=speed)
    run["seconds"] = seconds
    runs.append(run)
  runs.append(_run(bench.BASELINE, events_per_second=50))
  medians = bench.median_runs(runs)
  assert [run["configuration"] for run in medians] == [
      "beam_default", "baseline"]
  assert medians[0]["seconds"] == 2.0
  assert medians[0]["events_per_second"] == 200
  assert medians[0]["repeats"] == 3
  assert medians[0]["events_per_second_range"] == [100, 300]
  assert medians[1]["repeats"] == 1
  # Of an even number, the slower middle run.
  assert bench.median_runs(runs[:2])[0]["seconds"] == 3.0


def test_rounds_rotate_the_configurations():
  names = [[c.name for c in bench.rotated(bench.CONFIGURATIONS, repeat)]
           for repeat in range(4)]
  assert names[0] == ["beam_default", "beam_one_process", "baseline"]
  assert names[1] == ["beam_one_process", "baseline", "beam_default"]
  assert names[2] == ["baseline", "beam_default", "beam_one_process"]
  assert names[3] == names[0]


def test_check_examples():
  runs = _three_runs(1000, 1, 1, 1)
  bench.check_examples(runs)
  runs[1]["examples"] = {"train": 9, "eval": 2}
  with pytest.raises(RuntimeError, match="beam_one_process"):
    bench.check_examples(runs)


def test_markdown_states_options_memory_and_ratios():
  slower_round = _three_runs(1000, 55_000, 20_000, 40_000)
  for run in slower_round:
    run["seconds"] = 1.1
  # Of two rounds, the median run is the slower one.
  runs = bench.median_runs(_three_runs(1000, 60_000, 20_000, 40_000)
                           + slower_round)
  for run in runs:
    run["label"] = bench.label(run, [])
  results = {"machine": common.machine(), "load_average": "1.0 1.0 1.0",
             "max_seq_len": 100, "label_window_days": 7,
             "extra_beam_args": [],
             "beam_args": {"beam_default": [],
                           "beam_one_process": ["--direct_num_workers", "1"]},
             "sample_seconds": 0.2, "target_events_per_second": 50_000,
             "repeats": 2, "runs": runs, "ratios": bench.ratios(runs)}
  text = bench.markdown(results)
  assert "Beam options of the default run: none;" in text
  assert "one-process run: `--direct_num_workers 1`" in text
  assert "summed resident memory of the whole process tree" in text
  assert "| peak tree RSS MiB |" in text
  assert "| 1,007 | beam.preprocess, DirectRunner, 2 worker processes " \
         "(default) |" in text
  assert "default / baseline **1.38x** (0.69x)" in text
  assert "default / one process **2.75x** (1.38x)" in text
  assert "Each configuration ran 2 times, interleaved" in text
  assert "| events/s range |" in text
  assert "| 1.1 | 55,000 | 55,000-60,000 |" in text
  assert ("55,000 events/s (median of 2), at or above the 50,000 events/s "
          "target") in text

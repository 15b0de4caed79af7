"""beam.preprocess benchmark: events per second, Beam against one process.

    python -m benchmarks.preprocess_bench [--quick] [--sizes 1000000,5000000]
        [--repeats 3] [--beam_args "--direct_runner_bundle_repeat 0 ..."]

For each size, generates a synthetic event log of about that many events
(``tfrs_adcg.synthetic``, CSV, 60 days) and preprocesses it in three
configurations, each run in a fresh subprocess, one after the other:

* beam_default: ``beam.preprocess`` with its own defaults on the
  DirectRunner (on a large input, one worker process per CPU);
* beam_one_process: ``beam.preprocess --direct_num_workers 1``, the
  DirectRunner in memory in a single process;
* baseline: ``benchmarks.preprocess_baseline``, the same validation, exact
  duplicate removal, grouping and windowing with pyarrow, pandas and numpy
  in one process, writing the same examples with ``schema.encode_example``
  into a gzipped TFRecord file.

All use the time split, L = 100, K = 7 days and daily training cutoffs;
``--beam_args`` is appended to both Beam runs. The three run ``--repeats``
times, interleaved, the order rotated each round, since a shared machine's
speed drifts by tens of percent within minutes; the table shows each
configuration's run of median wall time, with the range over its repeats,
and the ratios compare those. Reports wall seconds of each subprocess (start
to exit: end to end), events read per second, CPU seconds (user + system of
the subprocess and its children: what the run costs, however loaded the
machine is), the peak of the summed resident memory of the subprocess's
whole process tree (runner and Beam worker processes, sampled from /proc by
``benchmarks.process_memory``), and the ratios. Every run must write the same
number of examples per split as the baseline, or the benchmark fails.
Writes results/preprocess.{json,md}.
"""

import argparse
import collections
import dataclasses
import json
import logging
import os
import resource
import shlex
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks import common
from benchmarks import process_memory

EVENTS_PER_USER = 97.3  # Of the synthetic generator's defaults (60 days).
MAX_SEQ_LEN = 100
LABEL_WINDOW_DAYS = 7
TARGET_EVENTS_PER_SECOND = 50_000  # Issue #3, end to end on this machine.
_MIB = 2**20


@dataclasses.dataclass(frozen=True)
class Configuration:
  """One way of preprocessing: which child runs, with which Beam options."""
  name: str
  short_name: str  # In the ratios below the table.
  child: str  # "beam" or "baseline".
  beam_args: Tuple[str, ...] = ()


DEFAULT = Configuration("beam_default", "default", "beam")
ONE_PROCESS = Configuration("beam_one_process", "one process", "beam",
                            ("--direct_num_workers", "1"))
BASELINE = Configuration("baseline", "baseline", "baseline")
CONFIGURATIONS = (DEFAULT, ONE_PROCESS, BASELINE)


def _child(kind: str, input_path: str, output: str,
           beam_args: Sequence[str]) -> None:
  """Runs one preprocessing in this process; prints its counts as JSON."""
  if kind == "beam":
    from beam import preprocess  # pylint: disable=g-import-not-at-top

    manifest = preprocess.run(["--input", input_path, "--output", output,
                                "--max_seq_len", str(MAX_SEQ_LEN),
                                "--label_window_days",
                                str(LABEL_WINDOW_DAYS)] + list(beam_args))
    counts = manifest["counts"]
    result = {"events_read": counts["events_read"],
              "events_used": counts["events_used"],
              "examples": counts["examples"]}
  else:
    from benchmarks import preprocess_baseline  # pylint: disable=g-import-not-at-top

    result = preprocess_baseline.baseline_preprocess(
        input_path, output, MAX_SEQ_LEN, LABEL_WINDOW_DAYS)
  result["runner_peak_rss_mib"] = round(common.memory_mib("VmHWM"), 1)
  print("RESULT " + json.dumps(result), flush=True)


def run_subprocess(configuration: Configuration, input_path: str, output: str,
                   extra_beam_args: Sequence[str]) -> Dict[str, object]:
  """One preprocessing in a fresh interpreter: its counts, time and memory."""
  beam_args = []
  if configuration.child == "beam":
    beam_args = list(configuration.beam_args) + list(extra_beam_args)
  command = [sys.executable, "-m", "benchmarks.preprocess_bench", "--child",
             configuration.child, "--input", input_path, "--output", output]
  if beam_args:
    command.append(f"--beam_args={shlex.join(beam_args)}")
  started = time.perf_counter()
  cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
  finished, peak = process_memory.run_sampling_tree(command)
  seconds = time.perf_counter() - started
  cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
  lines = [line for line in finished.stdout.splitlines()
           if line.startswith("RESULT ")]
  if finished.returncode or not lines:
    raise RuntimeError(f"{configuration.name} failed:\n"
                       f"{finished.stderr[-3000:]}")
  result = json.loads(lines[-1][len("RESULT "):])
  # CPU seconds of the process and its children (the worker processes,
  # which the runner waits for): what the run costs, whatever else the
  # machine is doing.
  cpu = ((cpu_after.ru_utime + cpu_after.ru_stime)
         - (cpu_before.ru_utime + cpu_before.ru_stime))
  # The runner's own high-water mark bounds the tree's peak from below too,
  # and catches a peak between two samples.
  peak_mib = max(peak.rss_bytes / _MIB, result["runner_peak_rss_mib"])
  return {"configuration": configuration.name, "beam_args": beam_args,
          **result,
          "seconds": round(seconds, 2),
          "events_per_second": round(result["events_read"] / seconds),
          "cpu_seconds": round(cpu, 2),
          "events_per_cpu_second": round(result["events_read"] / cpu),
          "peak_tree_rss_mib": round(peak_mib, 1),
          "processes": peak.processes, "sdk_workers": peak.sdk_workers}


def worker_mode(run: Dict[str, object],
                extra_beam_args: Sequence[str]) -> str:
  """How a Beam run ran: the worker processes seen, else one process."""
  workers = run["sdk_workers"]
  if workers:
    return f"{workers} worker process{'es' if workers > 1 else ''}"
  # Without other options, no worker processes is the in-memory mode.
  return "one process" + ("" if extra_beam_args else ", in-memory")


def label(run: Dict[str, object], extra_beam_args: Sequence[str]) -> str:
  """A run's name in the table, with the worker processes that really ran."""
  if run["configuration"] == BASELINE.name:
    return "pandas/pyarrow, one process"
  default = " (default)" if run["configuration"] == DEFAULT.name else ""
  return ("beam.preprocess, DirectRunner, "
          f"{worker_mode(run, extra_beam_args)}{default}")


def ratios(runs: Sequence[Dict[str, object]]) -> List[Dict[str, object]]:
  """Per size, each Beam run against the baseline, and default against one.

  Returns:
    One dict per comparison: ``configuration``, ``against`` (configuration
    names), and its events/s and events per CPU second as multiples of the
    other's.
  """
  by_size = collections.defaultdict(dict)
  for run in runs:
    by_size[run["target_events"]][run["configuration"]] = run
  comparisons = []
  for size, by_name in by_size.items():
    for name, against in ((DEFAULT.name, BASELINE.name),
                          (ONE_PROCESS.name, BASELINE.name),
                          (DEFAULT.name, ONE_PROCESS.name)):
      if name not in by_name or against not in by_name:
        continue
      run, other = by_name[name], by_name[against]
      comparisons.append({
          "target_events": size, "events_read": run["events_read"],
          "configuration": name, "against": against,
          "events_per_second": round(
              run["events_per_second"] / other["events_per_second"], 3),
          "events_per_cpu_second": round(
              run["events_per_cpu_second"] / other["events_per_cpu_second"],
              3)})
  return comparisons


def median_runs(runs: Sequence[Dict[str, object]]) -> List[Dict[str, object]]:
  """Per size and configuration, the run of median wall time (the slower
  middle one of an even number), with ``repeats`` and the range of its
  configuration's ``events_per_second`` over them added.

  Returns:
    One run per (size, configuration), in the order first seen.
  """
  groups = collections.defaultdict(list)
  for run in runs:
    groups[run["target_events"], run["configuration"]].append(run)
  medians = []
  for group in groups.values():
    ordered = sorted(group, key=lambda run: run["seconds"])
    speeds = [run["events_per_second"] for run in group]
    medians.append({**ordered[len(ordered) // 2], "repeats": len(group),
                    "events_per_second_range": [min(speeds), max(speeds)]})
  return medians


def rotated(configurations: Sequence[Configuration],
            repeat: int) -> List[Configuration]:
  """The configurations in the order of round ``repeat``: rotated by it, so
  that each takes each place in turn."""
  shift = repeat % len(configurations)
  return list(configurations[shift:]) + list(configurations[:shift])


def check_examples(runs: Sequence[Dict[str, object]]) -> None:
  """Fails unless every run of one input wrote the baseline's examples.

  Raises:
    RuntimeError: naming the runs whose examples per split differ.
  """
  baseline = next(run for run in runs
                  if run["configuration"] == BASELINE.name)
  differ = {run["configuration"]: run["examples"] for run in runs
            if run["examples"] != baseline["examples"]}
  if differ:
    raise RuntimeError(
        f"Examples per split differ from the baseline's "
        f"{baseline['examples']}: {differ}")


def generate(directory: str, events: int, seed: int) -> str:
  """A synthetic CSV event log of about ``events`` events; its path."""
  from tfrs_adcg import synthetic  # pylint: disable=g-import-not-at-top

  users = max(10, round(events / EVENTS_PER_USER))
  synthetic.main(["--output", directory, "--users", str(users), "--seed",
                  str(seed), "--format", "csv"])
  return os.path.join(directory, "events.csv")


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="One size of 200k events, one repeat.")
  common.add_results_dir_flag(parser)
  parser.add_argument("--sizes", default="1000000,5000000",
                      help="Comma-separated event counts.")
  parser.add_argument("--beam_args", default="",
                      help="Extra Beam pipeline options for both Beam runs, "
                      "one string.")
  parser.add_argument("--repeats", type=int, default=3,
                      help="Rounds of the three configurations per size.")
  parser.add_argument("--workdir", default=None,
                      help="Where logs and outputs go (default: a temp dir).")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--child", choices=("beam", "baseline"),
                      help=argparse.SUPPRESS)
  parser.add_argument("--input", help=argparse.SUPPRESS)
  parser.add_argument("--output", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  beam_args = shlex.split(args.beam_args)
  if args.child:
    _child(args.child, args.input, args.output, beam_args)
    return {}

  sizes = [200_000] if args.quick else [int(n) for n in args.sizes.split(",")]
  repeats = 1 if args.quick else args.repeats
  if repeats < 1:
    parser.error(f"--repeats must be at least 1, got {repeats}.")
  workdir = args.workdir or tempfile.mkdtemp(prefix="preprocess_bench_")
  all_runs: List[Dict[str, object]] = []
  for size in sizes:
    directory = os.path.join(workdir, f"events_{size}")
    logging.info("Generating about %d events in %s.", size, directory)
    input_path = generate(directory, size, args.seed)
    size_runs = []
    for repeat in range(repeats):
      for configuration in rotated(CONFIGURATIONS, repeat):
        logging.info("Preprocessing %s: %s, round %d of %d.", input_path,
                     configuration.name, repeat + 1, repeats)
        run = {"target_events": size, "repeat": repeat,
               **run_subprocess(configuration, input_path,
                                os.path.join(
                                    directory,
                                    f"out_{configuration.name}_{repeat}"),
                                beam_args)}
        run["label"] = label(run, beam_args)
        logging.info("%s: %s", configuration.name, run)
        size_runs.append(run)
    check_examples(size_runs)
    all_runs.extend(size_runs)
  order = {c.name: i for i, c in enumerate(CONFIGURATIONS)}
  runs = sorted(median_runs(all_runs), key=lambda run: (
      run["target_events"], order[run["configuration"]]))
  results = {"machine": common.machine(),
             "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
             "max_seq_len": MAX_SEQ_LEN,
             "label_window_days": LABEL_WINDOW_DAYS,
             "extra_beam_args": beam_args,
             "beam_args": {c.name: list(c.beam_args) + beam_args
                           for c in CONFIGURATIONS if c.child == "beam"},
             "sample_seconds": process_memory.SAMPLE_SECONDS,
             "target_events_per_second": TARGET_EVENTS_PER_SECOND,
             "repeats": repeats,
             "runs": runs, "ratios": ratios(runs), "all_runs": all_runs}
  path = common.write_results(args.results_dir, "preprocess", results,
                              markdown(results))
  print(open(path, encoding="utf-8").read())
  return results


def _options(beam_args: Sequence[str]) -> str:
  return f"`{shlex.join(beam_args)}`" if beam_args else "none"


def markdown(results: Dict[str, object]) -> str:
  """results/preprocess.md: the header, the table and the ratios."""
  runs = results["runs"]
  rows = [[f"{run['events_read']:,}", run["label"], run["seconds"],
           f"{run['events_per_second']:,}",
           "{:,}-{:,}".format(*run["events_per_second_range"]),
           run["cpu_seconds"],
           f"{run['events_per_cpu_second']:,}", run["runner_peak_rss_mib"],
           run["peak_tree_rss_mib"], f"{run['examples'].get('train', 0):,}",
           f"{run['examples'].get('eval', 0):,}"] for run in runs]
  short_names = {c.name: c.short_name for c in CONFIGURATIONS}
  by_size = collections.defaultdict(list)
  for comparison in results["ratios"]:
    by_size[comparison["target_events"]].append(
        f"{short_names[comparison['configuration']]} / "
        f"{short_names[comparison['against']]} "
        f"**{comparison['events_per_second']:.2f}x** "
        f"({comparison['events_per_cpu_second']:.2f}x)")
  target = results["target_events_per_second"]
  lines = []
  for run in runs:
    if run["configuration"] == DEFAULT.name:
      verdict = ("at or above" if run["events_per_second"] >= target
                 else "below")
      lines.append(
          f"{run['events_read']:,} events, events/s (per CPU second): "
          f"{'; '.join(by_size[run['target_events']])}. The default "
          f"({worker_mode(run, results['extra_beam_args'])}): "
          f"{run['events_per_second']:,} events/s (median of "
          f"{run['repeats']}), {verdict} the {target:,} events/s target.")
  options = results["beam_args"]
  return "\n".join([
      "# beam.preprocess: events per second (DirectRunner)",
      "",
      f"Machine: {common.machine_line(results['machine'])}. Time split, "
      f"L={results['max_seq_len']}, K={results['label_window_days']} days, "
      f"daily cutoffs. Each configuration ran {results['repeats']} "
      f"time{'s' if results['repeats'] > 1 else ''}, interleaved in rotating "
      "order; a row is its run of median wall "
      "time, next to the range of events/s over all its runs, and the "
      "ratios compare the median runs. Beam options of the default run: "
      f"{_options(options[DEFAULT.name])}; of the one-process run: "
      f"{_options(options[ONE_PROCESS.name])}. Seconds are wall time of a "
      "fresh process, start to exit; CPU seconds are user + system of that "
      "process and its children. Peak tree RSS is the peak of the summed "
      "resident memory of the whole process tree (runner and worker "
      f"processes), sampled every {results['sample_seconds']} s; runner "
      "peak RSS is the runner process's own high-water mark. Load average "
      f"at the end: {results.get('load_average', 'unknown')}.",
      "",
      common.markdown_table(
          ["events", "pipeline", "seconds", "events/s", "events/s range",
           "CPU seconds",
           "events/CPU s", "runner peak RSS MiB", "peak tree RSS MiB",
           "train examples", "eval examples"], rows),
      "",
      *[f"- {line}" for line in lines],
  ])


if __name__ == "__main__":
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  main()

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
* baseline: ``baseline_preprocess`` below, the same validation, exact
  duplicate removal, grouping and windowing with pyarrow, pandas and numpy
  in one process, writing the same examples with ``schema.encode_example``
  into a gzipped TFRecord file.

All use the time split, L = 100, K = 7 days and daily training cutoffs;
``--beam_args`` is appended to both Beam runs. The three run ``--repeats``
times, interleaved, the order rotated each round, since a shared machine's
speed drifts by tens of percent within minutes; the table shows each
configuration's run of median wall time, with the range over its repeats,
and the ratios compare those. Reports wall seconds of each
subprocess (start to exit: end to end), events read per second, CPU seconds
(user + system of the subprocess and its children: what the run costs,
however loaded the machine is), the peak of the summed resident memory of
the subprocess's whole process tree (runner and Beam worker processes,
sampled from /proc), and the ratios. Every run must write the same number of
examples per split as the baseline, or the benchmark fails.
Writes results/preprocess.{json,md}.
"""

import argparse
import bisect
import collections
import dataclasses
import json
import logging
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks import common

EVENTS_PER_USER = 97.3  # Of the synthetic generator's defaults (60 days).
MAX_SEQ_LEN = 100
LABEL_WINDOW_DAYS = 7
CONVERSION_TYPES = ("checkout", "add_to_cart", "signup")
EVENT_TYPES = ("view", "add_to_cart", "checkout", "signup")
DAY = 86400
TARGET_EVENTS_PER_SECOND = 50_000  # Issue #3, end to end on this machine.
SAMPLE_SECONDS = 0.2  # How often the process tree's memory is sampled.
# The module a DirectRunner worker process runs in multi_processing mode.
SDK_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"
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


def baseline_preprocess(input_path: str, output: str) -> Dict[str, object]:
  """beam.preprocess's time split, single process: pyarrow, pandas, numpy.

  Reads the whole CSV into memory (what Beam avoids), validates like
  ``beam.parse_events`` (ISO or epoch times, ids, types, range), drops exact
  duplicates, sorts by user and time, and writes the examples, vocabularies
  and candidate frequencies.

  Returns:
    Counts: events read, events used, examples per split.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pandas as pd  # pylint: disable=g-import-not-at-top
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.compute as pc  # pylint: disable=g-import-not-at-top
  from pyarrow import csv as pa_csv  # pylint: disable=g-import-not-at-top

  import tfrs_adcg  # noqa: F401  pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfrs_adcg import schema  # pylint: disable=g-import-not-at-top
  from tfrs_adcg import timestamps  # pylint: disable=g-import-not-at-top

  malformed = [0]

  def skip_row(_):
    malformed[0] += 1
    return "skip"

  table = pa_csv.read_csv(
      input_path,
      parse_options=pa_csv.ParseOptions(invalid_row_handler=skip_row),
      convert_options=pa_csv.ConvertOptions(
          column_types={name: pa.string() for name in schema.RAW_COLUMNS},
          strings_can_be_null=False))
  read = table.num_rows + malformed[0]
  times = pc.strptime(table[schema.RAW_TIMESTAMP], format="%Y-%m-%dT%H:%M:%SZ",
                      unit="s", error_is_null=True)
  frame = pd.DataFrame({
      "user": table[schema.RAW_USER_ID].to_numpy(zero_copy_only=False),
      "time": pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False),
      "type": table[schema.RAW_EVENT_TYPE].to_numpy(zero_copy_only=False),
      "item": table[schema.RAW_ITEM_ID].to_numpy(zero_copy_only=False),
      "advertiser": table[schema.RAW_ADVERTISER_ID].to_numpy(
          zero_copy_only=False)})
  unparsed = np.flatnonzero(np.isnan(frame["time"].to_numpy()))
  raw_times = table[schema.RAW_TIMESTAMP]
  for row in unparsed:  # Epoch numbers, other ISO forms: as beam.event_times.
    try:
      frame.iloc[row, 1] = timestamps.parse_timestamp(
          raw_times[int(row)].as_py())
    except (ValueError, OverflowError):
      pass
  valid = ((frame["user"] != "") & (frame["advertiser"] != "") &
           frame["time"].notna() & frame["type"].isin(EVENT_TYPES) &
           frame["time"].between(946684800, time.time() + DAY))
  frame = frame[valid].astype({"time": np.int64}).drop_duplicates()
  frame = frame.sort_values(["user", "time", "type", "item", "advertiser"],
                            kind="stable")

  latest = int(frame["time"].max()) - LABEL_WINDOW_DAYS * DAY
  eval_cutoff = latest - latest % DAY
  users = frame["user"].to_numpy()
  starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
  ends = np.r_[starts[1:], len(users)]
  times_all = frame["time"].to_numpy()
  types_all = frame["type"].tolist()
  items_all = frame["item"].tolist()
  advertisers_all = frame["advertiser"].tolist()
  converted = frame["type"].isin(CONVERSION_TYPES).to_numpy()

  os.makedirs(os.path.join(output, schema.VOCAB_DIR), exist_ok=True)
  writers = {split: tf.io.TFRecordWriter(
      os.path.join(output, f"{split}-00000-of-00001{schema.TFRECORD_SUFFIX}"),
      options="GZIP") for split in (schema.TRAIN, schema.EVAL)}
  examples = collections.Counter()
  positives = collections.Counter()
  eval_day = eval_cutoff // DAY
  for start, end in zip(starts, ends):
    user_times = times_all[start:end].tolist()
    conversions = np.flatnonzero(converted[start:end]) + start
    conversion_times = times_all[conversions].tolist()
    first_day = user_times[0] // DAY
    steps = (eval_day - first_day)
    cutoff_days = list(range(eval_day - LABEL_WINDOW_DAYS - steps,
                             eval_day - LABEL_WINDOW_DAYS + 1)) + [eval_day]
    for cutoff_day in cutoff_days:
      cutoff = cutoff_day * DAY
      history_end = bisect.bisect_left(user_times, cutoff)
      low = bisect.bisect_right(conversion_times, cutoff)
      high = bisect.bisect_right(conversion_times,
                                 cutoff + LABEL_WINDOW_DAYS * DAY)
      if not history_end or low == high:
        continue
      window = conversions[low:high]
      label_advertisers = sorted({advertisers_all[i] for i in window})
      label_items = sorted({items_all[i] for i in window} - {""})
      begin = start + max(0, history_end - MAX_SEQ_LEN)
      stop = start + history_end
      record = schema.encode_example(
          users[start], cutoff * timestamps.MILLISECONDS_PER_SECOND, {
              schema.TIMESTAMP: [
                  time * timestamps.MILLISECONDS_PER_SECOND
                  for time in user_times[begin - start:history_end]],
              schema.EVENT_TYPE: types_all[begin:stop],
              schema.ITEM_ID: items_all[begin:stop],
              schema.ADVERTISER_ID: advertisers_all[begin:stop],
          }, label_advertisers, label_items)
      split = schema.EVAL if cutoff_day == eval_day else schema.TRAIN
      writers[split].write(record)
      examples[split] += 1
      if split == schema.TRAIN:
        positives.update(label_advertisers)
  for writer in writers.values():
    writer.close()

  for feature, column in ((schema.ADVERTISER_ID, "advertiser"),
                          (schema.ITEM_ID, "item"),
                          (schema.EVENT_TYPE, "type")):
    counts = frame[column][frame[column] != ""].value_counts()
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    with open(schema.vocab_path(output, feature), "w", encoding="utf-8") as f:
      f.writelines(f"{id_}\t{n}\n" for id_, n in ordered)
  total = sum(positives.values())
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES), "w",
            encoding="utf-8") as f:
    for advertiser in frame["advertiser"].unique():
      n = positives[advertiser]
      f.write(f"{advertiser}\t{n}\t{max(n, 0.5) / total!r}\n")
  return {"events_read": read, "events_used": len(frame),
          "examples": dict(examples)}


def _parent_pids() -> Dict[int, int]:
  """The parent of every process alive now, from /proc/<pid>/stat."""
  parents = {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat", "rb") as f:
        stat = f.read()
    except OSError:  # Exited since the listing.
      continue
    # After the command name, in parentheses and maybe with spaces: the
    # state, then the parent's pid.
    parents[int(entry)] = int(stat[stat.rindex(b")") + 1:].split()[1])
  return parents


def process_tree(root: int) -> List[int]:
  """``root`` and every descendant of it alive now (Linux)."""
  children = collections.defaultdict(list)
  for pid, parent in _parent_pids().items():
    children[parent].append(pid)
  tree, pending = [], [root]
  while pending:
    pid = pending.pop()
    tree.append(pid)
    pending.extend(children[pid])
  return tree


def is_sdk_worker(argv: Sequence[str]) -> bool:
  """Whether a command line is a DirectRunner worker process's.

  The module must be a whole argument: the ``sh -c "python -m ..."`` Beam
  starts each worker with is not a second worker.
  """
  return SDK_WORKER_MODULE in argv


@dataclasses.dataclass
class TreeSample:
  """A process tree's summed resident memory and its processes."""
  rss_bytes: int = 0
  processes: int = 0
  sdk_workers: int = 0


def sample_tree(root: int) -> TreeSample:
  """The summed RSS (``/proc/<pid>/statm``) of ``root``'s tree, now."""
  page_bytes = os.sysconf("SC_PAGE_SIZE")
  sample = TreeSample()
  for pid in process_tree(root):
    try:
      with open(f"/proc/{pid}/statm", "rb") as f:
        resident_pages = int(f.read().split()[1])
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode("utf-8", "replace").split("\0")
    except OSError:  # Exited since the walk.
      continue
    sample.rss_bytes += resident_pages * page_bytes
    sample.processes += 1
    sample.sdk_workers += is_sdk_worker(argv)
  return sample


def run_sampling_tree(command: Sequence[str],
                      interval: float = SAMPLE_SECONDS
                      ) -> Tuple[subprocess.CompletedProcess, TreeSample]:
  """Runs ``command`` to its end, sampling its process tree meanwhile.

  Every ``interval`` seconds a thread sums the resident memory of the
  subprocess and all its descendants (a Beam runner and its worker
  processes, say). Pages shared between processes count in each, as in any
  sum of RSS; a peak shorter than ``interval`` may be missed.

  Returns:
    The finished process, its stdout and stderr captured as text, and the
    peaks over the samples: of the summed RSS (not of any one process), of
    the processes alive at once and of the Beam worker processes among them.
  """
  process = subprocess.Popen(command, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
  peak = TreeSample()
  done = threading.Event()

  def sample() -> None:
    while True:
      now = sample_tree(process.pid)
      peak.rss_bytes = max(peak.rss_bytes, now.rss_bytes)
      peak.processes = max(peak.processes, now.processes)
      peak.sdk_workers = max(peak.sdk_workers, now.sdk_workers)
      if done.wait(interval):
        return

  sampler = threading.Thread(target=sample, name="SampleTreeRss",
                             daemon=True)
  sampler.start()
  try:
    stdout, stderr = process.communicate()
  except BaseException:
    process.kill()
    raise
  finally:
    done.set()
    sampler.join()
  return (subprocess.CompletedProcess(list(command), process.returncode,
                                      stdout, stderr), peak)


def _child(kind: str, input_path: str, output: str,
           beam_args: Sequence[str]) -> None:
  """Runs one preprocessing in this process; prints its counts as JSON."""
  if kind == "beam":
    from beam import preprocess  # pylint: disable=g-import-not-at-top

    manifest = preprocess.main(["--input", input_path, "--output", output,
                                "--max_seq_len", str(MAX_SEQ_LEN),
                                "--label_window_days",
                                str(LABEL_WINDOW_DAYS)] + list(beam_args))
    counts = manifest["counts"]
    result = {"events_read": counts["events_read"],
              "events_used": counts["events_used"],
              "examples": counts["examples"]}
  else:
    result = baseline_preprocess(input_path, output)
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
  finished, peak = run_sampling_tree(command)
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
             "sample_seconds": SAMPLE_SECONDS,
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

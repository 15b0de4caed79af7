"""beam.preprocess benchmark: events per second, Beam against one process.

    python -m benchmarks.preprocess_bench [--quick] [--sizes 1000000,5000000]
        [--beam_args "--direct_running_mode multi_processing ..."]

For each size, generates a synthetic event log of about that many events
(``tfrs_adcg.synthetic``, CSV, 60 days) and preprocesses it twice, each time
in a fresh subprocess, one after the other:

* beam: ``python -m beam.preprocess`` on the DirectRunner (in-memory, one
  worker unless ``--beam_args`` says otherwise), time split, L = 100,
  K = 7 days, daily training cutoffs;
* baseline: ``baseline_preprocess`` below, the same validation, exact
  duplicate removal, grouping and windowing with pyarrow, pandas and numpy
  in one process, writing the same examples with ``schema.encode_example``
  into a gzipped TFRecord file.

Reports wall seconds of each subprocess (start to exit: end to end),
events read per second, CPU seconds (user + system of the subprocess and
its children: what the run costs, however loaded the machine is), peak
resident memory, and the ratios. Both must write the same number of
examples per split, or the benchmark fails. Writes
results/preprocess.{json,md}.
"""

import argparse
import bisect
import collections
import json
import logging
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from benchmarks import common

EVENTS_PER_USER = 97.3  # Of the synthetic generator's defaults (60 days).
MAX_SEQ_LEN = 100
LABEL_WINDOW_DAYS = 7
CONVERSION_TYPES = ("checkout", "add_to_cart", "signup")
EVENT_TYPES = ("view", "add_to_cart", "checkout", "signup")
DAY = 86400


def baseline_preprocess(input_path: str, output: str) -> Dict[str, object]:
  """beam.preprocess's time split, single process: pyarrow, pandas, numpy.

  Reads the whole CSV into memory (what Beam avoids), validates like
  ``beam.events`` (ISO or epoch times, ids, types, range), drops exact
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
  for row in unparsed:  # Epoch seconds and other ISO forms, as beam.events.
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
          users[start], cutoff, {
              schema.TIMESTAMP: user_times[begin - start:history_end],
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
  peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
  result["peak_rss_mib"] = round(peak_kib / 1024, 1)
  print("RESULT " + json.dumps(result), flush=True)


def run_subprocess(kind: str, input_path: str, output: str,
                   beam_args: Sequence[str]) -> Dict[str, object]:
  """One preprocessing in a fresh interpreter; wall seconds and counts."""
  command = [sys.executable, "-m", "benchmarks.preprocess_bench", "--child",
             kind, "--input", input_path, "--output", output]
  if beam_args:
    command += ["--beam_args", shlex.join(beam_args)]
  started = time.perf_counter()
  cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
  finished = subprocess.run(command, capture_output=True, text=True,
                            check=False)
  seconds = time.perf_counter() - started
  cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
  lines = [line for line in finished.stdout.splitlines()
           if line.startswith("RESULT ")]
  if finished.returncode or not lines:
    raise RuntimeError(f"{kind} failed:\n{finished.stderr[-3000:]}")
  result = json.loads(lines[-1][len("RESULT "):])
  result["seconds"] = round(seconds, 2)
  result["events_per_second"] = round(result["events_read"] / seconds)
  # CPU seconds of the process and its children: what the run costs,
  # whatever else the machine is doing.
  cpu = ((cpu_after.ru_utime + cpu_after.ru_stime)
         - (cpu_before.ru_utime + cpu_before.ru_stime))
  result["cpu_seconds"] = round(cpu, 2)
  result["events_per_cpu_second"] = round(result["events_read"] / cpu)
  return result


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
                      help="One size of 200k events.")
  common.add_results_dir_flag(parser)
  parser.add_argument("--sizes", default="1000000,5000000",
                      help="Comma-separated event counts.")
  parser.add_argument("--beam_args", default="",
                      help="Extra Beam pipeline options, one string.")
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
  workdir = args.workdir or tempfile.mkdtemp(prefix="preprocess_bench_")
  runs: List[Dict[str, object]] = []
  for size in sizes:
    directory = os.path.join(workdir, f"events_{size}")
    logging.info("Generating about %d events in %s.", size, directory)
    input_path = generate(directory, size, args.seed)
    by_kind = {}
    for kind in ("beam", "baseline"):
      logging.info("Preprocessing %s with %s.", input_path, kind)
      result = run_subprocess(kind, input_path,
                              os.path.join(directory, f"out_{kind}"),
                              beam_args)
      logging.info("%s: %s", kind, result)
      by_kind[kind] = result
      runs.append({"target_events": size, "pipeline": kind, **result})
    if by_kind["beam"]["examples"] != by_kind["baseline"]["examples"]:
      raise RuntimeError(f"Beam and the baseline disagree: {by_kind}")
  results = {"machine": common.machine(), "beam_args": beam_args,
             "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
             "max_seq_len": MAX_SEQ_LEN,
             "label_window_days": LABEL_WINDOW_DAYS, "runs": runs}
  path = common.write_results(args.results_dir, "preprocess", results,
                              _markdown(results))
  print(open(path, encoding="utf-8").read())
  return results


def _markdown(results: Dict[str, object]) -> str:
  runs = results["runs"]
  rows = []
  for run in runs:
    label = ("beam.preprocess, DirectRunner" if run["pipeline"] == "beam"
             else "pandas/pyarrow, one process")
    rows.append([f"{run['events_read']:,}", label, run["seconds"],
                 f"{run['events_per_second']:,}", run["cpu_seconds"],
                 f"{run['events_per_cpu_second']:,}", run["peak_rss_mib"],
                 f"{run['examples'].get('train', 0):,}",
                 f"{run['examples'].get('eval', 0):,}"])
  ratios = []
  for beam_run, baseline_run in zip(runs[::2], runs[1::2]):
    ratio = beam_run["events_per_second"] / baseline_run["events_per_second"]
    cpu_ratio = (beam_run["events_per_cpu_second"]
                 / baseline_run["events_per_cpu_second"])
    ratios.append(f"{beam_run['events_read']:,} events: Beam at "
                  f"**{ratio:.2f}x** the events/s of the single-process "
                  f"script ({cpu_ratio:.2f}x its events per CPU second)")
  options = " ".join(results["beam_args"]) or "defaults (in-memory, 1 worker)"
  return "\n".join([
      "# beam.preprocess: events per second (DirectRunner)",
      "",
      f"Machine: {common.machine_line(results['machine'])}. Time split, "
      f"L={results['max_seq_len']}, K={results['label_window_days']} days, "
      f"daily cutoffs. Beam options: {options}. Seconds are wall time of a "
      "fresh process, start to exit; CPU seconds and peak RSS of that "
      "process and its children. Load average at the end: "
      f"{results.get('load_average', 'unknown')}.",
      "",
      common.markdown_table(
          ["events", "pipeline", "seconds", "events/s", "CPU seconds",
           "events/CPU s", "peak RSS MiB",
           "train examples", "eval examples"], rows),
      "",
      *[f"- {line}" for line in ratios],
  ])


if __name__ == "__main__":
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  main()

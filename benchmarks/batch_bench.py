"""Batch candidates benchmark: users per second, batched vs one at a time.

    python -m benchmarks.batch_bench --model serving/adcg/<version> \\
        [--input 'events/*.csv'] [--users 50000] [--data_dir DIR] \\
        [--batch_size 256] [--repeats 3] [--quick]

Runs the whole ``beam.batch_candidates`` pipeline on the DirectRunner with
its default options (worker processes for a large input, as the command
does) on each input: with model batches of ``--batch_size`` users and with
batches of one user (one model call per user), interleaved, ``--repeats``
times. The inputs are ``--input`` (``benchmarks.run`` passes its 5,000-user
log) and, for each size of ``--users``, a synthetic log of that many users
(``tfrs_adcg.synthetic``, CSV, its default 60 days: about 99 events a
user), generated into ``--data_dir`` unless it is there already;
``--quick`` runs on ``--input`` alone, or a 600-user log without it. Reports users written per second of wall time, end to end
(reading, deduplicating, combining and writing included), the CPU seconds
of the run (this process and the worker processes it started: what the run
costs, however loaded the machine), and their ratio. For context it also
times the model calls alone (``beam.inference``, no Beam) on the first
input's users' histories, batched and one at a time, with their CPU time
per user. Writes
results/batch.{json,md}.
"""

import argparse
import logging
import os
import resource
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from beam import batch_candidates  # Imports tfrs_adcg before TensorFlow.
from beam import inference
from beam import input_files
from beam import rows
from beam import scoring
from benchmarks import common
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import timestamps

_READERS = {rows.CSV: lambda path: pd.read_csv(path, dtype=str,
                                               keep_default_na=False),
            rows.JSONL: lambda path: pd.read_json(path, lines=True, dtype=str),
            rows.PARQUET: pd.read_parquet}
QUICK_USERS = 600


def _cpu_seconds() -> float:
  """User + system seconds of this process and its waited-for children."""
  return sum(usage.ru_utime + usage.ru_stime for usage in (
      resource.getrusage(resource.RUSAGE_SELF),
      resource.getrusage(resource.RUSAGE_CHILDREN)))


def run_once(model: str, input_pattern: str, batch_size: int,
             output: str) -> Dict[str, float]:
  """One pipeline run: its wall-clock and CPU seconds, users written."""
  cpu = _cpu_seconds()
  started = time.perf_counter()
  manifest = batch_candidates.run([
      "--input", input_pattern, "--model", model, "--output", output,
      "--batch_size", str(batch_size), "--overwrite"])
  seconds = time.perf_counter() - started
  users = manifest["counts"][scoring.USERS_WRITTEN]
  return {"seconds": round(seconds, 2),
          "cpu_seconds": round(_cpu_seconds() - cpu, 1), "users": users,
          "users_per_second": round(users / seconds, 1)}


def synthetic_log(data_dir: str, users: int) -> str:
  """The events of a synthetic log of ``users`` users (seed 0, CSV), made
  in ``data_dir`` unless there already."""
  output = os.path.join(data_dir, f"users_{users}")
  path = os.path.join(output, "events.csv")
  if not os.path.exists(path):
    synthetic.generate(synthetic.SyntheticConfig(output=output, users=users))
  return path


def read_histories(input_pattern: str, max_seq_len: int,
                   max_users: int) -> List[inference.History]:
  """The last events of up to ``max_users`` users of a clean event log."""
  file_format = rows.infer_format(input_pattern)
  frame = pd.concat([_READERS[file_format](path)
                     for path in input_files.match_files(input_pattern)])
  frame[schema.RAW_TIMESTAMP] = [timestamps.parse_timestamp(value) for value
                                 in frame[schema.RAW_TIMESTAMP]]
  histories = []
  for _, user_events in frame.groupby(schema.RAW_USER_ID, sort=True):
    events = sorted(zip(user_events[schema.RAW_TIMESTAMP],
                        user_events[schema.RAW_EVENT_TYPE],
                        user_events[schema.RAW_ITEM_ID].fillna(""),
                        user_events[schema.RAW_ADVERTISER_ID]))
    histories.append(events[-max_seq_len:])
    if len(histories) == max_users:
      break
  return histories


def time_model(info: inference.ModelInfo,
               histories: List[inference.History], batch_size: int,
               repeats: int) -> Dict[str, float]:
  """Users per second of the model calls alone, in batches of batch_size,
  and their CPU time per user (this process, TensorFlow's threads included:
  what a call costs, however loaded the machine)."""
  model = inference.LoadedModel(info)
  batches = [histories[i:i + batch_size]
             for i in range(0, len(histories), batch_size)]
  cpu_seconds = []

  def score_all():
    cpu = _cpu_seconds()
    for batch in batches:
      model(batch)
    cpu_seconds.append(_cpu_seconds() - cpu)

  seconds = common.median(common.timings(score_all, repeats, warmup=1))
  cpu_per_user = common.median(cpu_seconds[1:]) / len(histories)
  return {"batch_size": batch_size, "users": len(histories),
          "median_seconds": round(seconds, 3),
          "users_per_second": round(len(histories) / seconds, 1),
          "cpu_ms_per_user": round(1000 * cpu_per_user, 3)}


def _summary(mode_runs: List[Dict[str, float]], batch_size: int
             ) -> Dict[str, float]:
  """The run of median wall time of a mode, and its speed."""
  run = sorted(mode_runs, key=lambda r: r["seconds"])[(len(mode_runs) - 1)
                                                       // 2]
  return {"batch_size": batch_size, "users": run["users"],
          "median_seconds": run["seconds"],
          "cpu_seconds": run["cpu_seconds"],
          "users_per_second": round(run["users"] / run["seconds"], 1)}


def _inputs(args: argparse.Namespace, work_dir: str) -> List[Tuple[str, str]]:
  """(name, file pattern) of each input to run on."""
  inputs = [(args.input, args.input)] if args.input else []
  sizes = args.users
  if args.quick:
    sizes = [] if inputs else [QUICK_USERS]
  data_dir = args.data_dir or os.path.join(work_dir, "data")
  inputs += [(f"{users:,} users (synthetic)", synthetic_log(data_dir, users))
             for users in sizes]
  if not inputs:
    raise ValueError("Nothing to run on: pass --input or --users.")
  return inputs


def _users_list(text: str) -> List[int]:
  return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Optional[Sequence[str]] = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", required=True,
                      help="A version directory written by export.savedmodel.")
  parser.add_argument("--input", default=None,
                      help="File pattern of raw events, run on first.")
  parser.add_argument("--users", type=_users_list, default=[50000],
                      help="Comma-separated sizes of synthetic logs to run "
                      "on, in users; '' for none.")
  parser.add_argument("--data_dir", default=None,
                      help="Where the synthetic logs are kept between runs; "
                      "default: a temporary directory.")
  parser.add_argument("--batch_size", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--model_only_users", type=int, default=2000,
                      help="Users whose model calls are timed alone.")
  parser.add_argument("--quick", action="store_true",
                      help="One repeat (a smoke run of the benchmark).")
  common.add_results_dir_flag(parser)
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.WARNING)
  repeats = 1 if args.quick else args.repeats
  info = inference.ModelInfo.read(args.model)

  sizes = {"batched": args.batch_size, "one_at_a_time": 1}
  per_input = []
  with tempfile.TemporaryDirectory() as work_dir:
    inputs = _inputs(args, work_dir)
    for name, pattern in inputs:
      runs = {mode: [] for mode in sizes}
      for repeat in range(repeats):
        for mode, batch_size in sizes.items():
          run = run_once(args.model, pattern, batch_size,
                         os.path.join(work_dir, mode))
          print(f"{name} repeat {repeat + 1}/{repeats} {mode} "
                f"(batch {batch_size}): {run}")
          runs[mode].append(run)
      summary = {mode: _summary(mode_runs, sizes[mode])
                 for mode, mode_runs in runs.items()}
      per_input.append({
          "input": name, "bytes": input_files.total_bytes(pattern), "runs": runs,
          "summary": summary,
          "batched_over_one_at_a_time": round(
              summary["batched"]["users_per_second"]
              / summary["one_at_a_time"]["users_per_second"], 2)})
    histories = read_histories(inputs[0][1], info.max_seq_len,
                               500 if args.quick else args.model_only_users)
  model_only = {mode: time_model(info, histories, batch_size, repeats)
                for mode, batch_size in sizes.items()}
  model_ratio = round(model_only["batched"]["users_per_second"]
                      / model_only["one_at_a_time"]["users_per_second"], 2)
  machine = common.machine()
  results = {
      "machine": machine,
      "runner": "DirectRunner (the command's default options)",
      "model": {"version": info.version, "index": info.index, "k": info.k,
                "max_seq_len": info.max_seq_len},
      "repeats": repeats,
      "inputs": per_input,
      "model_only": model_only,
      "model_only_batched_over_one_at_a_time": model_ratio,
  }
  header = ["mode", "batch size", "users", "seconds", "CPU seconds",
            "users/s"]
  parts = [
      "# Batch candidates: users per second (DirectRunner)",
      "",
      f"Machine: {common.machine_line(machine)}. Model: {info.index}, "
      f"k={info.k}, max_seq_len={info.max_seq_len}. End to end, the run of "
      f"median wall time of {repeats}, batched and one at a time "
      "interleaved; CPU seconds: the launching and the worker processes.",
  ]
  for entry in per_input:
    parts += [
        "",
        f"{entry['input']}, {entry['bytes'] / 2**20:.0f} MiB:",
        "",
        common.markdown_table(header, [
            [mode, s["batch_size"], s["users"], s["median_seconds"],
             s["cpu_seconds"], s["users_per_second"]]
            for mode, s in entry["summary"].items()]),
        "",
        f"Batched over one at a time: **{entry['batched_over_one_at_a_time']}"
        "x** end to end.",
    ]
  parts += [
      "",
      f"The model calls alone ({len(histories)} users' histories, no Beam):",
      "",
      common.markdown_table(
          ["mode", "batch size", "users", "seconds", "users/s",
           "CPU ms/user"],
          [[mode, s["batch_size"], s["users"], s["median_seconds"],
            s["users_per_second"], s["cpu_ms_per_user"]]
           for mode, s in model_only.items()]),
      "",
      f"Batched over one at a time: **{model_ratio}x** for the model calls.",
  ]
  markdown = "\n".join(parts)
  path = common.write_results(args.results_dir, "batch", results, markdown)
  print(markdown)
  print(f"Wrote {path}")
  return results


if __name__ == "__main__":
  main()

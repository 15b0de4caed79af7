"""Batch candidates benchmark: users per second, batched vs one at a time.

    python -m benchmarks.batch_bench --model serving/adcg/<version> \\
        --input 'events/*.csv' [--batch_size 256] [--quick]

Runs the whole ``beam.batch_candidates`` pipeline on the DirectRunner twice
per repeat, in the same process and on the same input: with model batches of
``--batch_size`` users and with batches of one user (one model call per
user). Reports users written per second of wall time, end to end (reading,
deduplicating and combining included), and their ratio. For context it also
times the model calls alone (``beam.inference``, no Beam) on the same users'
histories, batched and one at a time. Writes results/batch.{json,md}.
"""

import argparse
import logging
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import pandas as pd

from beam import batch_candidates  # Imports tfrs_adcg before TensorFlow.
from beam import inference
from beam import input_files
from beam import rows
from benchmarks import common
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_READERS = {rows.CSV: lambda path: pd.read_csv(path, dtype=str,
                                               keep_default_na=False),
            rows.JSONL: lambda path: pd.read_json(path, lines=True, dtype=str),
            rows.PARQUET: pd.read_parquet}


def run_once(model: str, input_pattern: str, batch_size: int,
             output: str) -> Dict[str, float]:
  """One pipeline run; its wall-clock seconds and users written."""
  started = time.perf_counter()
  manifest = batch_candidates.main([
      "--input", input_pattern, "--model", model, "--output", output,
      "--batch_size", str(batch_size), "--overwrite"])
  seconds = time.perf_counter() - started
  users = manifest["counts"][batch_candidates.USERS_WRITTEN]
  return {"seconds": round(seconds, 2), "users": users,
          "users_per_second": round(users / seconds, 1)}


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
  """Users per second of the model calls alone, in batches of batch_size."""
  model = inference.LoadedModel(info)
  batches = [histories[i:i + batch_size]
             for i in range(0, len(histories), batch_size)]

  def score_all():
    for batch in batches:
      model(batch)

  seconds = common.median(common.timings(score_all, repeats, warmup=1))
  return {"batch_size": batch_size, "users": len(histories),
          "median_seconds": round(seconds, 3),
          "users_per_second": round(len(histories) / seconds, 1)}


def main(argv: Optional[Sequence[str]] = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", required=True,
                      help="A version directory written by export.savedmodel.")
  parser.add_argument("--input", required=True,
                      help="File pattern of raw events.")
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
  runs = {mode: [] for mode in sizes}
  with tempfile.TemporaryDirectory() as work_dir:
    for repeat in range(repeats):
      for mode, batch_size in sizes.items():
        run = run_once(args.model, args.input, batch_size,
                       os.path.join(work_dir, mode))
        print(f"repeat {repeat + 1}/{repeats} {mode} (batch {batch_size}): "
              f"{run}")
        runs[mode].append(run)

  summary = {}
  for mode, mode_runs in runs.items():
    seconds = common.median([run["seconds"] for run in mode_runs])
    users = mode_runs[0]["users"]
    summary[mode] = {"batch_size": sizes[mode], "users": users,
                     "median_seconds": round(seconds, 2),
                     "users_per_second": round(users / seconds, 1)}
  ratio = round(summary["batched"]["users_per_second"]
                / summary["one_at_a_time"]["users_per_second"], 2)

  histories = read_histories(args.input, info.max_seq_len,
                             500 if args.quick else args.model_only_users)
  model_only = {mode: time_model(info, histories, batch_size, repeats)
                for mode, batch_size in sizes.items()}
  model_ratio = round(model_only["batched"]["users_per_second"]
                      / model_only["one_at_a_time"]["users_per_second"], 2)
  machine = common.machine()
  results = {
      "machine": machine,
      "runner": "DirectRunner (default options)",
      "model": {"version": info.version, "index": info.index, "k": info.k,
                "max_seq_len": info.max_seq_len},
      "input": args.input,
      "repeats": repeats,
      "runs": runs,
      "summary": summary,
      "batched_over_one_at_a_time": ratio,
      "model_only": model_only,
      "model_only_batched_over_one_at_a_time": model_ratio,
  }
  rows = [[mode, s["batch_size"], s["users"], s["median_seconds"],
           s["users_per_second"]] for mode, s in summary.items()]
  markdown = "\n".join([
      "# Batch candidates: users per second (DirectRunner)",
      "",
      f"Machine: {common.machine_line(machine)}. Model: {info.index}, "
      f"k={info.k}, max_seq_len={info.max_seq_len}. End to end, median of "
      f"{repeats} run(s).",
      "",
      common.markdown_table(
          ["mode", "batch size", "users", "seconds", "users/s"], rows),
      "",
      f"Batched over one at a time: **{ratio}x** end to end.",
      "",
      f"The model calls alone ({len(histories)} users' histories, no Beam):",
      "",
      common.markdown_table(
          ["mode", "batch size", "users", "seconds", "users/s"],
          [[mode, s["batch_size"], s["users"], s["median_seconds"],
            s["users_per_second"]] for mode, s in model_only.items()]),
      "",
      f"Batched over one at a time: **{model_ratio}x** for the model calls.",
  ])
  path = common.write_results(args.results_dir, "batch", results,
                              markdown)
  print(markdown)
  print(f"Wrote {path}")
  return results


if __name__ == "__main__":
  main()

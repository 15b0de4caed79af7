"""Training benchmark: throughput by sequence length, and what log-Q buys.

    python -m benchmarks.train_bench [--quick] [--data DIR]

1. Throughput: training pairs per second of ``model.fit`` (the training
   path, input pipeline included) at ``max_seq_len`` 50, 100 and 200 with the
   default model, after a warm-up epoch that traces the step; each length in
   a fresh process, whose peak resident memory is reported.
2. Quality: the default training run with and without the log-Q correction
   (``--no_logq``) on the same data; Recall@10/50/100 and NDCG@10 of both and
   of the baselines, and the training time.

Without ``--data`` it generates the default synthetic log (``--quick``: a
small one) and preprocesses it with histories of 200 events. Writes
results/train.{json,md}.
"""

import argparse
import multiprocessing
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from benchmarks import common
from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import train
from tfrs_adcg import vocabulary
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model import RetrievalModel

SEQUENCE_LENGTHS = (50, 100, 200)
NAME = "train"


def prepare_data(workdir: str, quick: bool) -> str:
  """Synthetic events through beam.preprocess; returns the data dir."""
  # Imported here: the throughput processes import this module, not Beam.
  from beam import preprocess  # pylint: disable=g-import-not-at-top

  raw = os.path.join(workdir, "raw")
  size = (["--users", "1000", "--advertisers", "100", "--days", "30"]
          if quick else [])
  synthetic.main(["--output", raw, "--format", "csv"] + size)
  data_dir = os.path.join(workdir, "data")
  preprocess.main([
      "--input", os.path.join(raw, "events.csv"),
      "--advertiser_catalog", os.path.join(raw, "advertisers.csv"),
      "--output", data_dir, "--max_seq_len", str(max(SEQUENCE_LENGTHS))])
  return data_dir


def _throughput(data_dir: str, max_seq_len: int, steps: int,
                results: "multiprocessing.Queue") -> None:
  """In a fresh process: pairs/s of ``steps`` training steps, and peak RSS."""
  config = TrainConfig(data=data_dir, model_dir="", max_seq_len=max_seq_len)
  tf.keras.utils.set_random_seed(config.seed)
  model = RetrievalModel(config, vocabulary.read_vocabularies(data_dir))
  model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  dataset = data.training_dataset(
      data.shard_paths(data_dir, schema.TRAIN), config.batch_size,
      max_seq_len, config.shuffle_buffer, config.seed)
  model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # Traces.
  started = time.perf_counter()
  model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
  seconds = time.perf_counter() - started
  results.put({
      "max_seq_len": max_seq_len,
      "batch_size": config.batch_size,
      "steps": steps,
      "examples_per_second": round(steps * config.batch_size / seconds, 1),
      "step_ms": round(1000 * seconds / steps, 1),
      "peak_rss_mib": round(common.peak_rss_mib(), 1),
  })


def measure_throughput(data_dir: str, steps: int) -> List[Dict]:
  context = multiprocessing.get_context("spawn")
  rows = []
  for max_seq_len in SEQUENCE_LENGTHS:
    queue = context.Queue()
    process = context.Process(target=_throughput,
                              args=(data_dir, max_seq_len, steps, queue))
    process.start()
    rows.append(queue.get())
    process.join()
    print(f"max_seq_len {max_seq_len}: {rows[-1]}", flush=True)
  return rows


def measure_logq(data_dir: str, workdir: str, quick: bool) -> Dict:
  """The default run with and without log-Q; metrics and seconds of each."""
  common_flags = ["--data", data_dir]
  if quick:
    common_flags += ["--epochs", "2", "--steps_per_epoch", "20"]
  runs = {}
  for name, flags in (("logq", []), ("no_logq", ["--no_logq"])):
    started = time.perf_counter()
    result = train.main(common_flags + flags + [
        "--model_dir", os.path.join(workdir, name)])
    runs[name] = {"metrics": result.metrics,
                  "train_seconds": round(time.perf_counter() - started, 1),
                  "epochs": result.epochs_done}
  return runs


def markdown(results: Dict) -> str:
  lines = [
      "# Training benchmark", "",
      f"Machine: {common.machine_line(results['machine'])}.", "",
      f"Data: {results['data']['train_pairs']} training pairs, "
      f"{results['data']['eval_examples']} eval users, "
      f"{results['data']['candidates']} candidates"
      f"{' (quick mode)' if results['quick'] else ''}.", "",
      "## Throughput (default model, `model.fit` with its input pipeline)", "",
      common.markdown_table(
          ["max_seq_len", "batch", "training pairs/s", "ms/step",
           "peak RSS MiB"],
          [[r["max_seq_len"], r["batch_size"], r["examples_per_second"],
            r["step_ms"], r["peak_rss_mib"]] for r in results["throughput"]]),
      "", "## Log-Q correction on and off (eval split, exact ranking)", "",
  ]
  rows = []
  logq = results["logq"]
  for run in ("logq", "no_logq"):
    run_metrics = logq[run]["metrics"]
    rows.append([f"model, {run.replace('_', ' ')}"] +
                [f"{run_metrics['model'][m]:.4f}" for m in metrics.METRIC_NAMES] +
                [logq[run]["train_seconds"]])
  for baseline in ("popularity", "last_advertiser"):
    baseline_metrics = logq["logq"]["metrics"][baseline]
    rows.append([baseline] + [f"{baseline_metrics[m]:.4f}"
                              for m in metrics.METRIC_NAMES] + [""])
  lines.append(common.markdown_table(
      ["ranker"] + list(metrics.METRIC_NAMES) + ["train s"], rows))
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="Small data, few steps: a smoke run.")
  common.add_results_dir_flag(parser)
  parser.add_argument("--data", help="A preprocessed data dir with histories "
                      "of at least 200 events; default: generate one.")
  args = parser.parse_args(argv)

  with tempfile.TemporaryDirectory(prefix="train_bench") as workdir:
    data_dir = args.data or prepare_data(workdir, args.quick)
    manifest = schema.read_manifest(data_dir)
    vocabularies = vocabulary.read_vocabularies(data_dir)
    results = {
        "machine": common.machine(),
        "quick": args.quick,
        "data": {
            "train_pairs": sum(vocabularies.positives.values()),
            "eval_examples": manifest["counts"]["examples"][schema.EVAL],
            "candidates": len(vocabularies.candidate_ids()),
        },
        "throughput": measure_throughput(data_dir,
                                         steps=10 if args.quick else 50),
        "logq": measure_logq(data_dir, workdir, args.quick),
    }
  path = common.write_results(args.results_dir, NAME, results,
                              markdown(results))
  print(open(path, encoding="utf-8").read())
  return results


if __name__ == "__main__":
  main()

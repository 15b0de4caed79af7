"""Training benchmark: throughput of ``model.fit`` per training setting.

    python -m benchmarks.train_bench [--quick] [--data DIR]

Steps per second of ``model.fit`` (the training path, input pipeline
included) after a warm-up that traces the step, each setting in a fresh
process whose peak resident memory is reported. Settings, all at
``max_seq_len`` 50 and ``embedding_dim`` 64: the defaults; one user vector
with two layers (the shape of a SASRec); and the dense objective with two
layers. The pooled objective trains on ``batch_size`` (history, positive)
pairs a step; the dense one encodes ``batch_size`` histories and scores up
to ``batch_size`` of their positions, so both its histories/s and the
positions it encodes per second (the real events of those histories) are
reported.

Without ``--data`` it generates the default synthetic log (``--quick``: a
small one) and preprocesses it. Writes results/train.{json,md}.
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
from tfrs_adcg import run_config
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import training
from tfrs_adcg import vocabulary
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model import build
from tfrs_adcg.model_spec import DENSE

MAX_SEQ_LEN = 50
# (name, training flags over the defaults) of each measured setting.
SETTINGS = (
    ("defaults", {}),
    ("--num_user_vectors 1 --num_layers 2",
     {"num_user_vectors": 1, "num_layers": 2}),
    ("--objective dense --num_layers 2",
     {"objective": "dense", "num_user_vectors": 1, "num_layers": 2}),
)
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
  preprocess.run([
      "--input", os.path.join(raw, "events.csv"),
      "--advertiser_catalog", os.path.join(raw, "advertisers.csv"),
      "--output", data_dir, "--max_seq_len", str(MAX_SEQ_LEN)])
  return data_dir


def _throughput(data_dir: str, name: str, overrides: Dict, steps: int,
                results: "multiprocessing.Queue") -> None:
  """In a fresh process: the throughput of ``steps`` steps, and peak RSS."""
  manifest = schema.read_manifest(data_dir)
  # Resolved as training resolves it: the task's defaults included.
  config = run_config.resolve_config(
      TrainConfig(data=data_dir, model_dir="", max_seq_len=MAX_SEQ_LEN,
                  **overrides), manifest)
  tf.keras.utils.set_random_seed(config.seed)
  model = build(config.model_spec(), vocabulary.read_vocabularies(data_dir))
  model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  dataset = training.training_dataset(config, manifest)
  model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # Traces.
  # The real events of the measured batches: fit reads the stream anew.
  events = sum(int(tf.reduce_sum(tf.cast(
      batch[0][schema.ADVERTISER_ID] != schema.STRING_PAD, tf.int64)))
               for batch in dataset.take(steps))
  started = time.perf_counter()
  model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
  seconds = time.perf_counter() - started
  rows = steps * config.batch_size
  results.put({
      "setting": name,
      "objective": config.objective,
      "batch_size": config.batch_size,
      "steps": steps,
      "pairs_per_second": (None if config.objective == DENSE
                           else round(rows / seconds, 1)),
      "histories_per_second": round(rows / seconds, 1),
      "positions_per_second": round(events / seconds, 1),
      "step_ms": round(1000 * seconds / steps, 1),
      "peak_rss_mib": round(common.peak_rss_mib(), 1),
  })


def measure_throughput(data_dir: str, steps: int) -> List[Dict]:
  context = multiprocessing.get_context("spawn")
  rows = []
  for name, overrides in SETTINGS:
    queue = context.Queue()
    process = context.Process(target=_throughput,
                              args=(data_dir, name, overrides, steps, queue))
    process.start()
    rows.append(queue.get())
    process.join()
    print(f"{name}: {rows[-1]}", flush=True)
  return rows


def markdown(results: Dict) -> str:
  rows = [[f"`{r['setting']}`" if r["setting"] != "defaults"
           else "defaults", r["batch_size"],
           "" if r["pairs_per_second"] is None else r["pairs_per_second"],
           r["histories_per_second"], r["positions_per_second"], r["step_ms"],
           r["peak_rss_mib"]] for r in results["throughput"]]
  return "\n".join([
      "# Training benchmark", "",
      f"Machine: {common.machine_line(results['machine'])}; load average "
      f"before the run {results['load_average']}.", "",
      f"Data: {results['data']['train_pairs']} training pairs, "
      f"{results['data']['candidates']} candidates"
      f"{' (quick mode)' if results['quick'] else ''}. max_seq_len "
      f"{MAX_SEQ_LEN}, embedding_dim 64, `model.fit` with its input "
      "pipeline. Positions/s: real events of the histories encoded per "
      "second.", "",
      common.markdown_table(
          ["setting", "batch", "pairs/s", "histories/s", "positions/s",
           "ms/step", "peak RSS MiB"], rows),
  ])


def main(argv: Optional[Sequence[str]] = None) -> Dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="Small data, few steps: a smoke run.")
  common.add_results_dir_flag(parser)
  parser.add_argument("--data", help="A preprocessed data dir with histories "
                      f"of at least {MAX_SEQ_LEN} events; default: generate "
                      "one.")
  args = parser.parse_args(argv)

  with tempfile.TemporaryDirectory(prefix="train_bench") as workdir:
    data_dir = args.data or prepare_data(workdir, args.quick)
    vocabularies = vocabulary.read_vocabularies(data_dir)
    results = {
        "machine": common.machine(),
        "load_average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "quick": args.quick,
        "data": {
            "train_pairs": sum(vocabularies.positives.values()),
            "candidates": len(vocabularies.candidate_ids()),
        },
        "throughput": measure_throughput(data_dir,
                                         steps=10 if args.quick else 50),
    }
  path = common.write_results(args.results_dir, NAME, results,
                              markdown(results))
  print(open(path, encoding="utf-8").read())
  return results


if __name__ == "__main__":
  main()

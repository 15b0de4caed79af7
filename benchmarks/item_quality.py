"""Item-level retrieval quality: the item model beside the item baselines.

    python -m benchmarks.item_quality [--quick] [--workdir DIR]
        [--results_dir DIR]

1. Data: ``tfrs_adcg.synthetic`` with an item catalog of pretrained vectors
   and a tenth of the items launched after the eval cutoff (cold start),
   through ``beam.preprocess --task item``.
2. Signal: how often an item's nearest pretrained neighbour among other
   advertisers' items is of its product kind, beside the chance that two
   items of one category are: what a content encoder's vectors tell.
3. Three ``tfrs_adcg.train`` runs, the defaults, ``--no_pretrained`` and
   ``--num_repeat_vectors 0``, each choosing its epoch on valid and reading
   eval once: the model against ``last_advertiser_expanded`` and
   popularity at Recall@10/50/100, and the cold-start Recall@100 with and
   without the pretrained vectors.

Writes results/item_quality.{json,md}.
"""

import argparse
import logging
import os
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)

from benchmarks import common
from benchmarks import quality
from tfrs_adcg import baselines
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import synthetic

ITEM_QUALITY = "item_quality"
SYNTHETIC_FLAGS = ("--format", "parquet", "--seed", "7",
                   "--item_embedding_dim", "32", "--cold_start_fraction", "0.1")
QUICK_SYNTHETIC_FLAGS = ("--users", "600", "--advertisers", "40",
                         "--items", "400", "--days", "42")
QUICK_TRAIN_FLAGS: quality.Flags = {
    "--epochs": "2", "--steps_per_epoch": "10", "--batch_size": "64",
    "--embedding_dim": "32"}
# Rankers of the table, as metrics.json names them.
RANKERS = ("model", baselines.LAST_ADVERTISER_EXPANDED, baselines.POPULARITY)
PRETRAINED = "pretrained"
NO_PRETRAINED = "no_pretrained"
NO_REPEAT_VECTORS = "no_repeat_vectors"
# Each run's name, flags over the defaults and table label.
RUNS = ((PRETRAINED, {}, "item model"),
        (NO_PRETRAINED, {"--no_pretrained": None},
         "item model, `--no_pretrained`"),
        (NO_REPEAT_VECTORS, {"--num_repeat_vectors": "0"},
         "item model, `--num_repeat_vectors 0`"))
COLD_START_RECALL = f"{metrics.COLD_START_PREFIX}recall@{metrics.MAX_K}"

_BLOCK = 1024  # Rows of the item-by-item cosine matrix computed at a time.


def kind_signal(embeddings: np.ndarray, kinds: Sequence[str],
                advertisers: Sequence[str]) -> Dict[str, float]:
  """What pretrained vectors say of an item's product kind.

  Args:
    embeddings: [N, E] pretrained vectors.
    kinds: [N] product kinds, ``<category>/<j>``.
    advertisers: [N] advertisers.

  Returns:
    ``nearest_same_kind``: the share of items whose nearest neighbour by
    cosine among other advertisers' items is of its kind;
    ``chance_same_kind``: the share of pairs of one category's items (of
    two advertisers) that are of one kind.
  """
  vectors = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
  kinds = np.asarray(kinds)
  advertisers = np.asarray(advertisers)
  categories = np.array([kind.split("/")[0] for kind in kinds])
  same_kind = same_category = hits = 0
  for start in range(0, len(vectors), _BLOCK):
    rows = slice(start, start + _BLOCK)
    cosine = vectors[rows] @ vectors.T
    elsewhere = advertisers[rows, None] != advertisers[None, :]
    cosine[~elsewhere] = -np.inf
    hits += np.sum(kinds[cosine.argmax(axis=1)] == kinds[rows])
    pairs = elsewhere & (categories[rows, None] == categories[None, :])
    same_category += pairs.sum()
    same_kind += (pairs & (kinds[rows, None] == kinds[None, :])).sum()
  return {"nearest_same_kind": float(hits / len(vectors)),
          "chance_same_kind": float(same_kind / same_category)}


def generate_items(raw_dir: str, quick: bool) -> Dict[str, float]:
  """The synthetic log and item catalog; returns the catalog's kind signal."""
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  summary = synthetic.main(["--output", raw_dir, *SYNTHETIC_FLAGS,
                            *(QUICK_SYNTHETIC_FLAGS if quick else ())])
  items = pq.read_table(summary["paths"][synthetic.ITEMS]).to_pydict()
  return kind_signal(np.array(items[schema.CATALOG_EMBEDDING], np.float32),
                     summary["item_kinds"],
                     items[schema.CATALOG_ADVERTISER_ID])


def preprocess_items(raw_dir: str, output: str) -> str:
  """``raw_dir`` through beam.preprocess --task item; returns ``output``."""
  from beam import preprocess  # pylint: disable=g-import-not-at-top

  preprocess.run(["--input", os.path.join(raw_dir, "events.parquet"),
                   "--output", output, "--task", schema.ITEM_TASK])
  return output


def measure(workdir: str, quick: bool = False) -> Dict:
  """Every measurement of the module docstring."""
  raw = os.path.join(workdir, "raw")
  signal = generate_items(raw, quick)
  data = preprocess_items(raw, os.path.join(workdir, "data"))
  trainer = quality.Trainer(
      data, os.path.join(workdir, "models"),
      {**(QUICK_TRAIN_FLAGS if quick else {}),
       "--item_catalog": os.path.join(raw, "items.parquet")})
  runs = {name: trainer.run(flags) for name, flags, _ in RUNS}
  return {
      "machine": common.machine(),
      "data": quality.describe_data(data),
      "kind_signal": signal,
      "runs": {name: {key: value for key, value in run.items()
                      if key != "model_dir"}
               for name, run in runs.items()},
      "cold_start_recall@100_ratio": (
          runs[PRETRAINED][schema.EVAL]["model"][COLD_START_RECALL] /
          runs[NO_PRETRAINED][schema.EVAL]["model"][COLD_START_RECALL]),
  }


def _cells(values: Dict[str, float]) -> list:
  return [f"{values[f'recall@{k}']:.4f}" for k in metrics.RECALL_KS] + [
      f"{values[COLD_START_RECALL]:.4f}"]


def markdown(results: Dict) -> str:
  """The item quality section of the report."""
  data, signal = results["data"], results["kind_signal"]
  header = (["ranker", "split"] +
            [f"Recall@{k}" for k in metrics.RECALL_KS] +
            ["cold-start Recall@100", "best epoch"])
  rows = []
  for name, _, label in RUNS:
    run = results["runs"][name]
    for split in quality.SPLITS:
      rows.append([label, split] + _cells(run[split]["model"]) +
                  [run["best_epoch"]])
  baselines = results["runs"][PRETRAINED][schema.EVAL]
  for ranker in RANKERS[1:]:
    rows.append([ranker.replace("_", " "), schema.EVAL] +
                _cells(baselines[ranker]) + ["-"])
  return "\n".join([
      "# Item retrieval quality", "",
      f"Machine: {common.machine_line(results['machine'])}. Synthetic item "
      f"log ({' '.join(SYNTHETIC_FLAGS)}): {data['train_pairs']:,} training "
      f"pairs, {data['valid_users']:,} valid and {data['eval_users']:,} "
      "eval users; every item of the catalog is ranked, exactly, cold-start"
      " items (never a training positive) included. Each run chose its "
      "epoch on valid and read eval once.", "",
      common.markdown_table(header, rows), "",
      "Cold-start Recall@100 with the pretrained vectors is "
      f"{results['cold_start_recall@100_ratio']:.2f}x the one without (eval)."
      " The vectors carry the product kind: an item's nearest neighbour "
      "among other advertisers' items is of its kind for "
      f"{signal['nearest_same_kind']:.0%} of the items, where two items of "
      f"a category are of one kind {signal['chance_same_kind']:.0%} of the "
      "time.",
  ])


def write(results: Dict, results_dir: str) -> str:
  """results_dir/item_quality.{json,md}."""
  return common.write_results(results_dir, ITEM_QUALITY, results,
                              markdown(results))


def main(argv: Optional[Sequence[str]] = None) -> Dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="A small log and two short epochs per run.")
  parser.add_argument("--workdir", default=None,
                      help="Data and models (default: a temp dir).")
  common.add_results_dir_flag(parser)
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  workdir = args.workdir or tempfile.mkdtemp(prefix="item_bench_")
  results = measure(workdir, args.quick)
  print(open(write(results, args.results_dir), encoding="utf-8").read())
  return results


if __name__ == "__main__":
  main()

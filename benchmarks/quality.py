"""Retrieval quality: every choice made on valid, the eval split read once.

Each point is a ``tfrs_adcg.train`` run, which picks its epoch on the valid
split and then evaluates that epoch on the eval split, once. The report
shows both: valid is what every default was chosen on, eval is the
unbiased figure.

1. Seeds: the default model trained with several seeds on the time split,
   beside the popularity and last-advertiser baselines, with the ratios of
   the model's recall and NDCG to the strongest baseline's.
2. Ablations: the training objective and the negatives (``--objective``,
   ``--negatives``), one user vector against several, no repeat vectors,
   log-Q off, the learning-rate schedule; each with its best epoch and the wall time to it.
3. Leave-last-out, the sequential-recommendation literature's protocol:
   each user's last conversion is the test target, the one before it the
   valid target; one target per user, ranked against every candidate with
   nothing masked.
"""

import dataclasses
import logging
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks import common
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import train
from tfrs_adcg import training
from tfrs_adcg import vocabulary

QUALITY = "quality"
SPLITS = (schema.VALID, schema.EVAL)

Flags = Dict[str, Optional[str]]  # Flag to value; None: a switch.

# (name, flags over the defaults) of each ablation, the defaults first.
ABLATIONS: Tuple[Tuple[str, Flags], ...] = (
    ("defaults", {}),
    ("--negatives mixed", {"--negatives": "mixed"}),
    ("--negatives full", {"--negatives": "full"}),
    ("--num_user_vectors 1", {"--num_user_vectors": "1"}),
    ("--num_repeat_vectors 0", {"--num_repeat_vectors": "0"}),
    ("--objective dense", {"--objective": "dense", "--num_user_vectors": "1"}),
    ("--objective dense --negatives mixed",
     {"--objective": "dense", "--num_user_vectors": "1",
      "--negatives": "mixed"}),
    ("--objective dense --negatives full",
     {"--objective": "dense", "--num_user_vectors": "1",
      "--negatives": "full"}),
    ("--no_logq", {"--no_logq": None}),
    ("--learning_rate_schedule constant --patience 2",
     {"--learning_rate_schedule": "constant", "--patience": "2"}),
    ("--learning_rate_schedule warmup_cosine --epochs 10",
     {"--learning_rate_schedule": "warmup_cosine", "--epochs": "10"}),
)


def describe_data(data_dir: str) -> Dict[str, int]:
  """Training pairs, valid and eval users, candidates of a data dir."""
  manifest = schema.read_manifest(data_dir)
  vocabularies = vocabulary.read_vocabularies(data_dir)
  examples = manifest["counts"]["examples"]
  return {"train_pairs": sum(vocabularies.positives.values()),
          "valid_users": examples[schema.VALID],
          "eval_users": examples[schema.EVAL],
          "candidates": len(vocabularies.candidate_ids())}


class Trainer:
  """Trains one model per distinct setting on one data dir, and remembers it.

  Args:
    data_dir: A preprocessed data dir.
    models_dir: Each run's model dir is made under it.
    base_flags: Flags of every run; a run's overrides replace them.
  """

  def __init__(self, data_dir: str, models_dir: str, base_flags: Flags):
    self._data_dir = data_dir
    self._models_dir = models_dir
    self._base_flags = dict(base_flags)
    self._runs: Dict[Tuple, Dict] = {}

  def run(self, overrides: Optional[Flags] = None) -> Dict:
    """The valid and eval metrics, best epoch and seconds of a run."""
    flags = {**self._base_flags, **(overrides or {})}
    argv = ["--data", self._data_dir]
    for flag, value in flags.items():
      argv += [flag] if value is None else [flag, value]
    # Flags spelling out a default train the same model as leaving them out.
    key = dataclasses.astuple(train.parse_args(argv + ["--model_dir", ""]))
    if key not in self._runs:
      model_dir = os.path.join(self._models_dir, f"run{len(self._runs)}")
      logging.info("Training %s", " ".join(argv))
      started = time.perf_counter()
      result = train.main(argv + ["--model_dir", model_dir])
      seconds = time.perf_counter() - started
      written = training.read_metrics(model_dir)
      self._runs[key] = {
          "flags": flags,
          "model_dir": model_dir,
          schema.VALID: written[schema.VALID],
          schema.EVAL: written[schema.EVAL],
          "best_epoch": written[training.BEST_EPOCH],
          "epochs": result.epochs_done,
          "train_seconds": round(seconds, 1),
          # Epochs take equal time, validation included.
          "seconds_to_best": round(
              seconds * written[training.BEST_EPOCH] / result.epochs_done, 1),
      }
    return self._runs[key]


def ratios(split_metrics: Dict[str, Dict[str, float]]) -> Dict[str, float]:
  """The model's R@10 and NDCG@10 over last advertiser's, R@100 over
  popularity's: the figures the quality bars are set on."""
  model = split_metrics["model"]
  last = split_metrics["last_advertiser"]
  popular = split_metrics["popularity"]
  return {
      "recall@10 / last_advertiser": model["recall@10"] / last["recall@10"],
      "ndcg@10 / last_advertiser": model["ndcg@10"] / last["ndcg@10"],
      "recall@100 / popularity": model["recall@100"] / popular["recall@100"],
  }


def measure(time_data: str, leave_last_out_data: str, models_dir: str,
            train_flags: Flags, seeds: Sequence[int],
            ablations: Sequence[Tuple[str, Flags]] = ABLATIONS) -> Dict:
  """Every quality measurement; see the module docstring."""
  trainer = Trainer(time_data, os.path.join(models_dir, "time"), train_flags)
  seed_runs = [{"seed": seed, **trainer.run({"--seed": str(seed)})}
               for seed in seeds]
  ablations = [{"name": name, **trainer.run({"--seed": str(seeds[0]),
                                             **flags})}
               for name, flags in ablations]
  leave_last_out = Trainer(
      leave_last_out_data, os.path.join(models_dir, "leave_last_out"),
      train_flags).run({"--seed": str(seeds[0])})
  return {
      "machine": common.machine(),
      "data": {"time": describe_data(time_data),
               "leave_last_out": describe_data(leave_last_out_data)},
      "train_flags": train_flags,
      "seeds": [{**run, "ratios": {split: ratios(run[split])
                                   for split in SPLITS}}
                for run in seed_runs],
      "ablations": ablations,
      "leave_last_out": leave_last_out,
  }


def _cells(values: Dict[str, float],
           names: Sequence[str] = metrics.METRIC_NAMES) -> List[str]:
  return [f"{values[name]:.4f}" for name in names]


_SHORT = ("recall@10", "recall@100", "ndcg@10")


def _rankers_table(run: Dict) -> str:
  header = ["ranker"] + [f"{split} {name}" for split in SPLITS
                         for name in _SHORT]
  rows = [[ranker] + [cell for split in SPLITS
                      for cell in _cells(run[split][ranker], _SHORT)]
          for ranker in metrics.RANKERS]
  return common.markdown_table(header, rows)


def _seeds_table(seed_runs: List[Dict]) -> str:
  names = list(seed_runs[0]["ratios"][schema.EVAL])
  header = (["seed", "split"] + list(_SHORT)
            + ["last_advertiser recall@10", "last_advertiser ndcg@10",
               "popularity recall@100"] + names)
  rows = []
  for run in seed_runs:
    for split in SPLITS:
      baselines = run[split]
      rows.append(
          [run["seed"], split] + _cells(baselines["model"], _SHORT)
          + [f"{baselines['last_advertiser']['recall@10']:.4f}",
             f"{baselines['last_advertiser']['ndcg@10']:.4f}",
             f"{baselines['popularity']['recall@100']:.4f}"]
          + [f"{run['ratios'][split][name]:.2f}x" for name in names])
  return common.markdown_table(header, rows)


def _ablations_table(ablations: List[Dict]) -> str:
  header = (["training flags"] + [f"{split} {name}" for split in SPLITS
                                  for name in _SHORT]
            + ["best epoch", "s to best epoch"])
  rows = [[f"`{run['name']}`" if run["name"] != "defaults" else "defaults"]
          + [cell for split in SPLITS
             for cell in _cells(run[split]["model"], _SHORT)]
          + [f"{run['best_epoch']} of {run['epochs']}",
             run["seconds_to_best"]]
          for run in ablations]
  return common.markdown_table(header, rows)


def markdown(results: Dict) -> str:
  """The quality section of the report."""
  time_data = results["data"]["time"]
  llo = results["data"]["leave_last_out"]
  flags = " ".join(k if v is None else f"{k} {v}"
                   for k, v in results["train_flags"].items())
  return "\n".join([
      "# Retrieval quality", "",
      f"Machine: {common.machine_line(results['machine'])}. Synthetic data:"
      f" {time_data['train_pairs']:,} training pairs, "
      f"{time_data['valid_users']:,} valid and {time_data['eval_users']:,} "
      f"eval users, {time_data['candidates']:,} candidates. Training flags: "
      f"{flags or 'defaults'}. Each run chose its epoch on the valid split "
      "and read the eval split once, at the end; every default was chosen "
      "on valid. Metrics rank the whole corpus exactly: recall@K = |top K ∩"
      " positives| / |positives| and NDCG@10, averaged over users.", "",
      "## Time split: the defaults on several seeds", "",
      _seeds_table(results["seeds"]), "",
      "## Objectives, negatives and the rest, one at a time", "",
      "Each row changes the defaults by its flags (seed "
      f"{results['seeds'][0]['seed']}). Seconds to the best epoch are wall "
      "time, validation included.", "",
      _ablations_table(results["ablations"]), "",
      "## Leave-last-out, the literature's protocol", "",
      "Each user's last conversion is the test target, the one before it the"
      " valid target, earlier ones training targets; the history is every "
      "event before the target (up to L). One target per user, ranked "
      f"against all {llo['candidates']:,} candidates with nothing masked: "
      "recall@K is the hit rate at K, NDCG@10 is 1 / log2(rank + 1) of the "
      f"target in the top 10. {llo['eval_users']:,} eval users. In the "
      "synthetic journeys a conversion follows views of its own advertiser, "
      "so here the last advertiser is right by construction; the time split"
      " above is the informative protocol on this data.", "",
      _rankers_table(results["leave_last_out"]),
  ])


def default_model_dir(results: Dict) -> str:
  """The model dir of the first seed's run of the defaults."""
  return results["seeds"][0]["model_dir"]


def write(results: Dict, results_dir: str) -> str:
  """results_dir/quality.{json,md}, without the local model dirs."""
  public = dict(results)
  for section in ("seeds", "ablations"):
    public[section] = [_without_dir(run) for run in results[section]]
  public["leave_last_out"] = _without_dir(results["leave_last_out"])
  return common.write_results(results_dir, QUALITY, public,
                              markdown(results))


def _without_dir(run: Dict) -> Dict:
  return {key: value for key, value in run.items() if key != "model_dir"}

"""The benchmark report: quality sweeps and every speed benchmark, one command.

    python -m benchmarks.run [--quick] [--workdir DIR] [--results_dir DIR]
        [--skip_speed]

1. Data: a synthetic event log (``tfrs_adcg.synthetic``), preprocessed twice
   by ``beam.preprocess``: the time split (histories of the longest swept
   length) and the leave-last-out split.
2. Quality (eval split, exact ranking of the whole corpus), each point a
   ``tfrs_adcg.train`` run: the default model against the popularity and
   last-advertiser baselines; log-Q on and off, with Recall@100 split into
   head and tail candidates; ``max_seq_len`` 10/25/50/100/200;
   ``num_layers`` 1/2/4; the leave-last-out protocol. Runs with the same
   settings are trained once. Writes results/quality.{json,md} and
   results/quality_seq_len.png.
3. Speed: the default model is exported (ScaNN) and the per-area benchmarks
   run with it (``preprocess_bench``, ``train_bench``, ``serving_bench``,
   ``batch_bench``, ``item_index_bench``), each writing its own results.
4. results/REPORT.md: every results/*.md, with the machine and the date;
   a full run into the repository's results directory also copies it into
   README.md (``benchmarks.readme``).

``--quick`` uses a small log (600 users, 40 advertisers, 42 days), two short
epochs per training run and each benchmark's own ``--quick``: a few minutes
of training, plus the speed benchmarks' smoke sizes. Its results go to
``results/quick/`` unless ``--results_dir`` says otherwise, so a smoke run
never overwrites the measured results the README quotes.
"""

import argparse
import dataclasses
import glob
import json
import logging
import os
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from benchmarks import common
from benchmarks import readme
from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import train
from tfrs_adcg import user_vectors
from tfrs_adcg import vocabulary
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model import ASSETS_DIR
from tfrs_adcg.model import load_trained

QUALITY = "quality"
QUICK_DIR = "quick"
REPORT = "REPORT.md"
SEQ_LEN_PLOT = "quality_seq_len.png"
# Sections of REPORT.md in this order; any other results/*.md follow.
REPORT_ORDER = ("quality", "train", "preprocess", "serving", "batch",
                "item_index")
HEAD_FRACTION = 0.2
NO_LOGQ = "--no_logq"

Flags = Dict[str, Optional[str]]  # Flag to value; None: a switch.


@dataclasses.dataclass
class RunConfig:
  """What one report run does.

  Attributes:
    workdir: Data, models and exports go here.
    results_dir: The JSON, markdown and PNG results go here.
    quick: Small data, short training, each speed benchmark's ``--quick``.
    synthetic_flags: Extra ``tfrs_adcg.synthetic`` flags (the data size).
    train_flags: Flags of every quality training run (sweeps override them).
    seq_lens: The ``max_seq_len`` sweep.
    num_layers: The ``num_layers`` sweep.
    speed: Run the speed benchmarks too.
    update_readme: Copy REPORT.md into README.md's benchmark block.
  """
  workdir: str
  results_dir: str
  quick: bool = False
  synthetic_flags: Tuple[str, ...] = ()
  train_flags: Flags = dataclasses.field(default_factory=dict)
  seq_lens: Tuple[int, ...] = (10, 25, 50, 100, 200)
  num_layers: Tuple[int, ...] = (1, 2, 4)
  speed: bool = True
  update_readme: bool = False

  @classmethod
  def create(cls, workdir: str, results_dir: str, quick: bool,
             speed: bool = True, update_readme: bool = False) -> "RunConfig":
    if not quick:
      return cls(workdir=workdir, results_dir=results_dir, speed=speed,
                 update_readme=update_readme)
    return cls(
        workdir=workdir, results_dir=results_dir, quick=True, speed=speed,
        synthetic_flags=("--users", "600", "--advertisers", "40",
                         "--items", "400", "--days", "42"),
        train_flags={"--epochs": "2", "--steps_per_epoch": "10",
                     "--batch_size": "64", "--embedding_dim": "32"})


# Data.


def generate_events(config: RunConfig) -> str:
  """The synthetic CSV log and catalogs; returns their directory."""
  raw = os.path.join(config.workdir, "raw")
  synthetic.main(["--output", raw, "--format", "csv", "--seed", "7"]
                 + list(config.synthetic_flags))
  return raw


def preprocess_events(raw_dir: str, output: str, max_seq_len: int,
                      split: str = "time") -> str:
  """``raw_dir`` through beam.preprocess with ``split``; returns ``output``."""
  from beam import preprocess  # pylint: disable=g-import-not-at-top

  preprocess.main([
      "--input", os.path.join(raw_dir, "events.csv"),
      "--advertiser_catalog", os.path.join(raw_dir, "advertisers.csv"),
      "--output", output, "--max_seq_len", str(max_seq_len),
      "--split", split])
  return output


def describe_data(data_dir: str) -> Dict[str, int]:
  manifest = schema.read_manifest(data_dir)
  vocabularies = vocabulary.read_vocabularies(data_dir)
  return {"train_pairs": sum(vocabularies.positives.values()),
          "eval_users": manifest["counts"]["examples"][schema.EVAL],
          "candidates": len(vocabularies.candidate_ids())}


# Quality.


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
    """Metrics, seconds and model dir of a run with ``overrides``."""
    flags = {**self._base_flags, **(overrides or {})}
    argv = ["--data", self._data_dir]
    for flag, value in flags.items():
      argv += [flag] if value is None else [flag, value]
    # Flags spelling out a default train the same model as leaving them out.
    key = dataclasses.astuple(train.parse_args(argv + ["--model_dir", ""]))
    if key not in self._runs:
      model_dir = os.path.join(self._models_dir, f"run{len(self._runs)}")
      argv += ["--model_dir", model_dir]
      logging.info("Training %s", " ".join(argv))
      started = time.perf_counter()
      result = train.main(argv)
      self._runs[key] = {
          "flags": flags,
          "model_dir": model_dir,
          "metrics": result.metrics,
          "epochs": result.epochs_done,
          "train_seconds": round(time.perf_counter() - started, 1),
      }
    return self._runs[key]


def sweep(trainer: Trainer, flag: str, values: Sequence[int]) -> List[Dict]:
  """One run per value of ``flag``: the model's and baselines' metrics."""
  return [{"value": value, **_without_dir(trainer.run({flag: str(value)}))}
          for value in values]


def head_tail_recall(model_dir: str, data_dir: str,
                     head_fraction: float = HEAD_FRACTION) -> Dict:
  """Recall@10/50/100 of a trained model on head and on tail positives.

  The head is the ``head_fraction`` most popular candidates by training
  positives, the tail the rest. A user's head recall@K is the share of their
  head positives in the model's top K (exact ranking), averaged over users
  with at least one head positive; likewise for the tail. The popularity
  baseline is measured the same way.
  """
  model = load_trained(model_dir)
  popularity = vocabulary.read_vocabularies(
      os.path.join(model_dir, ASSETS_DIR)).popularity_ranking()
  head = set(popularity[:max(1, round(head_fraction * len(popularity)))])
  candidate_ids = [i.decode() for i in model.candidate_ids().numpy()]
  embeddings = model.candidate_embeddings()
  k = min(metrics.MAX_K, len(candidate_ids))

  @tf.function(autograph=False)
  def top_k(history):
    scores = user_vectors.scores(model.user_tower(history, training=False),
                                 embeddings)
    return tf.math.top_k(scores, k=k).indices

  sums = {(ranker, part, cutoff): 0.0 for ranker in ("model", "popularity")
          for part in ("head", "tail") for cutoff in metrics.RECALL_KS}
  users = {"head": 0, "tail": 0}
  dataset = data.evaluation_dataset(data.shard_paths(data_dir, schema.EVAL),
                                    model.config.max_seq_len, 512)
  for batch in dataset:
    history = {name: batch[name] for name in schema.SEQUENCE_FEATURES}
    tops = top_k(history).numpy()
    labels = batch[schema.LABEL_ADVERTISER_IDS].to_list()
    for indices, row in zip(tops, labels):
      positives = {i.decode() for i in row}
      rankings = {"model": [candidate_ids[i] for i in indices],
                  "popularity": popularity}
      for part, part_positives in (("head", positives & head),
                                   ("tail", positives - head)):
        if not part_positives:
          continue
        users[part] += 1
        for ranker, ranking in rankings.items():
          for cutoff in metrics.RECALL_KS:
            sums[(ranker, part, cutoff)] += (
                len(part_positives.intersection(ranking[:cutoff]))
                / len(part_positives))
  result = {"head_candidates": len(head),
            "tail_candidates": len(popularity) - len(head),
            "head_users": users["head"], "tail_users": users["tail"]}
  for (ranker, part, cutoff), total in sums.items():
    result.setdefault(ranker, {})[f"{part}_recall@{cutoff}"] = (
        total / users[part] if users[part] else None)
  return result


def quality(config: RunConfig, time_data: str,
            leave_last_out_data: str) -> Dict:
  """Every quality measurement; see the module docstring."""
  models = os.path.join(config.workdir, "models")
  trainer = Trainer(time_data, os.path.join(models, "time"),
                    config.train_flags)
  default = trainer.run()
  no_logq = trainer.run({NO_LOGQ: None})
  leave_last_out = Trainer(leave_last_out_data,
                           os.path.join(models, "leave_last_out"),
                           config.train_flags).run()
  return {
      "machine": common.machine(),
      "quick": config.quick,
      "data": {"time": describe_data(time_data),
               "leave_last_out": describe_data(leave_last_out_data)},
      "train_flags": config.train_flags,
      "default": _without_dir(default),
      "logq": {
          "on": _without_dir(default),
          "off": _without_dir(no_logq),
          "head_fraction": HEAD_FRACTION,
          "head_tail_on": head_tail_recall(default["model_dir"], time_data),
          "head_tail_off": head_tail_recall(no_logq["model_dir"], time_data),
      },
      "max_seq_len": sweep(trainer, "--max_seq_len", config.seq_lens),
      "num_layers": sweep(trainer, "--num_layers", config.num_layers),
      "leave_last_out": _without_dir(leave_last_out),
      "default_model_dir": default["model_dir"],
  }


def _without_dir(run: Dict) -> Dict:
  return {k: v for k, v in run.items() if k != "model_dir"}


def _metric_cells(run_metrics: Dict[str, float]) -> List[str]:
  return [f"{run_metrics[name]:.4f}" for name in metrics.METRIC_NAMES]


def _rankers_table(run: Dict) -> str:
  rows = [[ranker] + _metric_cells(run["metrics"][ranker])
          for ranker in metrics.RANKERS]
  return common.markdown_table(["ranker"] + list(metrics.METRIC_NAMES), rows)


def _sweep_table(name: str, points: List[Dict]) -> str:
  rows = [[p["value"]] + _metric_cells(p["metrics"]["model"])
          + [p["train_seconds"]] for p in points]
  return common.markdown_table(
      [name] + list(metrics.METRIC_NAMES) + ["train s"], rows)


def quality_markdown(results: Dict) -> str:
  """The quality section of the report."""
  time_data = results["data"]["time"]
  logq = results["logq"]
  cutoffs = (min(metrics.RECALL_KS), metrics.MAX_K)
  head_tail_rows = []
  for label, run, split in (("model, log-Q on", logq["on"], "head_tail_on"),
                            ("model, log-Q off", logq["off"], "head_tail_off"),
                            ("popularity", logq["on"], "head_tail_on")):
    ranker = "popularity" if label == "popularity" else "model"
    parts = logq[split][ranker]
    head_tail_rows.append(
        [label] + [f"{run['metrics'][ranker][f'recall@{k}']:.4f}"
                   for k in cutoffs]
        + [_optional(parts[f"{part}_recall@{k}"])
           for part in ("head", "tail") for k in cutoffs])
  flags = " ".join(f"{k} {v}" for k, v in results["train_flags"].items())
  llo = results["data"]["leave_last_out"]
  return "\n".join([
      "# Retrieval quality", "",
      f"Machine: {common.machine_line(results['machine'])}. Synthetic data"
      f"{' (quick mode)' if results['quick'] else ''}: "
      f"{time_data['train_pairs']:,} training pairs, "
      f"{time_data['eval_users']:,} eval users, "
      f"{time_data['candidates']:,} candidates. Training flags: "
      f"{flags or 'defaults'}. Every metric is on the eval split with an "
      "exact ranking of the whole corpus: recall@K = |top K ∩ positives| / "
      "|positives| and NDCG@10, averaged over eval users.", "",
      "## Time split: model against the baselines", "",
      _rankers_table(results["default"]), "",
      "## Log-Q correction on and off: head and tail candidates", "",
      f"Head: the {logq['head_fraction']:.0%} most popular candidates by "
      f"training positives ({logq['head_tail_on']['head_candidates']}), tail:"
      f" the rest ({logq['head_tail_on']['tail_candidates']}). Head "
      "recall@K: the share of a user's head positives in the top K, over "
      f"the {logq['head_tail_on']['head_users']} users with one; tail "
      f"likewise ({logq['head_tail_on']['tail_users']} users).", "",
      common.markdown_table(
          ["ranker"] + [f"recall@{k}" for k in cutoffs]
          + [f"{part} recall@{k}" for part in ("head", "tail")
             for k in cutoffs], head_tail_rows), "",
      "## History length (`max_seq_len`)", "",
      _sweep_table("max_seq_len", results["max_seq_len"]), "",
      f"![recall by max_seq_len]({SEQ_LEN_PLOT})", "",
      "## Transformer layers (`num_layers`)", "",
      _sweep_table("num_layers", results["num_layers"]), "",
      "## Leave-last-out protocol", "",
      "Each user's last conversion is the eval target, the one before it the"
      " validation target, earlier ones training targets; the history is "
      "every event before the target (up to L). A user has one positive, the"
      " target's advertiser, so recall@K is the hit rate at K and NDCG@10 is "
      "1 / log2(rank + 1) of the target when it ranks in the top 10, else 0; "
      f"exact ranking of all {llo['candidates']:,} candidates, "
      f"{llo['eval_users']:,} eval users. Not comparable with the time split:"
      " its eval targets are each user's own latest, not a common future "
      "window. The history holds the views that led to the target "
      "conversion, so where conversions follow views of the same advertiser "
      "(as in the synthetic journeys) the last-advertiser baseline is right "
      "by construction; the time split is the informative protocol there.",
      "",
      _rankers_table(results["leave_last_out"]),
  ])


def _optional(value: Optional[float]) -> str:
  return "n/a" if value is None else f"{value:.4f}"


def plot_seq_len(points: List[Dict], path: str, title: str) -> None:
  """Recall@10/50/100 of the model against ``max_seq_len``."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  figure, axes = plt.subplots(figsize=(6, 4))
  lengths = [p["value"] for p in points]
  for k in metrics.RECALL_KS:
    axes.plot(lengths, [p["metrics"]["model"][f"recall@{k}"] for p in points],
              marker="o", label=f"recall@{k}")
  axes.set_xscale("log")
  axes.set_xticks(lengths)
  axes.set_xticklabels([str(n) for n in lengths])
  axes.set_xlabel("max_seq_len (events of history)")
  axes.set_ylabel("eval recall (exact ranking)")
  axes.set_title(title, fontsize=9)
  axes.grid(True, alpha=0.3)
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def write_quality(results: Dict, results_dir: str) -> str:
  """results_dir/quality.{json,md} and the sequence length plot."""
  public = {k: v for k, v in results.items() if k != "default_model_dir"}
  path = common.write_results(results_dir, QUALITY, public,
                              quality_markdown(results))
  plot_seq_len(results["max_seq_len"], os.path.join(results_dir, SEQ_LEN_PLOT),
               f"Recall by history length ("
               f"{common.machine_line(results['machine'])})")
  return path


# Speed.

Bench = Tuple[str, Callable[[Sequence[str]], object], List[str]]


def speed_plan(quick: bool, raw_dir: str, time_data: str, model_dir: str,
               version_dir: str) -> List[Bench]:
  """(name, main, argv) of every speed benchmark, in the order they run."""
  # Imported here: the quality part does not need them.
  from benchmarks import batch_bench  # pylint: disable=g-import-not-at-top
  from benchmarks import item_index_bench  # pylint: disable=g-import-not-at-top
  from benchmarks import preprocess_bench  # pylint: disable=g-import-not-at-top
  from benchmarks import serving_bench  # pylint: disable=g-import-not-at-top
  from benchmarks import train_bench  # pylint: disable=g-import-not-at-top

  quick_flag = ["--quick"] if quick else []
  return [
      ("preprocess", preprocess_bench.main, quick_flag),
      ("train", train_bench.main, quick_flag + ["--data", time_data]),
      ("serving", serving_bench.main, quick_flag + ["--model_dir", model_dir]),
      ("batch", batch_bench.main,
       quick_flag + ["--model", version_dir,
                     "--input", os.path.join(raw_dir, "events.csv")]),
      ("item_index", item_index_bench.main, quick_flag),
  ]


def run_speed(plan: Sequence[Bench], results_dir: str) -> Dict[str, float]:
  """Runs each benchmark writing into ``results_dir``; seconds of each."""
  seconds = {}
  for name, bench_main, argv in plan:
    argv = list(argv) + ["--results_dir", results_dir]
    logging.info("Benchmark %s %s", name, " ".join(argv))
    started = time.perf_counter()
    bench_main(argv)
    seconds[name] = round(time.perf_counter() - started, 1)
  return seconds


# The report.


def write_report(results_dir: str, info: Dict[str, object]) -> str:
  """results_dir/REPORT.md: every other results_dir/*.md, in REPORT_ORDER.

  Each section keeps its own first-line title, one level below the report's;
  one without a title is given its file name as a title.
  """
  sections = sorted(
      (path for path in glob.glob(os.path.join(results_dir, "*.md"))
       if os.path.basename(path) != REPORT),
      key=lambda path: _report_position(os.path.basename(path)[:-3]))
  parts = ["# Benchmark report", "",
           f"Generated on {common.machine_line(info)} (Python "
           f"{info['python']}). Each section states the machine it ran on.",
           ""]
  for path in sections:
    with open(path, encoding="utf-8") as f:
      text = f.read().rstrip()
    if not text.startswith("#"):  # A section without a title gets its name.
      name = os.path.basename(path)[:-3].replace("_", " ")
      text = f"# {name.capitalize()}\n\n{text}"
    parts += [readme.demote(text, 1), ""]
  report = os.path.join(results_dir, REPORT)
  with open(report, "w", encoding="utf-8") as f:
    f.write("\n".join(parts))
  return report


def _report_position(name: str) -> Tuple[int, str]:
  if name in REPORT_ORDER:
    return REPORT_ORDER.index(name), name
  return len(REPORT_ORDER), name


def run(config: RunConfig) -> Dict:
  """The whole report; returns the quality results and speed seconds."""
  os.makedirs(config.workdir, exist_ok=True)
  raw = generate_events(config)
  time_data = preprocess_events(raw, os.path.join(config.workdir, "data_time"),
                                max(config.seq_lens))
  leave_last_out_data = preprocess_events(
      raw, os.path.join(config.workdir, "data_leave_last_out"),
      TrainConfig.max_seq_len, split="leave_last_out")
  results = quality(config, time_data, leave_last_out_data)
  write_quality(results, config.results_dir)
  seconds = {}
  if config.speed:
    from export import savedmodel  # pylint: disable=g-import-not-at-top
    version = savedmodel.export(results["default_model_dir"],
                                os.path.join(config.workdir, "serving"),
                                index="scann", k=metrics.MAX_K)
    seconds = run_speed(
        speed_plan(config.quick, raw, time_data,
                   results["default_model_dir"], version),
        config.results_dir)
  report = write_report(config.results_dir, results["machine"])
  if config.update_readme:
    readme.include_report(report)
    logging.info("Copied %s into %s", report, readme.README)
  logging.info("Wrote %s; benchmark seconds %s", report, json.dumps(seconds))
  return {"quality": results, "speed_seconds": seconds, "report": report}


def main(argv: Optional[Sequence[str]] = None) -> Dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="Small data, short training, quick benchmarks.")
  parser.add_argument("--workdir", default=None,
                      help="Data, models and exports (default: a temp dir).")
  parser.add_argument(
      "--results_dir", default=None,
      help=f"Default: {common.RESULTS_DIR} (its quick/ subdirectory with "
      "--quick). A full run into the default also updates README.md.")
  parser.add_argument("--skip_speed", action="store_true",
                      help="Only the quality part (and the report).")
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  workdir = args.workdir or tempfile.mkdtemp(prefix="bench_")
  default_dir = (os.path.join(common.RESULTS_DIR, QUICK_DIR) if args.quick
                 else common.RESULTS_DIR)
  results_dir = args.results_dir or default_dir
  config = RunConfig.create(
      workdir, results_dir, args.quick, speed=not args.skip_speed,
      update_readme=(not args.quick
                     and os.path.abspath(results_dir) == common.RESULTS_DIR))
  result = run(config)
  print(open(result["report"], encoding="utf-8").read())
  return result


if __name__ == "__main__":
  main()

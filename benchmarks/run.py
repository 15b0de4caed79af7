"""The benchmark report: quality sweeps and every speed benchmark, one command.

    python -m benchmarks.run [--quick] [--workdir DIR] [--results_dir DIR]
        [--skip_speed]

1. Data: a synthetic event log (``tfrs_adcg.synthetic``), preprocessed twice
   by ``beam.preprocess``: the time split and the leave-last-out split.
2. Quality (``benchmarks.quality``): the defaults on several seeds against
   the popularity and last-advertiser baselines, one-at-a-time ablations of
   the objective, negatives, user vectors, log-Q and learning-rate schedule,
   and the leave-last-out protocol; every run chooses its epoch on valid
   and reads eval once. Runs with the same settings are trained once.
   Writes results/quality.{json,md}; ``benchmarks.item_quality`` adds the
   item model on its own item log (results/item_quality.{json,md}).
3. Speed: the default model is exported (ScaNN) and the per-area benchmarks
   run with it (``preprocess_bench``, ``train_bench``, ``serving_bench``,
   ``batch_bench``, ``item_index_bench``), each writing its own results.
4. results/REPORT.md: every results/*.md, with the machine and the date;
   a full run into the repository's results directory also copies it into
   docs/benchmarks.md (``benchmarks.readme``).

``--quick`` uses a small log (600 users, 40 advertisers, 42 days), two short
epochs per training run and each benchmark's own ``--quick``: a few minutes
of training, plus the speed benchmarks' smoke sizes. Its results go to
``results/quick/`` unless ``--results_dir`` says otherwise, so a smoke run
never overwrites the measured results the docs quote.
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

from benchmarks import common
from benchmarks import item_quality
from benchmarks import quality
from benchmarks import readme
from tfrs_adcg import metrics
from tfrs_adcg import synthetic
from tfrs_adcg.config import TrainConfig

QUICK_DIR = "quick"
REPORT = "REPORT.md"
# Sections of REPORT.md in this order; any other results/*.md follow.
REPORT_ORDER = ("quality", "public_loo", "item_quality", "train", "preprocess",
                "serving", "batch", "item_index")


@dataclasses.dataclass
class RunConfig:
  """What one report run does.

  Attributes:
    workdir: Data, models and exports go here.
    results_dir: The JSON, markdown and PNG results go here.
    quick: Small data, short training, each speed benchmark's ``--quick``.
    synthetic_flags: Extra ``tfrs_adcg.synthetic`` flags (the data size).
    train_flags: Flags of every quality training run (ablations add to
      them).
    seeds: The seeds the defaults are trained with; ablations use the
      first.
    speed: Run the speed benchmarks too.
    update_readme: Copy REPORT.md into docs/benchmarks.md's report block.
  """
  workdir: str
  results_dir: str
  quick: bool = False
  synthetic_flags: Tuple[str, ...] = ()
  train_flags: quality.Flags = dataclasses.field(default_factory=dict)
  seeds: Tuple[int, ...] = (0, 1, 2)
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

  preprocess.run([
      "--input", os.path.join(raw_dir, "events.csv"),
      "--advertiser_catalog", os.path.join(raw_dir, "advertisers.csv"),
      "--output", output, "--max_seq_len", str(max_seq_len),
      "--split", split])
  return output


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
                                TrainConfig.max_seq_len)
  leave_last_out_data = preprocess_events(
      raw, os.path.join(config.workdir, "data_leave_last_out"),
      TrainConfig.max_seq_len, split="leave_last_out")
  results = quality.measure(time_data, leave_last_out_data,
                            os.path.join(config.workdir, "models"),
                            config.train_flags, config.seeds)
  quality.write(results, config.results_dir)
  item_quality.write(item_quality.measure(
      os.path.join(config.workdir, "items"), config.quick), config.results_dir)
  seconds = {}
  if config.speed:
    from export import savedmodel  # pylint: disable=g-import-not-at-top
    version = savedmodel.export(quality.default_model_dir(results),
                                os.path.join(config.workdir, "serving"),
                                index="scann", k=metrics.MAX_K)
    seconds = run_speed(
        speed_plan(config.quick, raw, time_data,
                   quality.default_model_dir(results), version),
        config.results_dir)
  report = write_report(config.results_dir, results["machine"])
  if config.update_readme:
    readme.include_report(report)
    logging.info("Copied %s into %s", report, readme.PAGE)
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
      "--quick). A full run into the default also updates "
      "docs/benchmarks.md.")
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

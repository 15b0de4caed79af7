"""Checks an exported version for what TF Serving will demand of it.

    python -m export.check serving/adcg/1732650000

``tensorflow_model_server`` cannot run everywhere we test, so this verifies
its preconditions instead, in a fresh Python process that imports TensorFlow
and nothing of ours (``standalone_check.py``):

* every op of the graph and its function library is registered in stock
  TensorFlow, except ``Scann*`` ops in the ScaNN variant; the partitioned
  and brute-force variants must have no op outside stock TensorFlow at all
  (``non_core_ops`` empty), so the stock ``tensorflow/serving`` image loads
  them; no Python-callback ops;
* ``serving_default`` exists; inputs and outputs are batch-major, with dtypes
  TF Serving's JSON API maps;
* the model loads and answers every warmup request.

Exits non-zero and lists the problems when any check fails.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from typing import List, Optional, Sequence

from export import export_info
from export import savedmodel

STANDALONE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "standalone_check.py")
# Index kinds whose graphs must hold stock TensorFlow ops only.
CORE_ONLY_INDEXES = ("partitioned", "brute_force")


@dataclasses.dataclass
class CheckReport:
  """The outcome of checking one exported version."""
  version_dir: str
  problems: List[str]
  ops: List[str]
  non_core_ops: List[str]
  uses_scann_ops: bool
  signatures: dict
  warmup_requests: int

  @property
  def ok(self) -> bool:
    return not self.problems


def check(version_dir: str) -> CheckReport:
  """Runs every check on ``version_dir``; see the module docstring."""
  info = export_info.ExportInfo.read(version_dir)
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  with tempfile.TemporaryDirectory() as cwd:
    # -P: the script's folder (our package) does not go on sys.path.
    process = subprocess.run(
        [sys.executable, "-P", STANDALONE, os.path.abspath(version_dir)],
        cwd=cwd, env=env, capture_output=True, text=True, check=False)
  if process.returncode != 0:
    return CheckReport(version_dir, [
        "loading in a fresh process failed:\n" + process.stderr[-4000:]],
                       [], [], False, {}, 0)
  result = json.loads(process.stdout.strip().splitlines()[-1])
  problems = list(result["problems"])
  if info.index in CORE_ONLY_INDEXES and result["uses_scann_ops"]:
    problems.append(f"the {info.index} variant uses ScaNN ops: a stock "
                    "tensorflow_model_server cannot load it")
  if info.index == "scann" and not result["uses_scann_ops"]:
    problems.append("the ScaNN variant has no ScaNN ops: the index is missing")
  return CheckReport(version_dir, problems, result["ops"],
                     result["non_core_ops"], result["uses_scann_ops"], result["signatures"],
                     result["warmup_requests"])


def main(argv: Optional[Sequence[str]] = None) -> CheckReport:
  parser = argparse.ArgumentParser(
      description="Check an exported version's servability.")
  parser.add_argument("version_dir",
                      help="An export_dir/<version> written by export.")
  args = parser.parse_args(argv)
  try:
    savedmodel.check_saved_model(args.version_dir)
  except ValueError as e:
    parser.error(str(e))
  report = check(args.version_dir)
  non_core = ", ".join(report.non_core_ops) or "none"
  print(f"{report.version_dir}: {len(report.ops)} op types, ops outside "
        f"stock TensorFlow: {non_core}, signatures: "
        f"{', '.join(sorted(report.signatures))}, warmup requests run: "
        f"{report.warmup_requests}")
  for problem in report.problems:
    print(f"PROBLEM: {problem}")
  print("OK: servable" if report.ok else "FAILED")
  if not report.ok:
    raise SystemExit(1)
  return report


if __name__ == "__main__":
  main()

"""Tests of benchmarks.run: the speed plan and the report.

They run the report's steps on the session's tiny data, writing into a temp
dir; that the results are well formed, not how good or fast they are.
"""

import json
import os

from benchmarks import common
from benchmarks import run
from benchmarks import serving_bench

def test_speed_plan_passes_the_paths():
  plan = run.speed_plan(True, "/raw", "/data", "/model", "/serving/1")
  by_name = {name: argv for name, _, argv in plan}
  assert list(by_name) == ["preprocess", "train", "serving", "batch",
                           "item_index"]
  assert all("--quick" in argv for argv in by_name.values())
  assert by_name["train"][-2:] == ["--data", "/data"]
  assert by_name["serving"][-2:] == ["--model_dir", "/model"]
  assert by_name["batch"][1:] == ["--model", "/serving/1",
                                  "--input", os.path.join("/raw",
                                                          "events.csv")]
  full = run.speed_plan(False, "/raw", "/data", "/model", "/serving/1")
  assert not any("--quick" in argv for _, _, argv in full)


def test_run_speed_writes_into_the_results_dir(trained_model_dir, tmp_path):
  results_dir = str(tmp_path / "results")
  seconds = run.run_speed(
      [("serving", serving_bench.main,
        ["--model_dir", str(trained_model_dir), "--sizes", "2000",
         "--b1_calls", "2", "--b32_calls", "2", "--in_process"])],
      results_dir)
  assert list(seconds) == ["serving"]
  with open(os.path.join(results_dir, "serving.json"), encoding="utf-8") as f:
    serving = json.load(f)
  assert set(serving["corpus"]["2000"]) == {"scann", "partitioned",
                                            "brute_force"}
  for point in serving["sweep"]:
    assert 0.0 <= point["recall@100"] <= 1.0
  assert os.path.exists(os.path.join(results_dir,
                                     "serving_recall_latency.png"))


def test_report_concatenates_results_in_order(tmp_path):
  results_dir = tmp_path / "results"
  results_dir.mkdir()
  (results_dir / "quality.md").write_text(
      "# Retrieval quality\n\n## Time split\n", encoding="utf-8")
  (results_dir / "item_index.md").write_text("Untitled table\n",
                                            encoding="utf-8")
  (results_dir / "zeta.md").write_text("# Zeta\n", encoding="utf-8")
  info = common.machine()
  report = run.write_report(str(results_dir), info)
  text = open(report, encoding="utf-8").read()
  assert str(info["date"]) in text and str(info["cpu"]) in text
  assert (text.index("\n## Retrieval quality") < text.index("\n## Item index")
          < text.index("Untitled table") < text.index("\n## Zeta"))
  assert "\n### Time split" in text  # Sections sit below the report's title.
  # Writing it again does not include the previous report.
  run.write_report(str(results_dir), info)
  assert open(report, encoding="utf-8").read().count("# Benchmark report") == 1

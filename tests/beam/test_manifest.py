"""The manifest: summary to nested counts, accounting, the summary line."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
import pytest

from beam import config as config_lib
from beam import manifest
from tfrs_adcg import schema


def _config(*flags):
  return config_lib.parse_args(["--input", "e.csv", "--output", "o"] +
                               list(flags))[0]


def test_write_summary_sums_counts_and_keeps_singletons(tmp_path):
  with test_pipeline.TestPipeline() as pipeline:
    time_range = pipeline | "Range" >> beam.Create([(5, 9)])
    _ = (pipeline
         | "Counts" >> beam.Create([("events_read", 2), ("events_read", 3),
                                    ("examples/train", 1)])
         | manifest.WriteSummary(str(tmp_path), {"time_range": time_range}))
  assert manifest.read_summary(str(tmp_path)) == {
      "counts": {"events_read": 5, "examples/train": 1}, "time_range": [5, 9]}


def test_write_summary_of_no_counts(tmp_path):
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | "Counts" >> beam.Create([])
         | manifest.WriteSummary(str(tmp_path), {}))
  assert manifest.read_summary(str(tmp_path)) == {"counts": {}}


def test_build_manifest_nests_counts_and_fills_zeros():
  summary = {"counts": {"events_read": 5, "events_used": 4,
                        "events_dropped/duplicate": 1, "users": 2,
                        "examples/train": 3, "positives/train": 4},
             "time_range": [0, 86400], "eval_cutoff": 86400}
  built = manifest.build_manifest(_config(), summary, has_catalog=False)
  assert built["schema_version"] == schema.SCHEMA_VERSION
  assert built["config"]["eval_cutoff"] == "1970-01-02T00:00:00Z"
  assert built["config"]["valid_cutoff_epoch"] == 86400 - 7 * 86400
  assert built["config"]["last_train_cutoff_epoch"] == 86400 - 14 * 86400
  assert built["time_range"] == {"earliest": "1970-01-01T00:00:00Z",
                                 "latest": "1970-01-02T00:00:00Z"}
  assert built["counts"]["examples"] == {"train": 3, "valid": 0, "eval": 0}
  assert built["counts"]["events_dropped"]["duplicate"] == 1
  assert built["counts"]["events_dropped"]["malformed_row"] == 0
  manifest.check_accounting(built)
  line = manifest.summary_line(built)
  assert line.startswith("events read=5 used=4 dropped=1")
  assert "examples train=3 valid=0 eval=0" in line

  summary["counts"]["events_used"] = 3
  with pytest.raises(RuntimeError, match="accounting"):
    manifest.check_accounting(
        manifest.build_manifest(_config(), summary, has_catalog=False))


def test_leave_last_out_manifest_has_three_splits_and_no_cutoff():
  built = manifest.build_manifest(
      _config("--split", "leave_last_out"), {"counts": {}}, has_catalog=True)
  assert built["splits"] == list(schema.SPLITS)
  assert built["config"]["eval_cutoff"] is None
  assert built["counts"]["catalog_rows_read"] == 0

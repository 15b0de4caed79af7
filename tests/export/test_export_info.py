"""Export info: written and read by one module, other schemas refused."""

import json

import pytest

from export import export_info
from tfrs_adcg import schema

INFO = export_info.ExportInfo(
    version=7, index="partitioned", k=100, num_candidates=800,
    task=schema.ADVERTISER_TASK, max_seq_len=50, model_dir="runs/x",
    signatures=("serving_default", "user_embedding"),
    index_build_seconds=1.5, partitioned={"num_leaves": 28, "leaf_rows": 32})


def test_written_info_reads_back_equal(tmp_path):
  (tmp_path / "assets.extra").mkdir()
  INFO.write(str(tmp_path))
  assert export_info.ExportInfo.read(str(tmp_path)) == INFO


def test_a_version_of_another_schema_is_refused(tmp_path):
  (tmp_path / "assets.extra").mkdir()
  INFO.write(str(tmp_path))
  path = tmp_path / "assets.extra" / export_info.FILE_NAME
  old = json.loads(path.read_text())
  del old["schema_version"]  # Exports of schema 1 did not say.
  path.write_text(json.dumps(old))
  with pytest.raises(ValueError, match="schema version 1.*Export the model"):
    export_info.ExportInfo.read(str(tmp_path))


def test_a_folder_without_info_is_not_an_export(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a version exported"):
    export_info.ExportInfo.read(str(tmp_path))

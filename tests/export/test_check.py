"""The servability check passes our exports and catches what TF Serving rejects."""

import json
import os
import pathlib
import re
import shutil

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import check
from export import export_info
from export import warmup
from tfrs_adcg import schema


def test_every_variant_passes(exported_versions, capsys):
  scann = check.main([str(exported_versions["scann"])])
  assert scann.ok and scann.uses_scann_ops
  assert scann.non_core_ops and all(op.startswith("Scann")
                                    for op in scann.non_core_ops)
  assert set(scann.signatures) == {"serving_default", "user_embedding"}
  for kind in ("brute_force", "partitioned"):
    report = check.main([str(exported_versions[kind])])
    assert report.ok and not report.uses_scann_ops
    assert report.non_core_ops == []
    assert report.warmup_requests == scann.warmup_requests == 4
  printed = capsys.readouterr().out
  assert printed.count("ops outside stock TensorFlow: none") == 2
  assert printed.count("OK: servable") == 3


def save_module(path: pathlib.Path, function, spec: tf.TensorSpec,
                index: str = "brute_force") -> str:
  """Saves a one-signature module as an export version would be laid out."""
  module = tf.Module()
  module.f = tf.function(function, input_signature=[spec])
  version_dir = str(path / "1")
  tf.saved_model.save(module, version_dir,
                      signatures={"serving_default":
                                  module.f.get_concrete_function()})
  os.makedirs(os.path.dirname(export_info.path(version_dir)))
  export_info.ExportInfo(
      version=1, index=index, k=1, num_candidates=1,
      task=schema.ADVERTISER_TASK, max_seq_len=1, model_dir="",
      signatures=("serving_default",),
      index_build_seconds=0.0).write(version_dir)
  return version_dir


@pytest.mark.integration
def test_python_callbacks_are_caught(tmp_path):
  version_dir = save_module(
      tmp_path,
      lambda x: {"y": tf.py_function(lambda v: v * 2, [x], tf.float32)},
      tf.TensorSpec([None], tf.float32))
  report = check.check(version_dir)
  assert not report.ok
  assert any("EagerPyFunc" in p and "Python" in p for p in report.problems)


@pytest.mark.integration
def test_missing_batch_dimension_and_warmup_are_caught(tmp_path):
  version_dir = save_module(tmp_path, lambda x: {"total": tf.reduce_sum(x)},
                            tf.TensorSpec([None], tf.float32))
  report = check.check(version_dir)
  assert any("output total" in p and "batch dimension" in p
             for p in report.problems)
  assert any("no warmup requests" in p for p in report.problems)


def test_a_core_only_variant_with_scann_ops_is_caught(exported_versions,
                                                     tmp_path):
  # The ScaNN export relabelled as partitioned: its graph holds Scann ops.
  version_dir = tmp_path / "1"
  shutil.copytree(exported_versions["scann"], version_dir)
  info_path = pathlib.Path(export_info.path(str(version_dir)))
  info_path.write_text(json.dumps(dict(json.loads(info_path.read_text()),
                                       index="partitioned")))
  report = check.check(str(version_dir))
  assert report.problems == [
      "the partitioned variant uses ScaNN ops: a stock tensorflow_model_server "
      "cannot load it"]


@pytest.mark.integration
def test_a_scann_variant_without_scann_ops_is_caught(tmp_path):
  version_dir = save_module(tmp_path, lambda x: {"y": x * 2.0},
                            tf.TensorSpec([None], tf.float32), index="scann")
  warmup.write(version_dir, "m", "serving_default", [{"x": [1.0, 2.0]}])
  report = check.check(version_dir)
  assert report.warmup_requests == 1
  assert report.problems == [
      "the ScaNN variant has no ScaNN ops: the index is missing"]


def test_cli_names_a_folder_without_a_saved_model(exported_versions,
                                                  tmp_path, capsys):
  export_dir, empty = tmp_path / "adcg", tmp_path / "empty"
  shutil.copytree(exported_versions["brute_force"], export_dir / "12")
  empty.mkdir()
  for folder, message in (
      (export_dir, f"no saved_model.pb.*versions, e.g. '{export_dir / '12'}'"),
      (empty, "holds no saved_model.pb"),
      (tmp_path / "missing", "is not a directory")):
    with pytest.raises(SystemExit) as exited:
      check.main([str(folder)])
    assert exited.value.code == 2
    assert re.search(message, capsys.readouterr().err.splitlines()[-1])


@pytest.mark.integration
def test_cli_exits_non_zero_on_problems(tmp_path, capsys):
  version_dir = save_module(tmp_path, lambda x: {"total": tf.reduce_sum(x)},
                            tf.TensorSpec([None], tf.float32))
  with pytest.raises(SystemExit) as exited:
    check.main([version_dir])
  assert exited.value.code == 1
  assert "FAILED" in capsys.readouterr().out

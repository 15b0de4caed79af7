"""The servability check passes our exports and catches what TF Serving rejects."""

import json
import os
import pathlib

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import check
from export import savedmodel
from export import warmup


def test_both_variants_pass(exported_versions, capsys):
  scann = check.main([str(exported_versions["scann"])])
  brute_force = check.main([str(exported_versions["brute_force"])])
  assert scann.ok and brute_force.ok
  assert scann.uses_scann_ops
  assert any(op.startswith("Scann") for op in scann.ops)
  assert not brute_force.uses_scann_ops
  assert not any(op.startswith("Scann") for op in brute_force.ops)
  assert scann.warmup_requests == brute_force.warmup_requests == 4
  assert set(scann.signatures) == {"serving_default", "user_embedding"}
  assert "OK: servable" in capsys.readouterr().out


def save_module(path: pathlib.Path, function, spec: tf.TensorSpec,
                index: str = "brute_force") -> str:
  """Saves a one-signature module as an export version would be laid out."""
  module = tf.Module()
  module.f = tf.function(function, input_signature=[spec])
  version_dir = str(path / "1")
  tf.saved_model.save(module, version_dir,
                      signatures={"serving_default":
                                  module.f.get_concrete_function()})
  os.makedirs(os.path.dirname(savedmodel.export_info_path(version_dir)))
  with open(savedmodel.export_info_path(version_dir), "w") as f:
    json.dump({"index": index}, f)
  return version_dir


def test_python_callbacks_are_caught(tmp_path):
  version_dir = save_module(
      tmp_path,
      lambda x: {"y": tf.py_function(lambda v: v * 2, [x], tf.float32)},
      tf.TensorSpec([None], tf.float32))
  report = check.check(version_dir)
  assert not report.ok
  assert any("EagerPyFunc" in p and "Python" in p for p in report.problems)


def test_missing_batch_dimension_and_warmup_are_caught(tmp_path):
  version_dir = save_module(tmp_path, lambda x: {"total": tf.reduce_sum(x)},
                            tf.TensorSpec([None], tf.float32))
  report = check.check(version_dir)
  assert any("output total" in p and "batch dimension" in p
             for p in report.problems)
  assert any("no warmup requests" in p for p in report.problems)


def test_a_scann_variant_without_scann_ops_is_caught(tmp_path):
  version_dir = save_module(tmp_path, lambda x: {"y": x * 2.0},
                            tf.TensorSpec([None], tf.float32), index="scann")
  warmup.write(version_dir, "m", "serving_default", [{"x": [1.0, 2.0]}])
  report = check.check(version_dir)
  assert report.warmup_requests == 1
  assert report.problems == [
      "the ScaNN variant has no ScaNN ops: the index is missing"]


def test_cli_exits_non_zero_on_problems(tmp_path, capsys):
  version_dir = save_module(tmp_path, lambda x: {"total": tf.reduce_sum(x)},
                            tf.TensorSpec([None], tf.float32))
  with pytest.raises(SystemExit) as exited:
    check.main([version_dir])
  assert exited.value.code == 1
  assert "FAILED" in capsys.readouterr().out

"""Servability checks that run in a fresh process, as TF Serving would load.

Run as a script, never imported: it imports TensorFlow (and ScaNN's op
library only when the graph uses ScaNN ops) and nothing of tfrs-adcg, so a
model that passes here does not secretly depend on our Python code.

    python export/standalone_check.py VERSION_DIR

Prints one JSON object: {"ok": bool, "problems": [...], "ops": [...],
"non_core_ops": [...], ...}; ``non_core_ops`` are the graph's ops that stock
TensorFlow does not register (ScaNN's among them).
"""

import importlib.util
import json
import os
import sys

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

# Dtypes TF Serving's REST API converts to and from JSON.
JSON_DTYPES = {
    tf.string.as_datatype_enum, tf.int64.as_datatype_enum,
    tf.int32.as_datatype_enum, tf.float32.as_datatype_enum,
    tf.float64.as_datatype_enum, tf.bool.as_datatype_enum,
}
PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
SCANN_PREFIX = "Scann"
SERVING_DEFAULT = "serving_default"
WARMUP = os.path.join("assets.extra", "tf_serving_warmup_requests")


def graph_ops(meta_graph) -> set:
  """Every op type in the graph and in its function library."""
  ops = {node.op for node in meta_graph.graph_def.node}
  for function in meta_graph.graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  return ops


def check_ops(ops: set, problems: list) -> bool:
  """Records ops TF Serving cannot run; returns whether ScaNN ops are used."""
  uses_scann = any(op.startswith(SCANN_PREFIX) for op in ops)
  for op in sorted(ops & PYTHON_OPS):
    problems.append(f"op {op} calls back into Python: TF Serving has none")
  for op in sorted(ops - PYTHON_OPS):
    if op.startswith(SCANN_PREFIX):
      continue
    if op_def_registry.get(op) is None:
      problems.append(f"op {op} is not registered in stock TensorFlow "
                      f"{tf.__version__}")
  return uses_scann


def check_signatures(meta_graph, problems: list) -> dict:
  """Batch-major inputs and outputs with JSON-mappable dtypes."""
  signatures = meta_graph.signature_def
  if SERVING_DEFAULT not in signatures:
    problems.append(f"no {SERVING_DEFAULT} signature")
  described = {}
  for name, signature in signatures.items():
    if name.startswith("__"):
      continue
    described[name] = {"inputs": sorted(signature.inputs),
                       "outputs": sorted(signature.outputs)}
    for kind, tensors in (("input", signature.inputs),
                          ("output", signature.outputs)):
      for key, info in tensors.items():
        dims = [d.size for d in info.tensor_shape.dim]
        if info.tensor_shape.unknown_rank or not dims or dims[0] != -1:
          problems.append(f"{name} {kind} {key} has shape {dims}: the batch "
                          "dimension must come first and be open")
        if info.dtype not in JSON_DTYPES:
          problems.append(f"{name} {kind} {key} has dtype "
                          f"{tf.dtypes.as_dtype(info.dtype).name}, which "
                          "TF Serving's JSON API does not map")
  return described


def load_scann_ops() -> None:
  """Registers ScaNN's TF ops from its shared library, without its Python."""
  spec = importlib.util.find_spec("scann")
  if spec is None or not spec.submodule_search_locations:
    raise RuntimeError("the graph uses ScaNN ops but scann is not installed")
  package = spec.submodule_search_locations[0]
  library = os.path.join(package, "scann_ops", "cc", "_scann_ops.so")
  tf.load_op_library(library)


def replay_warmup(version_dir: str, loaded, problems: list) -> int:
  """Parses every warmup record and runs it; returns how many ran."""
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top

  path = os.path.join(version_dir, WARMUP)
  if not tf.io.gfile.exists(path):
    problems.append(f"no warmup requests at {WARMUP}")
    return 0
  count = 0
  for record in tf.data.TFRecordDataset(path):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    request = log.predict_log.request
    signature = request.model_spec.signature_name or SERVING_DEFAULT
    inputs = {key: tf.constant(tf.make_ndarray(proto))
              for key, proto in request.inputs.items()}
    outputs = loaded.signatures[signature](**inputs)
    batch = next(iter(inputs.values())).shape[0]
    for key, value in outputs.items():
      if value.shape[0] != batch:
        problems.append(f"warmup request {count}: output {key} has batch "
                        f"{value.shape[0]}, input has {batch}")
      if value.dtype.is_floating and not bool(
          tf.reduce_all(tf.math.is_finite(value))):
        problems.append(f"warmup request {count}: output {key} not finite")
    count += 1
  if not count:
    problems.append("the warmup file holds no requests")
  return count


def main(version_dir: str) -> dict:
  problems = []
  saved_model = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(version_dir, "saved_model.pb"),
                         "rb") as f:
    saved_model.ParseFromString(f.read())
  meta_graph = saved_model.meta_graphs[0]
  ops = graph_ops(meta_graph)
  non_core_ops = sorted(op for op in ops if op_def_registry.get(op) is None)
  uses_scann = check_ops(ops, problems)
  signatures = check_signatures(meta_graph, problems)
  if uses_scann:
    load_scann_ops()
  loaded = tf.saved_model.load(version_dir)
  warmup_requests = replay_warmup(version_dir, loaded, problems)
  imported = sorted(m for m in ("tfrs_adcg", "beam", "export",
                                "tensorflow_recommenders")
                    if m in sys.modules)
  if imported:
    problems.append(f"the fresh process imported {imported}")
  return {"ok": not problems, "problems": problems, "ops": sorted(ops),
          "non_core_ops": non_core_ops, "uses_scann_ops": uses_scann, "signatures": signatures,
          "warmup_requests": warmup_requests,
          "tensorflow": tf.__version__}


if __name__ == "__main__":
  print(json.dumps(main(sys.argv[1])))

"""The package selects tf-keras and every native part of the stack loads."""

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order


def test_legacy_keras_is_selected():
  assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
  assert tf.keras.__name__.startswith("tf_keras")
  assert tf.keras.layers.Dense.__module__.startswith("tf_keras")


@pytest.mark.integration
def test_entry_packages_select_tf_keras_in_a_fresh_process():
  env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
  for package in ("tfrs_adcg", "beam", "export"):
    out = subprocess.run(
        [sys.executable, "-c",
         f"import {package}, tensorflow as tf; print(tf.keras.__name__)"],
        env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith("tf_keras"), (package, out)


def test_tensorflow_recommenders_builds_a_retrieval_task():
  import tensorflow_recommenders as tfrs  # pylint: disable=g-import-not-at-top

  task = tfrs.tasks.Retrieval()
  queries = tf.constant([[1.0, 0.0], [0.0, 1.0]])
  loss = task(queries, queries)
  assert np.isfinite(float(loss))


def test_scann_ops_search():
  from scann import scann_ops  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  database = rng.normal(size=(200, 8)).astype(np.float32)
  database /= np.linalg.norm(database, axis=1, keepdims=True)
  searcher = scann_ops.builder(database, 5, "dot_product").score_brute_force(
  ).build()
  neighbors, _ = searcher.search_batched(database[:3])
  np.testing.assert_array_equal(neighbors.numpy()[:, 0], [0, 1, 2])


def test_tensorflow_io_reads_parquet_with_its_kernels(tmp_path):
  import tensorflow_io as tfio  # pylint: disable=g-import-not-at-top

  path = str(tmp_path / "t.parquet")
  pq.write_table(pa.table({"x": [1, 2, 3], "s": ["a", "b", "c"]}), path)
  dataset = tfio.IODataset.from_parquet(path)
  rows = list(dataset.as_numpy_iterator())  # Column names come as bytes.
  assert [int(r[b"x"]) for r in rows] == [1, 2, 3]
  assert [r[b"s"] for r in rows] == [b"a", b"b", b"c"]


@pytest.mark.integration
def test_verbose_command_lines_keep_the_import_time_future_warnings():
  check = ("import warnings, tfrs_adcg; print(any(f[0] == 'ignore' and "
           "f[2] is FutureWarning for f in warnings.filters))")
  env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
  quiet, verbose = (
      subprocess.run([sys.executable, "-c", check, *argv], env=env,
                     capture_output=True, text=True, check=True).stdout.strip()
      for argv in ([], ["--input", "x", "-v"]))
  assert (quiet, verbose) == ("True", "False")

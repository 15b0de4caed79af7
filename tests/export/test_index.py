"""Index parameters follow the corpus size and keep ScaNN close to exact."""

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import index as index_lib


def clustered_corpus(size: int, dim: int = 32, clusters: int = 64,
                     seed: int = 0) -> np.ndarray:
  """Unit vectors around random centres, as trained embeddings cluster."""
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(clusters, dim))
  points = centres[rng.integers(clusters, size=size)] + 0.6 * rng.normal(
      size=(size, dim))
  return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(
      np.float32)


def test_parameters_scale_with_the_corpus():
  small = index_lib.ScannParameters.for_corpus(500, k=100)
  large = index_lib.ScannParameters.for_corpus(1_000_000, k=100)
  assert small.num_leaves_to_search == small.num_leaves
  assert small.num_reordering_candidates == 500
  assert large.num_leaves == 1000
  assert large.num_leaves_to_search == 200
  assert large.num_reordering_candidates == 2500
  assert index_lib.ScannParameters.for_corpus(
      1_000_000, k=200).num_reordering_candidates == 5000
  custom = index_lib.ScannParameters.for_corpus(
      1_000_000, k=100, num_leaves=50, num_leaves_to_search=80)
  assert (custom.num_leaves, custom.num_leaves_to_search) == (50, 50)


def test_scann_recall_against_exact_where_only_part_is_searched():
  corpus = clustered_corpus(30_000)
  ids = tf.constant([f"c{i}" for i in range(len(corpus))])
  queries = tf.constant(clustered_corpus(50, seed=1))
  params = index_lib.ScannParameters.for_corpus(len(corpus), k=100)
  assert params.num_leaves_to_search < params.num_leaves
  approximate = index_lib.build_index("scann", ids, tf.constant(corpus), 100)
  exact = index_lib.build_index("brute_force", ids, tf.constant(corpus), 100)
  _, found = approximate(queries)
  _, truth = exact(queries)
  recall = np.mean([len(set(f) & set(t)) / 100
                    for f, t in zip(found.numpy(), truth.numpy())])
  assert recall >= 0.95


@pytest.mark.parametrize("kind,k,size,message", [
    ("annoy", 1, 3, "Unknown index"),
    ("scann", 5, 3, "exceeds"),
    ("partitioned", 5, 3, "exceeds"),
    ("brute_force", 1, 0, "empty"),
    ("partitioned", 1, 0, "empty"),
])
def test_bad_requests_are_refused(kind, k, size, message):
  with pytest.raises(ValueError, match=message):
    index_lib.build_index(kind, tf.constant(["a"] * size, tf.string),
                          tf.zeros([size, 4]), k)

"""The partitioned index: exact when every leaf is searched, graceful recall
as fewer are, stock TensorFlow ops only, edge-case corpora, and the same
index from a stream of batches as from the whole corpus."""

import math

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tensorflow.python.framework import op_def_registry  # pylint: disable=g-direct-tensorflow-import

from export import index as index_lib
from export import partitioned_index

K = 100


def clustered(size: int, dim: int = 32, seed: int = 0,
              spread: float = 1.0) -> np.ndarray:
  """Unit vectors around 64 centres shared by every seed (one distribution)."""
  centres = np.random.default_rng(dim).normal(size=(64, dim))
  rng = np.random.default_rng(seed)
  points = centres[rng.integers(64, size=size)] + spread * rng.normal(
      size=(size, dim))
  return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(
      np.float32)


def ids_of(size: int) -> tf.Tensor:
  return tf.constant([f"c{i}" for i in range(size)])


def recall(found: np.ndarray, truth: np.ndarray) -> float:
  return float(np.mean([len(set(f) & set(t)) / len(t)
                        for f, t in zip(found, truth)]))


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
  return clustered(30_000)


@pytest.fixture(scope="module")
def index(corpus) -> partitioned_index.PartitionedIndex:
  return index_lib.build_index("partitioned", ids_of(len(corpus)),
                               tf.constant(corpus), K)


def test_default_parameters_follow_the_corpus_size():
  small = partitioned_index.PartitionedParameters.for_corpus(5000, k=100)
  assert small.num_leaves == round(2 * math.sqrt(5000))
  assert small.leaves_to_search == small.num_leaves
  large = partitioned_index.PartitionedParameters.for_corpus(10**6, k=100)
  assert (large.num_leaves, large.leaves_to_search) == (2000, 121)
  # Never fewer searched leaves than hold 4k candidates.
  wide = partitioned_index.PartitionedParameters.for_corpus(10**6, k=20_000)
  assert wide.leaves_to_search == 80_000 // 500
  custom = partitioned_index.PartitionedParameters.for_corpus(
      10**6, k=100, num_leaves=50, leaves_to_search=80)
  assert (custom.num_leaves, custom.leaves_to_search) == (50, 50)
  assert partitioned_index.PartitionedParameters.for_corpus(
      1, k=1) == partitioned_index.PartitionedParameters(1, 1)


def test_every_leaf_searched_equals_brute_force(corpus, index):
  queries = tf.constant(clustered(40, seed=1))
  brute_force = index_lib.build_index("brute_force", ids_of(len(corpus)),
                                      tf.constant(corpus), K)
  scores, found = index(queries,
                        leaves_to_search=index.parameters.num_leaves)
  exact_scores, exact = brute_force(queries)
  np.testing.assert_allclose(scores.numpy(), exact_scores.numpy(), atol=1e-5)
  # The same candidates in the same order, up to float ties: each one found
  # has the exact score of the candidate brute force puts in its place.
  rows = np.char.lstrip(found.numpy().astype(str), "c").astype(int)
  np.testing.assert_allclose(
      np.einsum("qd,qkd->qk", queries.numpy(), corpus[rows]),
      exact_scores.numpy(), atol=1e-5)
  assert np.mean(found.numpy() == exact.numpy()) > 0.99


def test_a_batch_finds_what_each_query_finds_alone(corpus, index):
  # Queries of a batch share leaves (near duplicates) and are scored in one
  # product, pairs ordered by leaf: each still gets its own results.
  rng = np.random.default_rng(4)
  queries = clustered(12, seed=4)
  queries = np.concatenate([queries, queries[:6] + 0.01 * rng.normal(
      size=(6, 32)).astype(np.float32)])
  scores, found = index(tf.constant(queries))
  for row, query in enumerate(queries):
    alone_scores, alone = index(tf.constant(query[np.newaxis]))
    np.testing.assert_array_equal(found.numpy()[row], alone.numpy()[0])
    np.testing.assert_allclose(scores.numpy()[row], alone_scores.numpy()[0],
                               atol=1e-6)


def test_query_sets_rank_by_their_best_vector(corpus, index):
  # A user's H vectors are one query set: every leaf searched, the result is
  # the exact top-k by max-sim, each candidate once.
  sets = clustered(5 * 4, seed=6).reshape(5, 4, 32)
  scores, found = index(tf.constant(sets),
                        leaves_to_search=index.parameters.num_leaves)
  best = np.einsum("bhd,nd->bhn", sets, corpus).max(axis=1)
  exact = np.sort(best, axis=1)[:, ::-1][:, :K]
  np.testing.assert_allclose(scores.numpy(), exact, atol=1e-5)
  for row in found.numpy():
    assert len(set(row)) == K
  # A set of one vector is that vector's query.
  one_scores, one = index(tf.constant(sets[:, :1]))
  two_d_scores, two_d = index(tf.constant(sets[:, 0]))
  np.testing.assert_array_equal(one.numpy(), two_d.numpy())
  np.testing.assert_allclose(one_scores.numpy(), two_d_scores.numpy())
  # With few leaves, a set's leaves are those of its vectors' best
  # estimates: it finds at least what its best-scoring vector finds alone.
  few = 4
  _, found_few = index(tf.constant(sets), leaves_to_search=few)
  truth = np.argsort(-best, axis=1)[:, :K]
  truth_ids = np.char.add("c", truth.astype(str)).astype(bytes)
  assert recall(found_few.numpy(), truth_ids) > 0.3


def test_recall_falls_gracefully_with_fewer_leaves(corpus, index):
  params = index.parameters
  assert params.leaves_to_search < params.num_leaves  # Beyond 20k: partial.
  queries = clustered(100, seed=2)
  truth = ids_of(len(corpus)).numpy()[
      np.argsort(-queries @ corpus.T, axis=1)[:, :K]]
  searched = [params.num_leaves, params.num_leaves // 4, params.num_leaves // 16,
              params.leaves_to_search, 4, 1]
  recalls = [recall(index(tf.constant(queries), leaves_to_search=n)[1].numpy(),
                    truth) for n in sorted(searched, reverse=True)]
  assert recalls[0] == 1.0
  assert all(later <= earlier + 1e-9
             for earlier, later in zip(recalls, recalls[1:]))
  _, found = index(tf.constant(queries))  # The default leaves_to_search.
  assert recall(found.numpy(), truth) >= 0.95
  # A quarter of the leaves loses little; a single leaf still finds some.
  assert recalls[1] >= 0.99 and recalls[-1] > 0.1


def test_storage_is_close_to_the_corpus(corpus, index):
  # Slots: leaves capped near the mean, rounded up to whole score chunks.
  slots = index.parameters.num_leaves * index.leaf_rows
  assert index.leaf_rows % partitioned_index.SCORE_CHUNK_ROWS == 0
  assert len(corpus) <= slots <= math.ceil(
      partitioned_index.LEAF_CAPACITY_SLACK * len(corpus)) + (
          index.parameters.num_leaves * partitioned_index.SCORE_CHUNK_ROWS)
  # Floats: D and a padding flag per slot; a centroid and two numbers per
  # leaf.
  leaves = index.parameters.num_leaves
  assert sum(v.shape.num_elements() for v in index.variables
             if v.dtype == tf.float32) == slots * (32 + 1) + leaves * (32 + 2)
  assert index.num_candidates == len(corpus)


def test_streamed_batches_give_the_same_index(corpus, index):
  dataset = tf.data.Dataset.from_tensor_slices(
      (ids_of(len(corpus)), corpus)).batch(7_000)  # The last batch is partial.
  streamed = partitioned_index.PartitionedIndex(
      k=K, name="partitioned").index_from_dataset(dataset)
  assert streamed.parameters == index.parameters
  assert streamed.leaf_rows == index.leaf_rows
  for mine, theirs in zip(streamed.variables, index.variables):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
  queries = tf.constant(clustered(20, seed=3))
  np.testing.assert_array_equal(streamed(queries)[1].numpy(),
                                index(queries)[1].numpy())


def test_a_corpus_smaller_than_k_and_a_corpus_of_one():
  three = clustered(3, dim=8)
  with pytest.raises(ValueError, match="k=5 exceeds the 3 candidates"):
    index_lib.build_index("partitioned", ids_of(3), tf.constant(three), 5)
  index = index_lib.build_index("partitioned", ids_of(3), tf.constant(three),
                                3)
  query = tf.constant(three[:1])
  scores, found = index(query, k=index.parameters.num_leaves * index.leaf_rows)
  # Every real candidate first, best first; the rest is padding.
  assert sorted(found.numpy()[0, :3]) == [b"c0", b"c1", b"c2"]
  assert found.numpy()[0, 0] == b"c0"
  assert (found.numpy()[0, 3:] == b"").all()
  assert (scores.numpy()[0, 3:] == np.finfo(np.float32).min).all()

  one = index_lib.build_index("partitioned", ids_of(1), tf.constant(three[:1]),
                              1)
  assert one.parameters == partitioned_index.PartitionedParameters(1, 1)
  scores, found = one(tf.constant(clustered(4, dim=8, seed=5)))
  np.testing.assert_array_equal(found.numpy(), [[b"c0"]] * 4)
  np.testing.assert_allclose(scores.numpy()[:, 0],
                             clustered(4, dim=8, seed=5) @ three[0], atol=1e-6)


def test_without_identifiers_rows_are_returned():
  rows = clustered(500, dim=8, seed=6)
  index = partitioned_index.PartitionedIndex(k=10).index(tf.constant(rows))
  _, found = index(tf.constant(rows[:5]))
  assert found.dtype == tf.int32
  np.testing.assert_array_equal(found.numpy()[:, 0], np.arange(5))


def test_saved_graph_uses_stock_tensorflow_ops_only(index, tmp_path):
  module = tf.Module()
  module.index = index
  module.top_k = tf.function(
      lambda q: module.index(q, k=K),
      input_signature=[tf.TensorSpec([None, 32], tf.float32)])
  tf.saved_model.save(module, str(tmp_path))
  queries = tf.constant(clustered(8, seed=7))
  reloaded = tf.saved_model.load(str(tmp_path))
  np.testing.assert_array_equal(reloaded.top_k(queries)[1].numpy(),
                                index(queries)[1].numpy())
  graph = module.top_k.get_concrete_function().graph.as_graph_def()
  ops = {node.op for node in graph.node}
  for function in graph.library.function:
    ops.update(node.op for node in function.node_def)
  assert {"TopKV2", "ResourceGather", "MatMul"} <= ops
  assert not [op for op in ops if op.startswith("Scann")]
  assert all(op_def_registry.get(op) is not None for op in ops)


def test_bad_input_is_refused():
  with pytest.raises(ValueError, match="empty"):
    partitioned_index.PartitionedIndex(k=1).index(tf.zeros([0, 4]))
  with pytest.raises(ValueError, match="empty"):
    partitioned_index.PartitionedIndex(k=1).index_from_dataset(
        tf.data.Dataset.from_tensor_slices(tf.zeros([0, 4])).batch(2))
  with pytest.raises(ValueError, match="2 identifiers for 3"):
    partitioned_index.PartitionedIndex(k=1).index(tf.zeros([3, 4]),
                                                  ids_of(2))
  rows = np.ones((4, 4), np.float32)
  rows[2, 1] = np.inf
  with pytest.raises(ValueError, match="2 holds NaN or infinity"):
    partitioned_index.PartitionedIndex(k=1).index(tf.constant(rows))
  with pytest.raises(ValueError, match="Index candidates first"):
    partitioned_index.PartitionedIndex(k=1)(tf.zeros([1, 4]))

"""Max-sim scoring and the merge of several vectors' top k."""

import numpy as np

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import user_vectors


def test_scores_of_several_vectors_are_the_best_dot_product():
  users = tf.constant([[[1.0, 0.0], [0.0, 1.0]]])  # [1, 2, 2]
  candidates = tf.constant([[0.9, 0.1], [0.2, 0.7], [-1.0, -1.0]])
  np.testing.assert_allclose(user_vectors.scores(users, candidates),
                             [[0.9, 0.7, -1.0]])
  np.testing.assert_allclose(
      user_vectors.scores(users[:, 0], candidates), [[0.9, 0.2, -1.0]])


def test_merge_keeps_each_id_once_with_its_best_score():
  scores = tf.constant([[0.9, 0.5, 0.1, 0.95, 0.5, 0.2]])
  ids = tf.constant([["a", "b", "c", "b", "a", "d"]])
  best, best_ids = user_vectors.merge_top_k(scores, ids, 3)
  np.testing.assert_allclose(best, [[0.95, 0.9, 0.2]])
  assert best_ids.numpy().tolist() == [[b"b", b"a", b"d"]]


def test_merge_equals_the_exact_ranking_of_all_vectors():
  rng = np.random.default_rng(0)
  users = tf.constant(rng.normal(size=(5, 3, 4)), tf.float32)
  candidates = tf.constant(rng.normal(size=(40, 4)), tf.float32)
  names = tf.constant([f"c{i}" for i in range(40)])
  k = 7
  per_vector = tf.linalg.matmul(tf.reshape(users, [-1, 4]), candidates,
                                transpose_b=True)
  top, rows = tf.math.top_k(per_vector, k=k)
  merged, merged_ids = user_vectors.merge_top_k(
      tf.reshape(top, [5, -1]), tf.reshape(tf.gather(names, rows), [5, -1]), k)
  exact, exact_rows = tf.math.top_k(user_vectors.scores(users, candidates), k)
  np.testing.assert_allclose(merged, exact, rtol=1e-6)
  assert merged_ids.numpy().tolist() == tf.gather(names,
                                                  exact_rows).numpy().tolist()


def test_merge_of_fewer_distinct_ids_than_k_pads_with_the_first_id():
  scores = tf.constant([[0.3, 0.8, 0.5, 0.1], [0.4, 0.4, 0.2, 0.9]])
  ids = tf.constant([["a", "b", "a", "b"], ["x", "y", "z", "w"]])
  best, best_ids = user_vectors.merge_top_k(scores, ids, 3)
  lowest = np.finfo(np.float32).min
  np.testing.assert_allclose(best, [[0.8, 0.5, lowest], [0.9, 0.4, 0.4]])
  # Equal scores keep the order of the row.
  assert best_ids.numpy().tolist() == [[b"b", b"a", b"a"],
                                       [b"w", b"x", b"y"]]


def test_merge_traces_for_any_batch_and_width():
  merge = tf.function(user_vectors.merge_top_k, input_signature=[
      tf.TensorSpec([None, None], tf.float32),
      tf.TensorSpec([None, None], tf.string), tf.TensorSpec([], tf.int32)])
  best, best_ids = merge(tf.constant([[0.5, 0.7, 0.6]]),
                         tf.constant([["b", "a", "b"]]), tf.constant(2))
  np.testing.assert_allclose(best, [[0.7, 0.6]])
  assert best_ids.numpy().tolist() == [[b"a", b"b"]]
  empty, _ = merge(tf.zeros([0, 3]), tf.fill([0, 3], "a"), tf.constant(2))
  assert empty.shape == (0, 2)

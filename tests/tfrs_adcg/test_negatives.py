"""The negatives' masks."""

import numpy as np

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import negatives


def test_other_positives_mask_by_hand():
  # Query 0's example has labels {a, b}, query 1's {c}; columns: the
  # positives a, c, then the corpus a, b, c, d (the full softmax's layout).
  labels = tf.constant([["a", "b"], ["c", ""]])
  columns = tf.constant(["a", "c", "a", "b", "c", "d"])
  np.testing.assert_array_equal(
      negatives.other_positives_mask(labels, columns).numpy(),
      [[True, True, False, False, True, True],
       [True, True, True, True, False, True]])


def test_other_positives_mask_matches_its_definition_on_random_batches():
  rng = np.random.default_rng(0)
  corpus = np.array([f"id{i}".encode() for i in range(50)])
  for width in (1, 7):
    positives = rng.choice(corpus, 16)
    labels = rng.choice(corpus, (16, width))
    labels[:, 0] = positives
    labels[rng.random((16, width)) < 0.3] = b""
    labels[:, 0] = positives
    columns = np.concatenate([positives, rng.choice(corpus, 40)])
    expected = np.ones((16, columns.size), bool)
    for query in range(16):
      for column, id_ in enumerate(columns):
        if id_ in set(labels[query]) - {b""} and column != query:
          expected[query, column] = False
    np.testing.assert_array_equal(
        negatives.other_positives_mask(tf.constant(labels),
                                       tf.constant(columns)).numpy(),
        expected)

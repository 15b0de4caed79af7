"""The encoder block: shapes and padding masking."""

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg.transformer import TransformerEncoderBlock


def test_padded_positions_do_not_affect_real_positions():
  tf.keras.utils.set_random_seed(3)
  block = TransformerEncoderBlock(num_heads=2, hidden_dim=16, dropout=0.0)
  x = tf.random.normal([2, 5, 8])
  mask = tf.constant([[True, True, True, False, False]] * 2)
  garbage = tf.concat([x[:, :3], 100 * tf.random.normal([2, 2, 8])], axis=1)
  out, out_garbage = block(x, mask), block(garbage, mask)
  assert out.shape == (2, 5, 8)
  np.testing.assert_allclose(out[:, :3].numpy(), out_garbage[:, :3].numpy(),
                             atol=1e-5)
  # Unmasked, the same change does reach the real positions.
  unmasked = tf.ones_like(mask)
  assert not np.allclose(block(x, unmasked)[:, :3].numpy(),
                         block(garbage, unmasked)[:, :3].numpy(), atol=1e-3)


def test_attention_is_bidirectional():
  tf.keras.utils.set_random_seed(3)
  block = TransformerEncoderBlock(num_heads=2, hidden_dim=16, dropout=0.0)
  x = tf.random.normal([1, 4, 8])
  later_changed = tf.concat([x[:, :3], tf.random.normal([1, 1, 8])], axis=1)
  mask = tf.ones([1, 4], tf.bool)
  # The first position sees the last one.
  assert not np.allclose(block(x, mask)[:, 0].numpy(),
                         block(later_changed, mask)[:, 0].numpy())


@pytest.mark.parametrize("causal", [False, True])
def test_queries_are_those_positions_of_the_full_output(causal):
  tf.keras.utils.set_random_seed(3)
  block = TransformerEncoderBlock(num_heads=2, hidden_dim=16, dropout=0.0,
                                  causal=causal)
  x = tf.random.normal([2, 5, 8])
  mask = tf.constant([[True, True, True, False, False], [True] * 5])
  queries = tf.constant([[2, 0, 2], [4, 1, 3]])
  full = block(x, mask)
  queried = block(x, mask, queries=queries)
  assert queried.shape == (2, 3, 8)
  np.testing.assert_allclose(
      queried.numpy(), tf.gather(full, queries, batch_dims=1).numpy(),
      atol=1e-6)

"""A transformer encoder block over a padded event sequence."""

from typing import Optional

import tensorflow as tf


class TransformerEncoderBlock(tf.keras.layers.Layer):
  """Self-attention and a feed-forward network, each a pre-norm residual.

  ``x + Dropout(MultiHeadAttention(LayerNorm(x)))`` then
  ``x + Dropout(FeedForward(LayerNorm(x)))``. Attention is bidirectional,
  or with ``causal`` each position attends to itself and earlier positions
  only; padded positions are never attended to, so their content does not
  change the real positions' outputs.

  Call: ``(x, padding_mask)`` with x float32 [B, T, D] and padding_mask bool
  [B, T] (True for real positions) -> float32 [B, T, D]. With ``queries``,
  int32 [B, Q] positions of x, only those positions' outputs are computed:
  float32 [B, Q, D], row q that of position ``queries[:, q]``, equal to the
  full output's (every position is still attended to). What a pooled
  vector needs of the last block costs Q rows of attention and feed-forward
  network rather than T.
  """

  def __init__(self, num_heads: int, hidden_dim: int, dropout: float,
               causal: bool = False, **kwargs):
    super().__init__(**kwargs)
    self._causal = causal
    self._num_heads = num_heads
    self._hidden_dim = hidden_dim
    self._dropout_rate = dropout

  def build(self, input_shape):
    dim = input_shape[-1]
    self.attention_norm = tf.keras.layers.LayerNormalization(
        epsilon=1e-6, name="attention_norm")
    self.attention = tf.keras.layers.MultiHeadAttention(
        num_heads=self._num_heads, key_dim=dim // self._num_heads,
        dropout=self._dropout_rate, name="attention")
    self.feed_forward_norm = tf.keras.layers.LayerNormalization(
        epsilon=1e-6, name="feed_forward_norm")
    self.feed_forward = tf.keras.Sequential([
        tf.keras.layers.Dense(self._hidden_dim, activation="gelu"),
        tf.keras.layers.Dense(dim),
    ], name="feed_forward")
    self.dropout = tf.keras.layers.Dropout(self._dropout_rate)
    super().build(input_shape)

  def call(self, x: tf.Tensor, padding_mask: tf.Tensor,
           training: bool = False,
           queries: Optional[tf.Tensor] = None) -> tf.Tensor:
    # [B, 1, T]: every query position may attend to every real position;
    # with causal, [B, T, T] (or [B, Q, T]): to the real positions up to its
    # own.
    attention_mask = padding_mask[:, tf.newaxis, :]
    if self._causal:
      length = tf.shape(x)[1]
      earlier = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
      earlier = (earlier[tf.newaxis] if queries is None
                 else tf.gather(earlier, queries))
      attention_mask = tf.logical_and(attention_mask, earlier)
    normed = self.attention_norm(x)
    query = normed
    if queries is not None:
      x = tf.gather(x, queries, batch_dims=1)
      query = tf.gather(normed, queries, batch_dims=1)
    attended = self.attention(query, normed, attention_mask=attention_mask,
                              training=training)
    x = x + self.dropout(attended, training=training)
    transformed = self.feed_forward(self.feed_forward_norm(x))
    return x + self.dropout(transformed, training=training)

"""What the towers share: a Keras model rebuilt from a model dir, not from a
Keras config."""

import tensorflow as tf


class Tower(tf.keras.Model):
  """A tower of ``tfrs_adcg.model``: built from a ``ModelSpec`` and the
  model dir's vocabularies and catalogs, which are no Keras config.

  ``get_config`` says so, as Keras asks subclassed models to: saving a
  SavedModel then records the tower without a config, silently, instead of
  warning that its arguments do not serialize.
  """

  def get_config(self):
    raise NotImplementedError(
        f"{type(self).__name__} is rebuilt from a model dir's config.json "
        "and vocabularies (tfrs_adcg.model), not from a Keras config.")


def content_mlp(dim: int) -> tf.keras.Sequential:
  """A candidate tower's two-layer MLP over its concatenated content
  features: [N, F] -> [N, dim], through a ReLU layer of 2 * dim."""
  return tf.keras.Sequential([
      tf.keras.layers.Dense(2 * dim, activation="relu"),
      tf.keras.layers.Dense(dim),
  ], name="mlp")

"""Towers save into a SavedModel without a Keras config, and say why; the
candidate towers' content MLP."""

import logging

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import tower


class _Doubler(tower.Tower):
  """A tower whose argument is no Keras config value."""

  def __init__(self, unserializable: object):
    super().__init__()
    self.unserializable = unserializable
    self.dense = tf.keras.layers.Dense(2)

  def call(self, x):
    return self.dense(x)


def test_get_config_names_what_rebuilds_the_tower():
  with pytest.raises(NotImplementedError, match="_Doubler is rebuilt"):
    _Doubler(object()).get_config()


def test_saving_a_tower_warns_of_no_arguments(tmp_path, caplog):
  module = tf.Module()
  module.tower = _Doubler(object())
  module.f = tf.function(module.tower,
                         input_signature=[tf.TensorSpec([None, 3])])
  with caplog.at_level(logging.WARNING):
    tf.saved_model.save(module, str(tmp_path / "saved"))
  assert not [r for r in caplog.records if "non-serializable" in r.getMessage()]


def test_content_mlp_maps_features_to_the_embedding_width():
  mlp = tower.content_mlp(8)
  out = mlp(tf.ones([3, 5]))
  assert out.shape == (3, 8)
  assert [layer.units for layer in mlp.layers] == [16, 8]

"""Validation callback: the best epoch, the plateau's decay, early stopping."""

from typing import Dict, List

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import callbacks
from tfrs_adcg import checkpoints
from tfrs_adcg import metrics


class ScriptedEvaluator:
  """Gives each epoch's validation recall from a script."""

  def __init__(self, recalls: List[float]):
    self._recalls = iter(recalls)

  def evaluate(self, baselines: bool = False) -> Dict[str, Dict[str, float]]:
    del baselines
    recall = next(self._recalls)
    return {"model": {f"recall@{k}": recall for k in metrics.RECALL_KS}}


def run_epochs(recalls: List[float], patience: int, decay=None):
  """(learning rate after each epoch, epochs run, best epoch)."""
  model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
  model.compile(optimizer=tf.keras.optimizers.Adam(1.0), loss="mse")
  state = checkpoints.TrainingState()
  callback = callbacks.ValidationEarlyStopping(
      ScriptedEvaluator(recalls), state, patience, decay=decay)
  callback.set_model(model)
  rates = []
  for epoch in range(len(recalls)):
    callback.on_epoch_end(epoch, {})
    rates.append(float(model.optimizer.learning_rate.numpy()))
    if model.stop_training:
      break
  return rates, len(rates), int(state.best_epoch.numpy())


def test_the_plateau_decays_after_each_epoch_without_a_better_recall():
  rates, epochs, best = run_epochs([0.1, 0.2, 0.15, 0.25, 0.2, 0.2, 0.2],
                                   patience=3, decay=0.5)
  assert rates == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.125, 0.0625])
  assert (epochs, best) == (7, 3)


def test_without_decay_the_rate_stays_and_patience_stops():
  rates, epochs, best = run_epochs([0.3, 0.2, 0.2, 0.9], patience=2)
  assert rates == [1.0, 1.0, 1.0]
  assert (epochs, best) == (3, 0)


def test_a_decayed_learning_rate_is_saved_with_the_optimizer(tmp_path):
  variable = tf.Variable([1.0])
  optimizer = tf.keras.optimizers.Adam(1.0)
  optimizer.build([variable])
  optimizer.learning_rate.assign(0.09)
  path = tf.train.Checkpoint(optimizer=optimizer).save(str(tmp_path / "c"))
  restored = tf.keras.optimizers.Adam(1.0)
  restored.build([variable])
  tf.train.Checkpoint(optimizer=restored).restore(path).assert_consumed()
  assert float(restored.learning_rate.numpy()) == pytest.approx(0.09)

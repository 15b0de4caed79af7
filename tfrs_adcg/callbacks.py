"""Keras callbacks of a training run: validation, early stopping, checkpoints."""

import logging
from typing import Optional

import tensorflow as tf

from tfrs_adcg import checkpoints
from tfrs_adcg import metrics
from tfrs_adcg.evaluation import Evaluator

# Early stopping watches the mean of Recall@10/50/100: Recall@100 alone
# saturates at 1 on a corpus of at most 100 candidates.
MONITOR = "mean_recall"
# The ``plateau`` schedule's factor of the learning rate after an epoch
# without a better validation recall. Chosen with the default patience on
# valid splits of three logs (the synthetic time split, three seeds; two
# public leave-one-out logs): a harsher factor stalled training on a small,
# noisy valid split, whose first chance dip cut the rate for good.
PLATEAU_DECAY = 0.5


def log_key(metric: str) -> str:
  """The Keras log (and TensorBoard) name of a validation metric."""
  return "val_" + metric.replace("@", "_at_")


class ValidationEarlyStopping(tf.keras.callbacks.Callback):
  """Full-corpus validation recall after each epoch; keeps the best; decays
  the learning rate on a plateau; stops.

  Adds ``val_recall_at_10`` ... ``val_ndcg_at_10`` and ``val_mean_recall``
  to the epoch logs (so the callbacks after it, TensorBoard and the CSV log,
  record them), records the epoch as the best in ``state`` when the mean
  recall improves (``EpochCheckpoint`` then saves its weights as the best),
  multiplies the optimizer's learning rate by ``decay`` (if given) after
  an epoch without improvement, and stops training after ``patience`` such
  epochs in a row. The epoch checkpoints save ``state`` and the optimizer
  with its learning rate, so a resumed run decays and stops where an
  uninterrupted one would.
  """

  def __init__(self, evaluator: Evaluator, state: checkpoints.TrainingState,
               patience: int, decay: Optional[float] = None):
    super().__init__()
    self._decay = decay
    self._evaluator = evaluator
    self._state = state
    self._patience = patience

  def on_epoch_end(self, epoch, logs=None):
    results = self._evaluator.evaluate(baselines=False)["model"]
    results[MONITOR] = sum(results[f"recall@{k}"]
                           for k in metrics.RECALL_KS) / len(metrics.RECALL_KS)
    if logs is not None:
      logs.update({log_key(name): value for name, value in results.items()})
    recall = results[MONITOR]
    if recall > self._state.best_recall.numpy():
      self._state.best_recall.assign(recall)
      self._state.best_epoch.assign(epoch)
    best_epoch = int(self._state.best_epoch.numpy())
    logging.info("Epoch %d: validation %s %.4f (best %.4f, epoch %d).",
                 epoch + 1, MONITOR, recall, self._state.best_recall.numpy(),
                 best_epoch + 1)
    if self._decay is not None and epoch > best_epoch:
      learning_rate = self.model.optimizer.learning_rate
      learning_rate.assign(learning_rate * self._decay)
      logging.info("Learning rate decayed to %.3g.", learning_rate.numpy())
    if epoch - best_epoch >= self._patience:
      logging.info("Stopping early: no better validation %s for %d epochs.",
                   MONITOR, self._patience)
      self.model.stop_training = True


class EpochCheckpoint(tf.keras.callbacks.Callback):
  """Saves model, optimizer and training state after every epoch, then the
  weights as the best if the epoch is; the last callback of an epoch, so
  that everything the epoch logged precedes the checkpoint that ends it."""

  def __init__(self, epoch_checkpoints: checkpoints.EpochCheckpoints):
    super().__init__()
    self._checkpoints = epoch_checkpoints

  def on_epoch_end(self, epoch, logs=None):
    self._checkpoints.save(epoch + 1)

"""Checkpoints in a model directory: one per epoch to resume from, and the best.

``model_dir/checkpoints/`` holds the model, the optimizer and the training
state (epochs done, best validation recall so far) after each epoch; a run
started again with the same ``--model_dir`` continues after the last of them.
``model_dir/best/`` holds the model weights of the epoch with the best
validation recall (mean of Recall@10/50/100), which is what evaluation, export and
``model.load_trained`` use.
"""

import logging
import os

import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"
_BEST_PREFIX = "weights"


class TrainingState(tf.Module):
  """What early stopping and resuming need besides the weights.

  Attributes:
    epochs_done: Completed epochs.
    best_recall: Best validation mean recall so far (-1 before any).
    best_epoch: The 0-based epoch that reached ``best_recall`` (-1 before).
  """

  def __init__(self):
    super().__init__(name="training_state")
    self.epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.best_recall = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
    self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)


class EpochCheckpoints:
  """Saves and restores the per-epoch training checkpoints.

  Under a multi-worker strategy every worker saves (saving may synchronise
  the workers); only the chief's ``directory`` is the model directory.
  """

  def __init__(self, model: tf.keras.Model, optimizer, state: TrainingState,
               directory: str, max_to_keep: int = 3):
    self._state = state
    self._checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, state=state)
    self._manager = tf.train.CheckpointManager(
        self._checkpoint, os.path.join(directory, CHECKPOINT_DIR),
        max_to_keep=max_to_keep)

  def restore_latest(self) -> int:
    """Restores the last checkpoint if there is one; returns epochs done."""
    path = self._manager.latest_checkpoint
    if path is None:
      return 0
    self._checkpoint.restore(path).assert_existing_objects_matched()
    epochs_done = int(self._state.epochs_done.numpy())
    logging.info("Resuming after epoch %d from %s.", epochs_done, path)
    return epochs_done

  def save(self, epochs_done: int) -> str:
    self._state.epochs_done.assign(epochs_done)
    return self._manager.save(checkpoint_number=epochs_done)


def save_best(model: tf.keras.Model, directory: str) -> None:
  """Writes the model weights as the best so far."""
  tf.train.Checkpoint(model=model).write(
      os.path.join(directory, BEST_DIR, _BEST_PREFIX))


def has_best(model_dir: str) -> bool:
  return tf.io.gfile.exists(
      os.path.join(model_dir, BEST_DIR, _BEST_PREFIX + ".index"))


def restore_weights(model: tf.keras.Model, model_dir: str) -> str:
  """Restores the best weights, or the last epoch's if none is marked best.

  Returns:
    The checkpoint path restored.

  Raises:
    FileNotFoundError: if ``model_dir`` holds no checkpoint.
  """
  checkpoint = tf.train.Checkpoint(model=model)
  if has_best(model_dir):
    path = os.path.join(model_dir, BEST_DIR, _BEST_PREFIX)
    # The model tracks its optimizer, whose slots are not wanted here.
    checkpoint.read(path).expect_partial().assert_existing_objects_matched()
    return path
  path = tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR))
  if path is None:
    raise FileNotFoundError(
        f"{model_dir!r} holds no checkpoint: train a model into it with "
        "`python -m tfrs_adcg.train --model_dir ...` first.")
  checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
  return path

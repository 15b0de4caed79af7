"""Checkpoints in a model directory: one per epoch to resume from, and the best.

``model_dir/checkpoints/`` holds the model, the optimizer and the training
state (epochs done, best validation recall so far) after each epoch; a run
started again with the same ``--model_dir`` continues after the last of them.
``model_dir/best/`` holds the model weights of the epoch with the best
validation recall (mean of Recall@10/50/100), which is what evaluation, export
and ``model.load_trained`` use.

Both are written through ``tf.train.CheckpointManager``: the files of a
checkpoint first, then the ``checkpoint`` file that points at them, replaced
atomically. A killed run thus leaves each folder pointing at a complete
checkpoint. The best weights are written after the epoch checkpoint whose
state records them; a run killed between the two writes them when it resumes.
"""

import logging
import os
from typing import Optional

import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"
_BEST_NAME = "weights"


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


def best_epoch_saved(model_dir: str) -> Optional[int]:
  """The epoch (from 1) whose weights ``model_dir/best/`` holds, if any."""
  path = tf.train.latest_checkpoint(os.path.join(model_dir, BEST_DIR))
  return None if path is None else int(path.rsplit("-", 1)[1])


class EpochCheckpoints:
  """Saves and restores the per-epoch training checkpoints and the best.

  Every process of a run restores from the model directory, so all workers
  of a multi-worker run resume from the same checkpoint. Every worker saves
  the epoch checkpoints (saving may synchronise the workers), a non-chief
  worker into a folder of its own; the best weights only the chief writes.

  Args:
    model: The model; its weights are what ``best/`` holds.
    optimizer: The optimizer, saved with the model in the epoch checkpoints.
    state: The training state, likewise.
    model_dir: The run's model directory.
    worker_dir: A non-chief worker's own folder; None for the chief (or a
      single process).
    max_to_keep: Epoch checkpoints kept.
  """

  def __init__(self, model: tf.keras.Model, optimizer, state: TrainingState,
               model_dir: str, worker_dir: Optional[str] = None,
               max_to_keep: int = 3):
    self._state = state
    self._model_dir = model_dir
    self._checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, state=state)
    self._manager = tf.train.CheckpointManager(
        self._checkpoint,
        os.path.join(worker_dir or model_dir, CHECKPOINT_DIR),
        max_to_keep=max_to_keep)
    self._best = None
    if worker_dir is None:
      best = tf.train.Checkpoint(model=model)
      # Created here, outside any strategy scope: a save that creates no
      # variable is the chief's alone, it waits for no worker.
      best.save_counter  # pylint: disable=pointless-statement
      self._best = tf.train.CheckpointManager(
          best, os.path.join(model_dir, BEST_DIR), max_to_keep=1,
          checkpoint_name=_BEST_NAME)

  def restore_latest(self) -> int:
    """Restores the model dir's last checkpoint if any; returns epochs done.

    Writes the best weights if the run that saved the checkpoint was killed
    before it wrote them.
    """
    path = tf.train.latest_checkpoint(
        os.path.join(self._model_dir, CHECKPOINT_DIR))
    if path is None:
      return 0
    self._checkpoint.restore(path).assert_existing_objects_matched()
    epochs_done = int(self._state.epochs_done.numpy())
    logging.info("Resuming after epoch %d from %s.", epochs_done, path)
    best_epoch = int(self._state.best_epoch.numpy()) + 1
    if (self._best and best_epoch == epochs_done and
        best_epoch_saved(self._model_dir) != best_epoch):
      self._best.save(checkpoint_number=best_epoch)
    return epochs_done

  def save(self, epochs_done: int) -> str:
    """Saves the epoch's checkpoint; then its weights as the best if they are.

    Returns:
      The path of the epoch checkpoint.
    """
    self._state.epochs_done.assign(epochs_done)
    path = self._manager.save(checkpoint_number=epochs_done)
    if self._best and int(self._state.best_epoch.numpy()) + 1 == epochs_done:
      self._best.save(checkpoint_number=epochs_done)
    return path


def has_best(model_dir: str) -> bool:
  return best_epoch_saved(model_dir) is not None


def restore_weights(model: tf.keras.Model, model_dir: str) -> str:
  """Restores the best weights, or the last epoch's if none is marked best.

  Returns:
    The checkpoint path restored.

  Raises:
    FileNotFoundError: if ``model_dir`` holds no checkpoint.
  """
  checkpoint = tf.train.Checkpoint(model=model)
  path = (tf.train.latest_checkpoint(os.path.join(model_dir, BEST_DIR)) or
          tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR)))
  if path is None:
    raise FileNotFoundError(
        f"{model_dir!r} holds no checkpoint: train a model into it with "
        "`python -m tfrs_adcg.train --model_dir ...` first.")
  # The model tracks its optimizer, whose slots are not wanted here.
  checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
  return path

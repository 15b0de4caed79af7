"""Epoch checkpoints and the best weights: order, atomicity, resuming."""

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import checkpoints


def dense_model(value: float) -> tf.keras.Model:
  """A one-layer model whose every weight is ``value``."""
  model = tf.keras.Sequential([tf.keras.layers.Dense(
      2, kernel_initializer=tf.keras.initializers.Constant(value))])
  model.build((None, 3))
  return model


def kernel(model: tf.keras.Model) -> np.ndarray:
  return model.layers[0].kernel.numpy()


def run_checkpoints(model: tf.keras.Model, directory, **kwargs):
  optimizer = tf.keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  state = checkpoints.TrainingState()
  return state, checkpoints.EpochCheckpoints(model, optimizer, state,
                                             str(directory), **kwargs)


def end_epoch(model, state, epoch_checkpoints, epoch: int, best: bool):
  """What training does at the end of the 0-based ``epoch``."""
  model.layers[0].kernel.assign(tf.fill([3, 2], float(epoch)))
  if best:
    state.best_epoch.assign(epoch)
  epoch_checkpoints.save(epoch + 1)


def test_best_holds_the_best_epochs_weights(tmp_path):
  model = dense_model(0.0)
  state, epoch_checkpoints = run_checkpoints(model, tmp_path)
  assert not checkpoints.has_best(str(tmp_path))
  for epoch, best in ((0, True), (1, True), (2, False)):
    end_epoch(model, state, epoch_checkpoints, epoch, best)
  assert checkpoints.best_epoch_saved(str(tmp_path)) == 2
  restored = dense_model(-1.0)
  checkpoints.restore_weights(restored, str(tmp_path))
  np.testing.assert_array_equal(kernel(restored), np.full((3, 2), 1.0))
  # The best folder keeps one checkpoint.
  assert len(tf.io.gfile.glob(str(tmp_path / checkpoints.BEST_DIR /
                                  "*.index"))) == 1


def _save_only_in(folder: str, otherwise):
  """A ``CheckpointManager.save`` that saves only into ``folder``."""
  save = tf.train.CheckpointManager.save

  def patched(manager, *args, **kwargs):
    if manager.directory.endswith(folder):
      return save(manager, *args, **kwargs)
    return otherwise()

  return patched


def test_a_kill_before_the_best_is_written_is_repaired_on_resume(
    tmp_path, monkeypatch):
  model = dense_model(0.0)
  state, epoch_checkpoints = run_checkpoints(model, tmp_path)
  end_epoch(model, state, epoch_checkpoints, 0, best=True)

  def killed(*unused_args, **unused_kwargs):
    raise KeyboardInterrupt("killed after the epoch checkpoint")

  # The epoch checkpoint records epoch 2 as the best; the kill comes before
  # its weights reach best/.
  monkeypatch.setattr(tf.train.CheckpointManager, "save",
                      _save_only_in(checkpoints.CHECKPOINT_DIR, killed))
  with pytest.raises(KeyboardInterrupt):
    end_epoch(model, state, epoch_checkpoints, 1, best=True)
  monkeypatch.undo()
  assert checkpoints.best_epoch_saved(str(tmp_path)) == 1

  resumed = dense_model(-1.0)
  resumed_state, resumed_checkpoints = run_checkpoints(resumed, tmp_path)
  assert resumed_checkpoints.restore_latest() == 2
  assert int(resumed_state.best_epoch.numpy()) == 1
  assert checkpoints.best_epoch_saved(str(tmp_path)) == 2
  best = dense_model(-1.0)
  checkpoints.restore_weights(best, str(tmp_path))
  np.testing.assert_array_equal(kernel(best), np.full((3, 2), 1.0))


def test_a_half_written_best_is_never_read(tmp_path):
  model = dense_model(0.0)
  state, epoch_checkpoints = run_checkpoints(model, tmp_path)
  end_epoch(model, state, epoch_checkpoints, 0, best=True)
  # A kill while the next best's files are written: they exist, cut short,
  # but the pointer still names the complete one.
  best_dir = tmp_path / checkpoints.BEST_DIR
  (best_dir / "weights-2.index").write_bytes(b"\x00" * 7)
  (best_dir / "weights-2.data-00000-of-00001").write_bytes(b"")
  restored = dense_model(-1.0)
  assert checkpoints.restore_weights(restored, str(tmp_path)).endswith(
      "weights-1")
  np.testing.assert_array_equal(kernel(restored), np.zeros((3, 2)))


def test_every_worker_resumes_from_the_chiefs_checkpoint(tmp_path):
  model_dir, worker_dir = tmp_path / "model_dir", tmp_path / "worker"
  model = dense_model(0.0)
  state, epoch_checkpoints = run_checkpoints(model, model_dir)
  end_epoch(model, state, epoch_checkpoints, 0, best=True)
  end_epoch(model, state, epoch_checkpoints, 1, best=False)

  worker = dense_model(-1.0)
  worker_state, worker_checkpoints = run_checkpoints(
      worker, model_dir, worker_dir=str(worker_dir))
  assert worker_checkpoints.restore_latest() == 2
  assert int(worker_state.best_epoch.numpy()) == 0
  np.testing.assert_array_equal(kernel(worker), np.full((3, 2), 1.0))
  # The worker saves epochs into its own folder, and no best weights.
  end_epoch(worker, worker_state, worker_checkpoints, 2, best=True)
  assert tf.train.latest_checkpoint(
      str(model_dir / checkpoints.CHECKPOINT_DIR)).endswith("ckpt-2")
  assert tf.train.latest_checkpoint(
      str(worker_dir / checkpoints.CHECKPOINT_DIR)).endswith("ckpt-3")
  assert checkpoints.best_epoch_saved(str(model_dir)) == 1
  assert not checkpoints.has_best(str(worker_dir))


def test_restore_weights_without_a_checkpoint_says_how_to_train(tmp_path):
  with pytest.raises(FileNotFoundError, match="python -m tfrs_adcg.train"):
    checkpoints.restore_weights(dense_model(0.0), str(tmp_path))

"""Trains the retrieval model on a preprocessed data dir and evaluates it.

``train(config)`` writes into ``config.model_dir``: ``config.json``,
``assets/`` (the vocabularies, so the directory is self-contained),
``checkpoints/`` (one per epoch), ``best/`` (the weights of the best
validation epoch), ``tensorboard/``, ``training_log.csv`` (one row per
epoch) and ``metrics.json`` (Recall@10/50/100 and NDCG@10 on the valid and
the eval split for the model and the baselines; the eval table is also
printed). ``tfrs_adcg.train`` is its command line.

A run given a model dir with checkpoints resumes after the last of them and
ends as an uninterrupted run would: the input stream continues after the
batches the checkpoint's epochs read, and early stopping keeps its state
(``run_config.check_resumable`` says what it must keep).

Validation (early stopping, the best epoch) uses the ``valid`` split; the
``eval`` split is read once, at the end, by the chosen weights.

With ``strategy="multi_worker"`` every worker runs ``train``; the chief
(``distribution.is_chief``) writes the model dir, the others a folder of
their own, and every worker resumes from the model dir's checkpoints.
"""

import csv
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Tuple, Union

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from tfrs_adcg import baselines
from tfrs_adcg import callbacks
from tfrs_adcg import checkpoints
from tfrs_adcg import data
from tfrs_adcg import distribution
from tfrs_adcg import item_content
from tfrs_adcg import metrics
from tfrs_adcg import model as model_lib
from tfrs_adcg import run_config
from tfrs_adcg import schema
from tfrs_adcg import vocabulary
from tfrs_adcg.config import PLATEAU, WARMUP_COSINE, TrainConfig
from tfrs_adcg.evaluation import Evaluator
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.model import ASSETS_DIR, RetrievalModel
from tfrs_adcg.model_spec import DENSE

METRICS_FILE = "metrics.json"
# metrics.json: the split the epoch was chosen on, that epoch (from 1), and
# the metrics per ranker on the valid and the eval split.
SELECTED_ON = "selected_on"
BEST_EPOCH = "best_epoch"
TENSORBOARD_DIR = "tensorboard"
TRAINING_LOG = "training_log.csv"


@dataclasses.dataclass
class TrainResult:
  """What a run did.

  Attributes:
    metrics: Eval-split metrics per ranker, as in ``metrics.json`` (empty on
      non-chief workers).
    initial_epoch: Epochs already done when this run started (resumed).
    epochs_done: Epochs done when it ended.
    history: Per-epoch logs of this run's epochs (loss, validation metrics).
    chief: Whether this process wrote the model dir (the chief of a
      multi-worker run, or the only process).
  """
  metrics: Dict[str, Dict[str, float]]
  initial_epoch: int
  epochs_done: int
  history: Dict[str, List[float]]
  chief: bool


def train(config: TrainConfig) -> TrainResult:
  """Trains, validates each epoch, evaluates the best epoch."""
  manifest = data.check_data_dir(config.data)
  # A multi-worker strategy must exist before TensorFlow runs any op, and
  # resolving the defaults reads training examples.
  strategy = distribution.make_strategy(config.strategy)
  with data.naming_corrupt_shards(config.data):
    config = run_config.resolve_config(config, manifest)
  run_config.check_history_length(config, manifest)
  config = dataclasses.replace(config, data=_absolute(config.data))
  if config.batch_size % strategy.num_replicas_in_sync:
    raise ValueError(
        f"batch_size {config.batch_size} does not split evenly over "
        f"{strategy.num_replicas_in_sync} replicas.")
  tf.keras.utils.set_random_seed(config.seed)

  chief = distribution.is_chief(strategy)
  write_dir = config.model_dir if chief else tempfile.mkdtemp(prefix="worker")
  vocabularies, training_items = _prepare_model_dir(config, write_dir)
  num_pairs = sum(vocabularies.positives.values())
  steps_per_epoch = config.steps_per_epoch or max(
      1, num_pairs // config.batch_size)

  with strategy.scope():
    model = model_lib.build(config.model_spec(), vocabularies, training_items,
                            config.item_catalog)
    model.build_towers()
    optimizer = tf.keras.optimizers.Adam(
        _learning_rate(config, steps_per_epoch))
    optimizer.build(model.trainable_variables)
    model.compile(optimizer=optimizer)
    state = checkpoints.TrainingState()
  epoch_checkpoints = checkpoints.EpochCheckpoints(
      model, optimizer, state, config.model_dir,
      worker_dir=None if chief else write_dir)
  initial_epoch = epoch_checkpoints.restore_latest()
  if chief:
    _trim_training_log(os.path.join(write_dir, TRAINING_LOG), initial_epoch)

  validation = Evaluator(model, data.shard_paths(config.data, schema.VALID),
                         baselines.for_model(model, vocabularies))
  logging.info(
      "Training on %d (example, positive) pairs a pass, %d steps of %d; "
      "validating on the valid split; %s task, %d candidates with an id "
      "embedding.", num_pairs, steps_per_epoch, config.batch_size,
      config.task, int(model.candidate_ids().shape[0]))

  history = {}
  if _should_train(config, state, initial_epoch):
    # The stream is deterministic: skipping the batches of the epochs done
    # continues it where the run that saved the checkpoint was.
    dataset = training_dataset(config, manifest).skip(
        initial_epoch * steps_per_epoch)
    with data.naming_corrupt_shards(config.data):
      history = model.fit(
          dataset,
          epochs=config.epochs,
          initial_epoch=initial_epoch,
          steps_per_epoch=steps_per_epoch,
          callbacks=_callbacks(config, validation, state, epoch_checkpoints,
                               write_dir),
          verbose=_fit_verbosity(chief)).history

  results = {}
  if chief:
    with data.naming_corrupt_shards(config.data):
      results = _evaluate_best(model, config, vocabularies, validation,
                               state)
  else:
    shutil.rmtree(write_dir, ignore_errors=True)
  return TrainResult(metrics=results, initial_epoch=initial_epoch,
                     epochs_done=int(state.epochs_done.numpy()),
                     history=history, chief=chief)


def _callbacks(config: TrainConfig, validation: Evaluator,
               state: checkpoints.TrainingState,
               epoch_checkpoints: checkpoints.EpochCheckpoints,
               write_dir: str) -> List[tf.keras.callbacks.Callback]:
  """Validation first: the callbacks after it log its metrics. The epoch
  checkpoint last: a run killed before it redoes the epoch, and drops the
  epoch's log row (``_trim_training_log``)."""
  return [
      callbacks.ValidationEarlyStopping(
          validation, state, config.patience,
          decay=(callbacks.PLATEAU_DECAY
                 if config.learning_rate_schedule == PLATEAU else None)),
      tf.keras.callbacks.TensorBoard(os.path.join(write_dir, TENSORBOARD_DIR)),
      tf.keras.callbacks.CSVLogger(os.path.join(write_dir, TRAINING_LOG),
                                   append=True),
      tf.keras.callbacks.TerminateOnNaN(),
      callbacks.EpochCheckpoint(epoch_checkpoints),
  ]


def read_metrics(model_dir: str) -> Dict:
  """``model_dir``'s metrics.json: the split and epoch it was selected on
  (``SELECTED_ON``, ``BEST_EPOCH``) and the metrics per ranker of the valid
  and the eval split."""
  with tf.io.gfile.GFile(os.path.join(model_dir, METRICS_FILE)) as f:
    return json.load(f)


def training_dataset(config: TrainConfig, manifest: dict) -> tf.data.Dataset:
  """The objective's endless stream of training batches."""
  paths = data.shard_paths(config.data, schema.TRAIN)
  if config.objective == DENSE:
    return data.dense_training_dataset(
        paths, config.batch_size, config.max_seq_len, config.shuffle_buffer,
        config.seed, data.DenseTargets.from_manifest(
            manifest, config.task, config.dense_target == "next"))
  return data.training_dataset(
      paths, config.batch_size, config.max_seq_len, config.shuffle_buffer,
      config.seed, schema.label_feature(config.task))


def _fit_verbosity(chief: bool) -> int:
  """Keras' progress: a live bar on a terminal, one line an epoch in a log
  file (the bar would write a line a step there), nothing off the chief."""
  if not chief:
    return 0
  return 1 if sys.stdout.isatty() else 2


def _learning_rate(config: TrainConfig, steps_per_epoch: int
                   ) -> Union[float, tf.keras.optimizers.schedules
                              .LearningRateSchedule]:
  """The configured learning rate, or its schedule over all the steps."""
  if config.learning_rate_schedule != WARMUP_COSINE:
    return config.learning_rate  # The plateau's decay is a callback's.
  total_steps = config.epochs * steps_per_epoch
  warmup_steps = min(config.warmup_steps, total_steps - 1)
  return tf.keras.optimizers.schedules.CosineDecay(
      initial_learning_rate=0.0,
      decay_steps=total_steps - warmup_steps,
      warmup_target=config.learning_rate,
      warmup_steps=warmup_steps)


def _evaluate_best(model: RetrievalModel, config: TrainConfig,
                   vocabularies: vocabulary.Vocabularies,
                   validation: Evaluator,
                   state: checkpoints.TrainingState) -> Dict[str, Dict]:
  """Valid- and eval-split metrics of the best weights (the best valid
  epoch's); writes them to ``metrics.json`` and prints the eval table.

  The eval split is read here only, once, after every choice was made on
  the valid split.
  """
  checkpoints.restore_weights(model, config.model_dir)
  advertiser_model = (model_lib.load_trained(config.advertiser_model_dir)
                      if config.advertiser_model_dir else None)
  evaluator = Evaluator(model, data.shard_paths(config.data, schema.EVAL),
                        baselines.for_model(model, vocabularies,
                                            config.item_catalog,
                                            advertiser_model))
  results = evaluator.evaluate()
  best_epoch = int(state.best_epoch.numpy()) + 1
  with tf.io.gfile.GFile(os.path.join(config.model_dir, METRICS_FILE),
                         "w") as f:
    json.dump({SELECTED_ON: schema.VALID, BEST_EPOCH: best_epoch,
               schema.VALID: validation.evaluate(),
               schema.EVAL: results}, f, indent=2)
  print(f"Eval split, exact ranking of {evaluator.corpus_size} candidates "
        f"(epoch {best_epoch}, the best on the valid split):")
  print(metrics.format_table(results))
  if metrics.COLD_START_USERS in results["model"]:
    print(metrics.format_cold_start_table(results))
  return results


def _prepare_model_dir(config: TrainConfig, write_dir: str
                       ) -> Tuple[vocabulary.Vocabularies,
                                  Optional[ItemContent]]:
  """Writes config and assets for a new run; checks the config of a resumed
  one.

  Args:
    config: The run's configuration.
    write_dir: Where this process writes: the model dir, or a non-chief
      worker's own folder. A run resumes when ``config.model_dir`` holds
      checkpoints; every worker then reads the assets there.

  Returns:
    The vocabularies of the run, read from the model dir's own copy (a
    resumed run keeps the ids it was trained with), and for the item task
    the content of the training items, likewise.
  """
  resuming = tf.io.gfile.exists(os.path.join(config.model_dir,
                                             checkpoints.CHECKPOINT_DIR))
  if resuming:
    run_config.check_resumable(config, TrainConfig.load(config.model_dir))
    assets = os.path.join(config.model_dir, ASSETS_DIR)
  else:
    assets = os.path.join(write_dir, ASSETS_DIR)
    tf.io.gfile.makedirs(write_dir)
    vocabulary.copy_assets(config.data, assets)
  vocabularies = vocabulary.read_vocabularies(assets)
  if config.item_task and not resuming:
    item_ids = item_content.model_item_ids(vocabularies.trained_candidates(),
                                           vocabularies.item_ids)
    found = item_content.write_training_items(
        config.item_catalog, item_ids,
        os.path.join(assets, item_content.TRAINING_ITEMS), config.pretrained)
    logging.info("%d of the %d training and history items are in the item "
                 "catalog.", found, len(item_ids))
  config.save(write_dir)
  return vocabularies, model_lib.read_training_items(
      assets, config.model_spec(), vocabularies)


def _absolute(path: str) -> str:
  """A local path made absolute (``config.json`` then names the data dir
  wherever the run is resumed from); a URL as it is."""
  return path if "://" in path else os.path.abspath(path)


def _trim_training_log(path: str, epochs_done: int) -> None:
  """Drops the log rows of epochs after ``epochs_done``: a killed run's,
  which the resumed run does again."""
  if not tf.io.gfile.exists(path):
    return
  with tf.io.gfile.GFile(path) as f:
    rows = list(csv.reader(f))
  kept = [row for row in rows[1:] if int(row[0]) < epochs_done]
  if len(kept) == len(rows) - 1:
    return
  with tf.io.gfile.GFile(path, "w") as f:
    csv.writer(f).writerows(rows[:1] + kept)


def _should_train(config: TrainConfig, state: checkpoints.TrainingState,
                  initial_epoch: int) -> bool:
  """False when a resumed run had already finished or stopped early."""
  if initial_epoch >= config.epochs:
    return False
  best_epoch = int(state.best_epoch.numpy())
  return best_epoch < 0 or initial_epoch - 1 - best_epoch < config.patience

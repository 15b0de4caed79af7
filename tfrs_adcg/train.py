"""Trains the retrieval model on a preprocessed data dir and evaluates it.

    python -m tfrs_adcg.train --data data/ --model_dir runs/x \
        [--epochs 20] [--steps_per_epoch 100] [--no_logq] [--pooling last]
        [--strategy default|mirrored|multi_worker] [--export_dir serving/adcg]
    python -m tfrs_adcg.train --data item_data/ --model_dir runs/items \
        --item_catalog items.parquet [--no_pretrained] \
        [--advertiser_model_dir runs/x]

Writes into ``--model_dir``: ``config.json``, ``assets/`` (the vocabularies,
so the directory is self-contained), ``checkpoints/`` (one per epoch), ``best/``
(the weights of the best validation epoch), ``tensorboard/``,
``training_log.csv`` (one row per epoch) and ``metrics.json``
(Recall@10/50/100 and NDCG@10 on the valid and the eval split for the model
and both baselines; the eval table is also printed).

Running the same command again (after a kill, or with more ``--epochs``)
resumes after the last checkpoint and ends as an uninterrupted run would:
the input stream continues after the batches the checkpoint's epochs read,
and early stopping keeps its state. A resumed run must keep the settings of
``config.RESUME_FIELDS`` (the data, the architecture, the objective, the
learning rate, the batch size, the seed); it is refused, naming the fields,
if it does not.

``--max_seq_len`` may not exceed the history length the data was
preprocessed with (its manifest's ``config.max_seq_len``): longer histories
are not in the data, so such a run is refused.

A truncated or corrupted shard of ``--data`` ends the run with an error that
names it (``data.CorruptShardError``). The command ends such an error, and
any other bad flag or input (a ``ValueError``), with one line
``tfrs_adcg.train: error: ...`` and exit status 2.

Validation (early stopping, the best epoch) uses the ``valid`` split; the
``eval`` split is read once, at the end, by the chosen weights.

The task (advertisers or items as candidates) is the one the data was
preprocessed for (``beam.preprocess --task``); ``--task`` may state it and
must then agree. The item task needs ``--item_catalog`` (Parquet, or TFRecord
shards): it is the content of every item, the corpus of evaluation and of the
exported index; ``metrics.json`` then also holds cold-start recall and the
item baselines.

``--strategy multi_worker`` reads the cluster from ``TF_CONFIG``; start the
same command on every worker. Worker 0 (or the chief) writes the model dir;
every worker must be able to read it (a shared filesystem or bucket), as
every worker resumes from its checkpoints. After a kill, start every worker
again.
"""

import argparse
import csv
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf

from tfrs_adcg import callbacks
from tfrs_adcg import checkpoints
from tfrs_adcg import command_log
from tfrs_adcg import data
from tfrs_adcg import flags
from tfrs_adcg import item_catalog
from tfrs_adcg import item_content
from tfrs_adcg import metrics
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg import vocabulary
from tfrs_adcg import negatives
from tfrs_adcg.config import LEARNING_RATE_SCHEDULES, RESUME_FIELDS
from tfrs_adcg.config import DENSE, DENSE_TARGETS, OBJECTIVES, POOLINGS
from tfrs_adcg.config import STRATEGIES
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.evaluation import Evaluator, ItemBaselines
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.model import ASSETS_DIR, RetrievalModel

METRICS_FILE = "metrics.json"
# metrics.json: the split the epoch was chosen on, that epoch (from 1), and
# the metrics per ranker on the valid and the eval split.
SELECTED_ON = "selected_on"
BEST_EPOCH = "best_epoch"
TENSORBOARD_DIR = "tensorboard"
TRAINING_LOG = "training_log.csv"
# The default --num_repeat_vectors of advertiser models of pooled queries
# (chosen on the valid split of the synthetic log, three seeds).
REPEAT_VECTORS = 8


@dataclasses.dataclass
class TrainResult:
  """What a run did.

  Attributes:
    metrics: Eval-split metrics per ranker, as in ``metrics.json`` (empty on
      non-chief workers).
    initial_epoch: Epochs already done when this run started (resumed).
    epochs_done: Epochs done when it ended.
    history: Per-epoch logs of this run's epochs (loss, validation metrics).
  """
  metrics: Dict[str, Dict[str, float]]
  initial_epoch: int
  epochs_done: int
  history: Dict[str, List[float]]


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
  """Command-line flags to a ``TrainConfig``: a flag per field, its help the
  field's documentation."""
  from export import index  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  flags.add_flags(parser, TrainConfig, {
      "learning_rate_schedule": flags.Flag(choices=LEARNING_RATE_SCHEDULES),
      "negatives": flags.Flag(choices=negatives.KINDS),
      "objective": flags.Flag(choices=OBJECTIVES),
      "dense_target": flags.Flag(choices=DENSE_TARGETS),
      "pooling": flags.Flag(choices=POOLINGS),
      "history_item_ids": flags.Flag(names=(
          "--history_item_ids", "--no_history_item_ids",
          "--no-history_item_ids")),
      "strategy": flags.Flag(choices=STRATEGIES),
      "export_index": flags.Flag(choices=index.INDEX_KINDS),
      "task": flags.Flag(choices=schema.TASKS),
  })
  return flags.from_args(TrainConfig, parser.parse_args(argv))


def main(argv: Optional[Sequence[str]] = None) -> TrainResult:
  command_log.configure()
  return train(parse_args(argv))


def train(config: TrainConfig) -> TrainResult:
  """Trains, validates each epoch, evaluates the best epoch, exports."""
  manifest = data.check_data_dir(config.data)
  config = resolve_config(config, manifest)
  _check_history_length(config, manifest)
  config = dataclasses.replace(config, data=_absolute(config.data))
  # A multi-worker strategy must exist before TensorFlow runs any op.
  strategy = _make_strategy(config.strategy)
  if config.batch_size % strategy.num_replicas_in_sync:
    raise ValueError(
        f"batch_size {config.batch_size} does not split evenly over "
        f"{strategy.num_replicas_in_sync} replicas.")
  tf.keras.utils.set_random_seed(config.seed)

  chief = _is_chief(strategy)
  write_dir = config.model_dir if chief else tempfile.mkdtemp(prefix="worker")
  vocabularies, training_items = _prepare_model_dir(config, write_dir)
  num_pairs = sum(vocabularies.positives.values())
  steps_per_epoch = config.steps_per_epoch or max(
      1, num_pairs // config.batch_size)

  with strategy.scope():
    model = RetrievalModel(config, vocabularies, training_items)
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

  popularity = (vocabularies.trained_candidates() if config.item_task
                else vocabularies.popularity_ranking())
  validation = Evaluator(model, data.shard_paths(config.data, schema.VALID),
                         popularity)
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
          verbose=1 if chief else 0).history

  results = {}
  if chief:
    with data.naming_corrupt_shards(config.data):
      results = _evaluate_best(model, config, vocabularies, validation,
                               popularity, state)
    if config.export_dir:
      from export import savedmodel  # pylint: disable=g-import-not-at-top
      savedmodel.export(model_dir=config.model_dir,
                        export_dir=config.export_dir,
                        index=config.export_index, k=100)
  else:
    shutil.rmtree(write_dir, ignore_errors=True)
  return TrainResult(metrics=results, initial_epoch=initial_epoch,
                     epochs_done=int(state.epochs_done.numpy()),
                     history=history)


def _callbacks(config: TrainConfig, validation: Evaluator,
               state: checkpoints.TrainingState,
               epoch_checkpoints: checkpoints.EpochCheckpoints,
               write_dir: str) -> List[tf.keras.callbacks.Callback]:
  """Validation first: the callbacks after it log its metrics. The epoch
  checkpoint last: a run killed before it redoes the epoch, and drops the
  epoch's log row (``_trim_training_log``)."""
  return [
      callbacks.ValidationEarlyStopping(validation, state, config.patience),
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


def _learning_rate(config: TrainConfig, steps_per_epoch: int
                   ) -> Union[float, tf.keras.optimizers.schedules
                              .LearningRateSchedule]:
  """The configured learning rate, or its schedule over all the steps."""
  if config.learning_rate_schedule == "constant":
    return config.learning_rate
  total_steps = config.epochs * steps_per_epoch
  warmup_steps = min(config.warmup_steps, total_steps - 1)
  return tf.keras.optimizers.schedules.CosineDecay(
      initial_learning_rate=0.0,
      decay_steps=total_steps - warmup_steps,
      warmup_target=config.learning_rate,
      warmup_steps=warmup_steps)


def _evaluate_best(model: RetrievalModel, config: TrainConfig,
                   vocabularies: vocabulary.Vocabularies,
                   validation: Evaluator, popularity: List[str],
                   state: checkpoints.TrainingState) -> Dict[str, Dict]:
  """Valid- and eval-split metrics of the best weights (the best valid
  epoch's); writes them to ``metrics.json`` and prints the eval table.

  The eval split is read here only, once, after every choice was made on
  the valid split.
  """
  checkpoints.restore_weights(model, config.model_dir)
  item_baselines = None
  if config.item_task:
    advertiser_model = (model_lib.load_trained(config.advertiser_model_dir)
                        if config.advertiser_model_dir else None)
    item_baselines = ItemBaselines.read(config.item_catalog,
                                        vocabularies.positives,
                                        advertiser_model)
  evaluator = Evaluator(model, data.shard_paths(config.data, schema.EVAL),
                        popularity, item_baselines=item_baselines)
  results = evaluator.evaluate()
  best_epoch = int(state.best_epoch.numpy()) + 1
  with tf.io.gfile.GFile(os.path.join(config.model_dir, METRICS_FILE),
                         "w") as f:
    json.dump({SELECTED_ON: schema.VALID, BEST_EPOCH: best_epoch,
               schema.VALID: validation.evaluate(),
               schema.EVAL: results}, f, indent=2)
  corpus = ("the item catalog" if config.item_task
            else f"{len(popularity)} candidates")
  print(f"Eval split, exact ranking of {corpus} "
        f"(epoch {best_epoch}, the best on the valid split):")
  print(metrics.format_table(results))
  if config.item_task:
    print(metrics.format_cold_start_table(results))
  return results


def resolve_config(config: TrainConfig, manifest: dict) -> TrainConfig:
  """The config with the data's task and that task's defaults of the
  fields left unset (``history_item_ids``, ``num_user_vectors``,
  ``num_repeat_vectors``); refuses
  a --task that disagrees."""
  task = data.data_task(manifest)
  if config.task is not None and config.task != task:
    raise ValueError(
        f"--task {config.task} does not match the data: {config.data!r} was "
        f"preprocessed with --task {task}. Preprocess with --task "
        f"{config.task} or drop --task.")
  if task == schema.ITEM_TASK:
    if not config.item_catalog:
      raise ValueError(
          f"{config.data!r} holds item-level data: pass the item catalog "
          "with --item_catalog items.parquet.")
    item_catalog.check_catalog(config.item_catalog, config.pretrained)
  elif config.item_catalog or config.advertiser_model_dir:
    raise ValueError(
        "--item_catalog and --advertiser_model_dir are for item-level data; "
        f"{config.data!r} was preprocessed with --task {task}.")
  item_task = task == schema.ITEM_TASK
  history_item_ids = config.history_item_ids
  if history_item_ids is None:
    history_item_ids = item_task
  num_user_vectors = config.num_user_vectors
  if num_user_vectors is None:
    num_user_vectors = 1 if item_task or config.objective == DENSE else 4
  num_repeat_vectors = config.num_repeat_vectors
  if num_repeat_vectors is None:
    num_repeat_vectors = (0 if item_task or config.objective == DENSE
                          else REPEAT_VECTORS)
  return dataclasses.replace(config, task=task,
                             history_item_ids=history_item_ids,
                             num_user_vectors=num_user_vectors,
                             num_repeat_vectors=num_repeat_vectors)


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
    _check_resumable(config, TrainConfig.load(config.model_dir))
    assets = os.path.join(config.model_dir, ASSETS_DIR)
  else:
    assets = os.path.join(write_dir, ASSETS_DIR)
    tf.io.gfile.makedirs(write_dir)
    vocabulary.copy_assets(config.data, assets)
  vocabularies = vocabulary.read_vocabularies(assets)
  if not config.item_task:
    config.save(write_dir)
    return vocabularies, None
  training_items = os.path.join(assets, item_content.TRAINING_ITEMS)
  item_ids = item_content.model_item_ids(vocabularies.trained_candidates(),
                                         vocabularies.item_ids)
  if not resuming:
    found = item_content.write_training_items(
        config.item_catalog, item_ids, training_items, config.pretrained)
    logging.info("%d of the %d training and history items are in the item "
                 "catalog.", found, len(item_ids))
  config.save(write_dir)
  return vocabularies, item_content.read_training_items(
      training_items, item_ids, config.pretrained)


def _check_resumable(config: TrainConfig, previous: TrainConfig) -> None:
  """Refuses to resume ``previous``'s run with other ``RESUME_FIELDS``.

  With the ``warmup_cosine`` schedule, whose length it sets, ``epochs`` must
  be kept too.
  """
  names = list(RESUME_FIELDS)
  if config.learning_rate_schedule == "warmup_cosine":
    names.append("epochs")
  changed = [f"{name} {getattr(previous, name)!r} (now "
             f"{getattr(config, name)!r})" for name in names
             if getattr(previous, name) != getattr(config, name)]
  if changed:
    raise ValueError(
        f"{config.model_dir!r} holds a run trained with other settings: "
        f"{'; '.join(changed)}. Resume it with the same flags, or train "
        "into a new --model_dir.")


def _check_history_length(config: TrainConfig, manifest: dict) -> None:
  """Refuses a ``max_seq_len`` above the data's history length."""
  kept = manifest.get("config", {}).get("max_seq_len")
  if kept is not None and config.max_seq_len > kept:
    raise ValueError(
        f"--max_seq_len {config.max_seq_len} is beyond the data: "
        f"beam.preprocess kept at most {kept} events of each history in "
        f"{config.data!r} (config.max_seq_len of its {schema.MANIFEST}). "
        f"Train with --max_seq_len {kept} or less, or preprocess again "
        f"with --max_seq_len {config.max_seq_len}.")


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


def _make_strategy(name: str) -> tf.distribute.Strategy:
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy multi_worker needs the cluster in the "
                       "TF_CONFIG environment variable.")
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return resolver.task_type == "worker" and resolver.task_id == 0 and (
      not has_chief)


if __name__ == "__main__":
  try:
    main()
  except ValueError as e:  # A bad flag or input: its message, no trace.
    print(f"tfrs_adcg.train: error: {e}", file=sys.stderr)
    sys.exit(2)

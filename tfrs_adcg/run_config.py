"""A run's config checked against its data and the run it resumes.

``resolve_config`` fills in what the data decides (the task) and the task's
defaults; ``check_history_length`` and ``check_resumable`` refuse a run that
could not do what it asks.
"""

import dataclasses
import logging

from tfrs_adcg import data
from tfrs_adcg import item_catalog
from tfrs_adcg import schema
from tfrs_adcg.config import RESUME_FIELDS
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model_spec import DENSE

# The default --num_repeat_vectors of pooled queries (chosen on the valid
# split of the synthetic log: three seeds for advertisers, one for items).
REPEAT_VECTORS = 8
# Repeat vectors rank a return to a candidate of the history first. Where
# fewer training positives than this share are such a return they are left
# out by default: they cannot help, and on public rating logs, where no
# positive is in its own history, they lowered the valid NDCG@10 (two seeds
# on MovieLens-100k). On ad logs a conversion mostly follows a visit to the
# advertiser's site (every one on the synthetic log).
MIN_REPEAT_SHARE = 0.05
# Training examples, from the first, whose positives measure that share.
REPEAT_SAMPLE = 20_000


def resolve_config(config: TrainConfig, manifest: dict) -> TrainConfig:
  """The config with the data's task and that task's defaults of the
  fields left unset (``history_item_ids``, ``num_user_vectors``,
  ``num_repeat_vectors``); refuses a --task that disagrees."""
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
    num_repeat_vectors = _default_repeat_vectors(config, task)
  return dataclasses.replace(config, task=task,
                             history_item_ids=history_item_ids,
                             num_user_vectors=num_user_vectors,
                             num_repeat_vectors=num_repeat_vectors)


def _default_repeat_vectors(config: TrainConfig, task: str) -> int:
  """``REPEAT_VECTORS`` for pooled queries on data whose positives are often
  in their own history (``MIN_REPEAT_SHARE``); otherwise 0."""
  if config.objective == DENSE:
    return 0
  share = data.repeat_share(
      data.shard_paths(config.data, schema.TRAIN), config.max_seq_len,
      schema.label_feature(task), schema.candidate_feature(task),
      REPEAT_SAMPLE)
  chosen = REPEAT_VECTORS if share >= MIN_REPEAT_SHARE else 0
  logging.info(
      "%.1f%% of the training positives (first %d examples) are a candidate "
      "of their own history: %d repeat vectors (--num_repeat_vectors sets "
      "them).", 100 * share, REPEAT_SAMPLE, chosen)
  return chosen


def check_resumable(config: TrainConfig, previous: TrainConfig) -> None:
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


def check_history_length(config: TrainConfig, manifest: dict) -> None:
  """Refuses a ``max_seq_len`` above the data's history length."""
  kept = manifest.get("config", {}).get("max_seq_len")
  if kept is not None and config.max_seq_len > kept:
    raise ValueError(
        f"--max_seq_len {config.max_seq_len} is beyond the data: "
        f"beam.preprocess kept at most {kept} events of each history in "
        f"{config.data!r} (config.max_seq_len of its {schema.MANIFEST}). "
        f"Train with --max_seq_len {kept} or less, or preprocess again "
        f"with --max_seq_len {config.max_seq_len}.")

"""The training configuration: one dataclass, saved as ``model_dir/config.json``.

``TrainConfig`` is a ``model_spec.ModelSpec`` (the architecture and the
objective, which the towers and the model take) with the run's paths, data,
optimisation and schedule; ``config.json`` holds all of it, flat. It is what
``model.load_trained`` rebuilds a trained model from.
"""

import dataclasses
import json
import os
from typing import Optional

import tensorflow as tf

from tfrs_adcg import schema
from tfrs_adcg.model_spec import ModelSpec

CONFIG_FILE = "config.json"

PLATEAU = "plateau"
WARMUP_COSINE = "warmup_cosine"
LEARNING_RATE_SCHEDULES = (PLATEAU, "constant", WARMUP_COSINE)
DENSE_TARGETS = ("window", "next")
STRATEGIES = ("default", "mirrored", "multi_worker")

# What a resumed run must keep to continue the run it resumes: the model
# spec (its variables and its loss), and its data, optimisation and input
# stream.
RESUME_FIELDS = tuple(field.name for field in dataclasses.fields(ModelSpec)) + (
    "data", "dense_target", "learning_rate", "learning_rate_schedule",
    "warmup_steps", "batch_size", "steps_per_epoch", "shuffle_buffer", "seed")


@dataclasses.dataclass(kw_only=True)
class TrainConfig(ModelSpec):
  """How to train one retrieval model: its ``ModelSpec`` fields, and these.

  Attributes:
    data: Directory written by ``beam.preprocess``.
    model_dir: Where checkpoints, logs, metrics and the model's assets go.
    epochs: Maximum number of epochs; a ceiling: with the ``plateau``
      schedule ``patience`` normally ends training first.
    steps_per_epoch: Training steps per epoch, i.e. between validations and
      checkpoints; 0 means one pass over the training pairs. Daily training
      cutoffs repeat most of a user's history and labels from one example
      to the next, so a pass holds the same pairs many times over and the
      model is best validated more often than once a pass.
    batch_size: Global batch size: training pairs per step, summed over
      replicas. Each replica's in-batch negatives are its share of the batch.
    learning_rate: Adam's (peak) learning rate.
    learning_rate_schedule: ``plateau``: the learning rate is multiplied by
      ``callbacks.PLATEAU_DECAY`` after every epoch without a better
      validation recall, so training runs at full speed while it improves,
      takes smaller steps where it stalls and stops after ``patience`` such
      epochs in a row, however large the data; ``constant``; or
      ``warmup_cosine``: a linear warmup over ``warmup_steps``, then a
      cosine decay to zero at the last step of ``epochs``.
    warmup_steps: Steps of the warmup.
    dense_target: ``window``: one of a position's positives at random each
      step; ``next``: the first of them.
    patience: Stop after this many epochs without a better validation
      recall (mean of Recall@10/50/100).
    shuffle_buffer: Training pairs in the shuffle buffer.
    strategy: ``default``, ``mirrored`` (local devices) or ``multi_worker``
      (``TF_CONFIG``).
    seed: Seeds Python, NumPy and TensorFlow, and the input shuffle.
    export_dir: If set, export a serving model there after training.
    export_index: The index of that export: ``scann``, ``partitioned`` or
      ``brute_force`` (see ``export.index``).
    item_catalog: The item catalog (Parquet or TFRecord; see
      ``tfrs_adcg.item_catalog``), for ``task="item"``: the content of every
      item and the corpus of evaluation and export.
    advertiser_model_dir: A trained advertiser-level model to evaluate an
      item model against: its advertisers expanded to their items.
  """

  data: str
  model_dir: str
  epochs: int = 100
  steps_per_epoch: int = 100
  batch_size: int = 256
  learning_rate: float = 1e-3
  learning_rate_schedule: str = PLATEAU
  warmup_steps: int = 100
  dense_target: str = "window"
  patience: int = 5
  shuffle_buffer: int = 20_000
  strategy: str = "default"
  seed: int = 42
  export_dir: Optional[str] = None
  export_index: str = "scann"
  item_catalog: Optional[str] = None
  advertiser_model_dir: Optional[str] = None

  def __post_init__(self):
    super().__post_init__()
    if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
      raise ValueError("learning_rate_schedule must be one of "
                       f"{LEARNING_RATE_SCHEDULES}, not "
                       f"{self.learning_rate_schedule!r}.")
    if self.warmup_steps < 0:
      raise ValueError(
          f"warmup_steps must not be negative, not {self.warmup_steps}.")
    if self.dense_target not in DENSE_TARGETS:
      raise ValueError(f"dense_target must be one of {DENSE_TARGETS}, not "
                       f"{self.dense_target!r}.")
    if self.strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {STRATEGIES}, not "
                       f"{self.strategy!r}.")
    for name in ("epochs", "batch_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be positive, not {getattr(self, name)}.")
    if self.steps_per_epoch < 0:
      raise ValueError(
          f"steps_per_epoch must not be negative, not {self.steps_per_epoch}.")
    if self.task == schema.ITEM_TASK and not self.item_catalog:
      raise ValueError("The item task needs the item catalog: pass "
                       "--item_catalog items.parquet.")

  def model_spec(self) -> ModelSpec:
    """The ``ModelSpec`` fields of this config: what the model is built
    from."""
    return ModelSpec(**{field.name: getattr(self, field.name)
                        for field in dataclasses.fields(ModelSpec)})

  def save(self, directory: str) -> None:
    """Writes the configuration as ``directory/config.json``, atomically:
    the workers of a resumed multi-worker run read the chief's as it writes
    it."""
    path = os.path.join(directory, CONFIG_FILE)
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
      json.dump(dataclasses.asdict(self), f, indent=2, sort_keys=True)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)

  @classmethod
  def load(cls, directory: str) -> "TrainConfig":
    """Reads ``directory/config.json``."""
    path = os.path.join(directory, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
      raise FileNotFoundError(
          f"{directory!r} holds no {CONFIG_FILE}: is it the --model_dir of a "
          "`python -m tfrs_adcg.train` run?")
    with tf.io.gfile.GFile(path) as f:
      return cls(**json.load(f))

"""The training configuration: one dataclass, saved as ``model_dir/config.json``.

The same object is passed down from the command line to the towers, the input
pipeline and the evaluation, and it is what ``model.load_trained`` rebuilds a
trained model from.
"""

import dataclasses
import json
import os
from typing import Optional

import tensorflow as tf

from tfrs_adcg import negatives
from tfrs_adcg import schema

CONFIG_FILE = "config.json"

POOLINGS = ("cls", "mean", "last")
LEARNING_RATE_SCHEDULES = ("constant", "warmup_cosine")
POOLED = "pooled"
DENSE = "dense"
OBJECTIVES = (POOLED, DENSE)
DENSE_TARGETS = ("window", "next")
STRATEGIES = ("default", "mirrored", "multi_worker")

# The fields that shape the model's variables or its data: a run can only be
# resumed from a checkpoint written with the same values.
ARCHITECTURE_FIELDS = (
    "max_seq_len", "num_layers", "num_heads", "embedding_dim",
    "feed_forward_dim", "pooling", "num_oov_buckets", "num_time_buckets",
    "task", "pretrained", "num_price_buckets", "num_user_vectors",
    "num_repeat_vectors", "objective", "history_item_ids")
# What a resumed run must keep besides the architecture to continue the run
# it resumes: its data, objective, optimisation and input stream.
RESUME_FIELDS = ARCHITECTURE_FIELDS + (
    "data", "negatives", "num_sampled_negatives", "dense_target", "logq",
    "temperature", "dropout", "item_id_dropout", "learning_rate",
    "learning_rate_schedule", "warmup_steps", "batch_size", "steps_per_epoch",
    "shuffle_buffer", "seed")


@dataclasses.dataclass
class TrainConfig:
  """How to train one retrieval model.

  Attributes:
    data: Directory written by ``beam.preprocess``.
    model_dir: Where checkpoints, logs, metrics and the model's assets go.
    epochs: Maximum number of epochs.
    steps_per_epoch: Training steps per epoch, i.e. between validations and
      checkpoints; 0 means one pass over the training pairs. Daily training
      cutoffs repeat most of a user's history and labels from one example
      to the next, so a pass holds the same pairs many times over and the
      model is best validated more often than once a pass.
    batch_size: Global batch size: training pairs per step, summed over
      replicas. Each replica's in-batch negatives are its share of the batch.
    learning_rate: Adam's (peak) learning rate.
    learning_rate_schedule: ``constant``, or ``warmup_cosine``: a linear
      warmup over ``warmup_steps``, then a cosine decay to zero at the last
      step of ``epochs``.
    warmup_steps: Steps of the warmup.
    max_seq_len: Events the user tower reads: the most recent ones of the
      history (preprocessing may keep more) or of a serving request.
    num_layers: Transformer encoder blocks in the user tower.
    num_heads: Attention heads per block.
    embedding_dim: Width of every embedding and of the output vectors.
    feed_forward_dim: Hidden width of each block's feed-forward network;
      ``None`` means ``4 * embedding_dim``.
    dropout: Dropout rate in the user tower.
    temperature: Divides the logits of the softmax over in-batch candidates.
    logq: Subtract the log of each candidate's sampling probability from its
      logit (log-Q correction of in-batch and mixed negatives).
    negatives: What each query is scored against besides its positive
      (``negatives.KINDS``): ``in_batch``, the batch's other positives;
      ``mixed``, those plus ``num_sampled_negatives`` uniform corpus
      samples; ``full``, the whole corpus (an exact softmax, for corpora of
      up to some ten thousand candidates).
    num_sampled_negatives: Uniform corpus samples per step (mixed).
    objective: ``pooled``: each training pair is one example's history,
      encoded bidirectionally and pooled, and one of its labels. ``dense``:
      a causal encoder makes every event of a history a query, whose
      positives are the conversions that follow it within the label window
      (and for the newest event, the example's labels); ``batch_size``
      histories a step, at most ``batch_size`` of their positions scored.
    dense_target: ``window``: one of a position's positives at random each
      step; ``next``: the first of them.
    pooling: How the user tower summarises the sequence: ``cls`` (a learned
      token prepended), ``mean`` (over real events) or ``last`` (the newest).
    num_user_vectors: H, the vectors that describe a user: the pooled one,
      and with H > 1 also H - 1 learned interest tokens' outputs. A
      candidate's score is its best dot product with any of them (see
      ``user_vectors``). ``None`` means the default training resolves and
      saves: 4 for the advertiser task; 1 for the item task, whose corpus
      may hold millions of items and whose serving cost grows with H, and
      for the dense objective, which needs one. A tower built from an
      unresolved config has one.
    num_repeat_vectors: R, more vectors of an advertiser model's user: the
      candidate embeddings of the history's R most recent distinct
      advertisers, each times a learned gate (see ``repeat_vectors``), so
      that a return to an advertiser just visited can rank first. ``None``
      means the default training resolves and saves:
      ``train.REPEAT_VECTORS`` for the advertiser task with the pooled
      objective, else 0 (the item task's candidates are items; the dense
      objective needs one vector). A tower built from an unresolved config
      has none.
    history_item_ids: Whether the user tower embeds the item ids of the
      history's events. ``None`` means the task's default, which training
      resolves and saves: yes for the item task, whose candidates are
      items; no for the advertiser task, where a
      history's advertisers and event types carry what item ids add, and
      thousands of item embeddings let the tower memorise histories (on the
      synthetic log, several vectors with item ids reached a valid Recall@10
      of 0.43, without them 0.46). A tower built from an unresolved
      config (or an older one) embeds them.
    num_oov_buckets: Hash buckets for ids missing from the vocabularies.
    num_time_buckets: Log-scale buckets of an event's age relative to the
      newest event in the sequence.
    patience: Stop after this many epochs without a better validation
      recall (mean of Recall@10/50/100).
    shuffle_buffer: Training pairs in the shuffle buffer.
    strategy: ``default``, ``mirrored`` (local devices) or ``multi_worker``
      (``TF_CONFIG``).
    seed: Seeds Python, NumPy and TensorFlow, and the input shuffle.
    export_dir: If set, export a serving model there after training.
    export_index: The index of that export: ``scann``, ``partitioned`` or
      ``brute_force`` (see ``export.index``).
    task: ``advertiser`` or ``item``: what the candidates are. ``None``
      means the task the data was preprocessed for (its manifest); training
      refuses data of another task, and saves the resolved task.
    item_catalog: The item catalog (Parquet or TFRecord; see
      ``tfrs_adcg.item_catalog``), for ``task="item"``: the content of every
      item and the corpus of evaluation and export.
    pretrained: Whether the item tower reads the catalog's pretrained
      embeddings (``--no_pretrained`` for the ablation).
    num_price_buckets: Log-scale item price buckets, bucket 0 for a missing
      price.
    item_id_dropout: Share of training positives whose item id embedding is
      dropped, so that the item tower learns to embed items from content
      alone, as it must for items never seen in training.
    advertiser_model_dir: A trained advertiser-level model to evaluate an
      item model against: its advertisers expanded to their items.
  """

  data: str
  model_dir: str
  epochs: int = 20
  steps_per_epoch: int = 100
  batch_size: int = 256
  learning_rate: float = 1e-3
  learning_rate_schedule: str = "constant"
  warmup_steps: int = 100
  max_seq_len: int = 50
  num_layers: int = 1
  num_heads: int = 2
  embedding_dim: int = 64
  feed_forward_dim: Optional[int] = None
  dropout: float = 0.3
  temperature: float = 0.05
  logq: bool = True
  negatives: str = "in_batch"
  objective: str = "pooled"
  dense_target: str = "window"
  num_sampled_negatives: int = 256
  pooling: str = "last"
  num_user_vectors: Optional[int] = None
  num_repeat_vectors: Optional[int] = None
  history_item_ids: Optional[bool] = None
  num_oov_buckets: int = 2
  num_time_buckets: int = 24
  patience: int = 2
  shuffle_buffer: int = 20_000
  strategy: str = "default"
  seed: int = 42
  export_dir: Optional[str] = None
  export_index: str = "scann"
  task: Optional[str] = None
  item_catalog: Optional[str] = None
  pretrained: bool = True
  num_price_buckets: int = 24
  item_id_dropout: float = 0.5
  advertiser_model_dir: Optional[str] = None

  def __post_init__(self):
    if self.pooling not in POOLINGS:
      raise ValueError(f"pooling must be one of {POOLINGS}, not "
                       f"{self.pooling!r}.")
    if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
      raise ValueError("learning_rate_schedule must be one of "
                       f"{LEARNING_RATE_SCHEDULES}, not "
                       f"{self.learning_rate_schedule!r}.")
    if self.negatives not in negatives.KINDS:
      raise ValueError(f"negatives must be one of {negatives.KINDS}, not "
                       f"{self.negatives!r}.")
    if self.num_sampled_negatives < 1 or self.warmup_steps < 0:
      raise ValueError("num_sampled_negatives must be positive and "
                       "warmup_steps not negative, not "
                       f"{self.num_sampled_negatives} and "
                       f"{self.warmup_steps}.")
    if self.objective not in OBJECTIVES:
      raise ValueError(f"objective must be one of {OBJECTIVES}, not "
                       f"{self.objective!r}.")
    if self.dense_target not in DENSE_TARGETS:
      raise ValueError(f"dense_target must be one of {DENSE_TARGETS}, not "
                       f"{self.dense_target!r}.")
    if self.objective == DENSE and (self.pooling != "last"
                                    or self.num_user_vectors not in (None, 1)):
      raise ValueError("The dense objective reads the newest event's vector: "
                       "it needs pooling 'last' and one user vector, not "
                       f"{self.pooling!r} and {self.num_user_vectors}.")
    if self.num_repeat_vectors and (self.objective == DENSE
                                    or self.task == schema.ITEM_TASK):
      raise ValueError("Repeat vectors are for advertiser candidates and the "
                       "pooled objective; pass --num_repeat_vectors 0 with "
                       f"objective {self.objective!r} and task "
                       f"{self.task!r}.")
    if self.strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {STRATEGIES}, not "
                       f"{self.strategy!r}.")
    if self.embedding_dim % self.num_heads:
      raise ValueError(f"embedding_dim ({self.embedding_dim}) must be a "
                       f"multiple of num_heads ({self.num_heads}).")
    if self.num_user_vectors is not None and self.num_user_vectors < 1:
      raise ValueError("num_user_vectors must be positive, not "
                       f"{self.num_user_vectors}.")
    if self.num_repeat_vectors is not None and self.num_repeat_vectors < 0:
      raise ValueError("num_repeat_vectors must not be negative, not "
                       f"{self.num_repeat_vectors}.")
    for name in ("epochs", "batch_size", "max_seq_len", "num_heads",
                 "embedding_dim", "num_oov_buckets"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be positive, not {getattr(self, name)}.")
    if self.num_time_buckets < 2:
      raise ValueError("num_time_buckets must be at least 2 (padding and one "
                       f"real bucket), not {self.num_time_buckets}.")
    if self.steps_per_epoch < 0:
      raise ValueError(
          f"steps_per_epoch must not be negative, not {self.steps_per_epoch}.")
    if self.task is not None and self.task not in schema.TASKS:
      raise ValueError(f"task must be one of {schema.TASKS}, not "
                       f"{self.task!r}.")
    if self.task == schema.ITEM_TASK and not self.item_catalog:
      raise ValueError("The item task needs the item catalog: pass "
                       "--item_catalog items.parquet.")
    if self.num_price_buckets < 2:
      raise ValueError("num_price_buckets must be at least 2 (missing and "
                       f"one real bucket), not {self.num_price_buckets}.")
    if not 0 <= self.item_id_dropout < 1:
      raise ValueError("item_id_dropout must be in [0, 1), not "
                       f"{self.item_id_dropout}.")
    if self.temperature <= 0:
      raise ValueError(f"temperature must be positive, not {self.temperature}.")

  @property
  def item_task(self) -> bool:
    """Whether the candidates are items (else advertisers)."""
    return self.task == schema.ITEM_TASK

  @property
  def hidden_dim(self) -> int:
    """The feed-forward width of the encoder blocks."""
    return self.feed_forward_dim or 4 * self.embedding_dim

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

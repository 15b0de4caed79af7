"""The model spec: what a retrieval model is built from, paths aside.

The towers and ``model.RetrievalModel`` take a ``ModelSpec``: the
architecture and the retrieval objective. ``config.TrainConfig`` extends it
with the run's paths, optimisation and schedule, and ``config.json`` holds
both, flat.
"""

import dataclasses
from typing import Optional

from tfrs_adcg import negatives
from tfrs_adcg import schema

POOLINGS = ("cls", "mean", "last")
POOLED = "pooled"
DENSE = "dense"
OBJECTIVES = (POOLED, DENSE)


@dataclasses.dataclass
class ModelSpec:
  """The architecture and the objective of one retrieval model.

  Every field shapes the model's variables or what its loss computes: a
  run resumes only from checkpoints of the same spec.

  Attributes:
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
    pooling: How the user tower summarises the sequence: ``cls`` (a learned
      token prepended), ``mean`` (over real events) or ``last`` (the newest).
    num_user_vectors: H, the vectors that describe a user: the pooled one,
      and with H > 1 also H - 1 learned interest tokens' outputs. A
      candidate's score is its best dot product with any of them (see
      ``user_vectors``). ``None`` means the default training resolves and
      saves: 4 for the advertiser task; 1 for the item task, whose corpus
      may hold millions of items and whose serving cost grows with H, and
      for the dense objective, which needs one. A tower built from an
      unresolved spec has one.
    num_repeat_vectors: R, more vectors of a user: the candidate
      embeddings of the history's R most recent distinct candidates
      (advertisers, or items of the item task), each times a learned gate
      (see ``repeat_vectors``), so that a return to a candidate just
      visited, or to its neighbours, can rank first. ``None`` means the
      default training resolves and saves: ``run_config.REPEAT_VECTORS``
      with the pooled objective where at least
      ``run_config.MIN_REPEAT_SHARE`` of the training positives are a
      candidate of their own history, else 0; 0 with the dense objective
      (which needs one vector). A tower built from an unresolved spec has
      none.
    history_item_ids: Whether the user tower embeds the item ids of the
      history's events. ``None`` means the task's default, which training
      resolves and saves: yes for the item task, whose candidates are
      items; no for the advertiser task, where a history's advertisers and
      event types carry what item ids add, and thousands of item embeddings
      let the tower memorise histories. A tower built from an unresolved
      spec (or an older one) embeds them.
    num_oov_buckets: Hash buckets for ids missing from the vocabularies.
    num_time_buckets: Log-scale buckets of an event's age relative to the
      newest event in the sequence.
    task: ``advertiser`` or ``item``: what the candidates are. ``None``
      means the task the data was preprocessed for (its manifest); training
      refuses data of another task, and saves the resolved task.
    pretrained: Whether the item tower reads the catalog's pretrained
      embeddings (``--no_pretrained`` for the ablation).
    num_price_buckets: Log-scale item price buckets, bucket 0 for a missing
      price.
    item_id_dropout: Share of training positives whose item id embedding is
      dropped, so that the item tower learns to embed items from content
      alone, as it must for items never seen in training.
  """

  max_seq_len: int = 50
  num_layers: int = 1
  num_heads: int = 2
  embedding_dim: int = 64
  feed_forward_dim: Optional[int] = None
  dropout: float = 0.3
  temperature: float = 0.05
  logq: bool = True
  negatives: str = "in_batch"
  num_sampled_negatives: int = 256
  objective: str = "pooled"
  pooling: str = "last"
  num_user_vectors: Optional[int] = None
  num_repeat_vectors: Optional[int] = None
  history_item_ids: Optional[bool] = None
  num_oov_buckets: int = 2
  num_time_buckets: int = 24
  task: Optional[str] = None
  pretrained: bool = True
  num_price_buckets: int = 24
  item_id_dropout: float = 0.5

  def __post_init__(self):
    if self.pooling not in POOLINGS:
      raise ValueError(f"pooling must be one of {POOLINGS}, not "
                       f"{self.pooling!r}.")
    if self.negatives not in negatives.KINDS:
      raise ValueError(f"negatives must be one of {negatives.KINDS}, not "
                       f"{self.negatives!r}.")
    if self.num_sampled_negatives < 1:
      raise ValueError("num_sampled_negatives must be positive, not "
                       f"{self.num_sampled_negatives}.")
    if self.objective not in OBJECTIVES:
      raise ValueError(f"objective must be one of {OBJECTIVES}, not "
                       f"{self.objective!r}.")
    if self.objective == DENSE and (self.pooling != "last"
                                    or self.num_user_vectors not in (None, 1)):
      raise ValueError("The dense objective reads the newest event's vector: "
                       "it needs pooling 'last' and one user vector, not "
                       f"{self.pooling!r} and {self.num_user_vectors}.")
    if self.num_repeat_vectors and self.objective == DENSE:
      raise ValueError("Repeat vectors are for the pooled objective; pass "
                       "--num_repeat_vectors 0 with objective "
                       f"{self.objective!r}.")
    if self.embedding_dim % self.num_heads:
      raise ValueError(f"embedding_dim ({self.embedding_dim}) must be a "
                       f"multiple of num_heads ({self.num_heads}).")
    if self.num_user_vectors is not None and self.num_user_vectors < 1:
      raise ValueError("num_user_vectors must be positive, not "
                       f"{self.num_user_vectors}.")
    if self.num_repeat_vectors is not None and self.num_repeat_vectors < 0:
      raise ValueError("num_repeat_vectors must not be negative, not "
                       f"{self.num_repeat_vectors}.")
    for name in ("max_seq_len", "num_heads", "embedding_dim",
                 "num_oov_buckets"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be positive, not {getattr(self, name)}.")
    if self.num_time_buckets < 2:
      raise ValueError("num_time_buckets must be at least 2 (padding and one "
                       f"real bucket), not {self.num_time_buckets}.")
    if self.task is not None and self.task not in schema.TASKS:
      raise ValueError(f"task must be one of {schema.TASKS}, not "
                       f"{self.task!r}.")
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


"""Exact full-corpus evaluation of a retrieval model beside the baselines.

Every eval user is scored against every candidate of the model's corpus (a
brute-force matmul, no sampled negatives and no approximate index), and the
model's top 100 go through ``metrics``; the baselines rank the same corpus
for the same users. The task's side is handed in as ``Baselines`` (see
``baselines.for_model``): which rankers stand beside the model, and whether
the corpus holds cold-start candidates, whose recall every ranker then
reports apart.
"""

import logging
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Set

import tensorflow as tf

from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import user_vectors
from tfrs_adcg.model import RetrievalModel

Results = Dict[str, Dict[str, float]]
# An eval batch (see ``data.evaluation_dataset``) -> each user's ranking of
# candidate ids, best first.
Ranker = Callable[[Dict[str, tf.Tensor]], List[Sequence[str]]]


class Baselines(Protocol):
  """A task's rankers beside the model, and how its candidates are told.

  Attributes:
    is_cold: Tells a cold-start candidate (never a training positive) of a
      corpus that holds them; every ranker then also reports cold-start
      recall. None: the corpus is the training candidates.
  """
  is_cold: Optional[Callable[[str], bool]]

  def rankers(self) -> Dict[str, Ranker]:
    """The baselines by name, in the order results list them."""


class ModelRanker:
  """A model's exact ranking of its whole corpus, the top ``metrics.MAX_K``.

  Call: an eval batch -> each user's candidate ids, best first: the user
  tower's vectors [B, D] (or [B, H, D]) scored against the corpus embeddings
  [N, D] that ``embed_corpus`` computed.
  """

  def __init__(self, model: RetrievalModel):
    self._model = model
    # Batches differ in size: users without positives are left out.
    self._top_k = tf.function(self._top_k_indices, autograph=False,
                              reduce_retracing=True)
    self._ids: List[str] = []
    self._embeddings: Optional[tf.Tensor] = None

  def _top_k_indices(self, history: Dict[str, tf.Tensor],
                     embeddings: tf.Tensor, k: int) -> tf.Tensor:
    scores = user_vectors.scores(
        self._model.user_tower(history, training=False), embeddings)
    return tf.math.top_k(scores, k=k).indices

  def embed_corpus(self) -> "ModelRanker":
    """Embeds the corpus with the model's current weights; returns self."""
    ids, self._embeddings = self._model.corpus_embeddings()
    self._ids = [id_.decode() for id_ in ids.numpy()]
    return self

  @property
  def corpus_size(self) -> int:
    """The candidates ``embed_corpus`` embedded."""
    return len(self._ids)

  def __call__(self, batch: Dict[str, tf.Tensor]) -> List[List[str]]:
    if self._embeddings is None:
      raise ValueError("Embed the corpus before ranking: call embed_corpus().")
    history = {name: batch[name] for name in schema.SEQUENCE_FEATURES}
    k = min(metrics.MAX_K, len(self._ids))
    top_k = self._top_k(history, self._embeddings, k).numpy()
    return [[self._ids[i] for i in indices] for indices in top_k]


class Evaluator:
  """Evaluates a model on one split's examples.

  Args:
    model: The model; evaluated with its weights at each ``evaluate`` call.
    paths: The split's TFRecord shards.
    baselines: The baselines of the model's task (``baselines.for_model``).
    batch_size: Eval examples per batch.
  """

  def __init__(self, model: RetrievalModel, paths: List[str],
               baselines: Baselines, batch_size: int = 512):
    self._model = ModelRanker(model)
    self._label_feature = schema.label_feature(
        model.spec.task or schema.ADVERTISER_TASK)
    self._dataset = data.evaluation_dataset(
        paths, model.spec.max_seq_len, batch_size, self._label_feature)
    self._baselines = baselines
    self._baseline_results: Optional[Results] = None

  def evaluate(self, baselines: bool = True) -> Results:
    """Mean metrics per ranker: ``{"model": {...}}`` plus the baselines'."""
    results = _results(self._mean_metrics(
        {"model": self._model.embed_corpus()}))
    if baselines:
      results.update(self.baselines())
    return results

  @property
  def corpus_size(self) -> int:
    """The candidates the model ranked at the last ``evaluate``."""
    return self._model.corpus_size

  def baselines(self) -> Results:
    """The baselines' mean metrics (computed once)."""
    if self._baseline_results is None:
      means = self._mean_metrics(self._baselines.rankers())
      logging.info("Evaluated %d users.",
                   next(iter(means.values())).num_users)
      self._baseline_results = _results(means)
    return self._baseline_results

  def _mean_metrics(self, rankers: Dict[str, Ranker]
                    ) -> Dict[str, metrics.MeanMetrics]:
    """Each ranker's metrics over the split's users, in one pass."""
    means = {name: metrics.MeanMetrics(self._baselines.is_cold)
             for name in rankers}
    for batch in self._dataset:
      labels = _labels(batch, self._label_feature)
      for name, ranker in rankers.items():
        for ranking, positives in zip(ranker(batch), labels):
          means[name].add(ranking, positives)
    return means


def _results(means: Dict[str, metrics.MeanMetrics]) -> Results:
  return {name: mean.result() for name, mean in means.items()}


def _labels(batch: Dict[str, tf.Tensor], label_feature: str) -> List[Set[str]]:
  return [{id_.decode() for id_ in row}
          for row in batch[label_feature].to_list()]

"""Exact full-corpus evaluation of a retrieval model beside the baselines.

Every eval user is scored against every candidate (a brute-force matmul, no
sampled negatives and no approximate index), and the model's top 100 go
through ``metrics``; the popularity and last-advertiser baselines rank the
same corpus for the same users.
"""

import logging
from typing import Dict, List, Optional

import tensorflow as tf

from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg.model import RetrievalModel

Results = Dict[str, Dict[str, float]]


class Evaluator:
  """Evaluates a model on one split's examples.

  Args:
    model: The model; evaluated with its weights at each ``evaluate`` call.
    paths: The split's TFRecord shards.
    popularity: The candidate corpus, most popular first.
    batch_size: Eval examples per batch.
  """

  def __init__(self, model: RetrievalModel, paths: List[str],
               popularity: List[str], batch_size: int = 512):
    self._model = model
    self._dataset = data.evaluation_dataset(
        paths, model.config.max_seq_len, batch_size)
    self._popularity = popularity
    self._baselines: Optional[Results] = None
    self._top_k = tf.function(self._top_k_indices, autograph=False)

  def _top_k_indices(self, history, candidate_embeddings, k: int):
    scores = tf.linalg.matmul(
        self._model.user_tower(history, training=False),
        candidate_embeddings, transpose_b=True)
    return tf.math.top_k(scores, k=k).indices

  def evaluate(self, baselines: bool = True) -> Results:
    """Mean metrics per ranker: ``{"model": {...}}`` plus the baselines'."""
    candidate_ids = [id_.decode()
                     for id_ in self._model.candidate_ids().numpy()]
    candidate_embeddings = self._model.candidate_embeddings()
    k = min(metrics.MAX_K, len(candidate_ids))
    model_metrics = metrics.MeanMetrics()
    for batch in self._dataset:
      history = {name: batch[name] for name in schema.SEQUENCE_FEATURES}
      top_k = self._top_k(history, candidate_embeddings, k).numpy()
      for indices, labels in zip(top_k, _labels(batch)):
        model_metrics.add([candidate_ids[i] for i in indices], labels)
    results = {"model": model_metrics.result()}
    if baselines:
      results.update(self.baselines())
    return results

  def baselines(self) -> Results:
    """The popularity and last-advertiser baselines (computed once)."""
    if self._baselines is None:
      popularity = metrics.MeanMetrics()
      last_advertiser = metrics.MeanMetrics()
      top = self._popularity[:metrics.MAX_K]
      for batch in self._dataset:
        histories = batch[schema.ADVERTISER_ID].numpy()
        for history, labels in zip(histories, _labels(batch)):
          popularity.add(top, labels)
          last_advertiser.add(
              metrics.last_advertiser_ranking(
                  [id_.decode() for id_ in history], self._popularity),
              labels)
      logging.info("Evaluated %d users.", popularity.num_users)
      self._baselines = {
          "popularity": popularity.result(),
          "last_advertiser": last_advertiser.result(),
      }
    return self._baselines


def _labels(batch) -> List[set]:
  return [{id_.decode() for id_ in row}
          for row in batch[schema.LABEL_ADVERTISER_IDS].to_list()]

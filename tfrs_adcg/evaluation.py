"""Exact full-corpus evaluation of a retrieval model beside the baselines.

Every eval user is scored against every candidate (a brute-force matmul, no
sampled negatives and no approximate index), and the model's top 100 go
through ``metrics``; the baselines rank the same corpus for the same users.

Advertiser task: the corpus is every advertiser; baselines *popularity* and
*last advertiser*. Item task: the corpus is the whole item catalog, cold-start
items included; every ranker also gets cold-start recall (items never a
training positive); baselines *popularity* (items by training positives),
*last advertiser expanded* (the last-advertiser ranking, each advertiser
expanded to its items in popularity order) and, given a trained
advertiser-level model, *advertiser model expanded* (its ranking, expanded
the same way).
"""

import dataclasses
import logging
from typing import Dict, List, Optional

import tensorflow as tf

from tfrs_adcg import data
from tfrs_adcg import item_catalog
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg import user_vectors
from tfrs_adcg.model import RetrievalModel

Results = Dict[str, Dict[str, float]]

LAST_ADVERTISER_EXPANDED = "last_advertiser_expanded"
ADVERTISER_MODEL_EXPANDED = "advertiser_model_expanded"


@dataclasses.dataclass(frozen=True)
class ItemBaselines:
  """What the item-level baselines rank with.

  Attributes:
    advertiser_items: The catalog by advertiser.
    advertiser_model: A trained advertiser-level model, or None.
  """
  advertiser_items: item_catalog.AdvertiserItems
  advertiser_model: Optional[RetrievalModel] = None

  @classmethod
  def read(cls, catalog_path: str, positives: Dict[str, int],
           advertiser_model: Optional[RetrievalModel] = None
           ) -> "ItemBaselines":
    """Groups the catalog by advertiser (one streamed pass)."""
    if advertiser_model is not None and advertiser_model.spec.item_task:
      raise ValueError("The model to expand to items must be an "
                       "advertiser-level model; got an item-level one.")
    return cls(item_catalog.advertiser_items(catalog_path, positives,
                                             metrics.MAX_K),
               advertiser_model)


class Evaluator:
  """Evaluates a model on one split's examples.

  Args:
    model: The model; evaluated with its weights at each ``evaluate`` call.
    paths: The split's TFRecord shards.
    popularity: The candidates, most training positives first.
    batch_size: Eval examples per batch.
    item_baselines: Item task: what the item baselines need; without it
      only popularity is a baseline.
  """

  def __init__(self, model: RetrievalModel, paths: List[str],
               popularity: List[str], batch_size: int = 512,
               item_baselines: Optional[ItemBaselines] = None):
    self._model = model
    self._item_task = model.spec.item_task
    self._label_feature = schema.label_feature(
        schema.ITEM_TASK if self._item_task else schema.ADVERTISER_TASK)
    self._dataset = data.evaluation_dataset(
        paths, model.spec.max_seq_len, batch_size, self._label_feature)
    self._popularity = popularity
    self._item_baselines = item_baselines
    self._trained = set(popularity)
    self._baselines: Optional[Results] = None
    # Batches differ in size: users without positives are left out.
    self._top_k = tf.function(self._top_k_indices, autograph=False,
                              reduce_retracing=True)

  @staticmethod
  def _top_k_indices(user_tower, history, candidate_embeddings, k: int):
    scores = user_vectors.scores(user_tower(history, training=False),
                                 candidate_embeddings)
    return tf.math.top_k(scores, k=k).indices

  def _mean_metrics(self) -> metrics.MeanMetrics:
    if not self._item_task:
      return metrics.MeanMetrics()
    return metrics.MeanMetrics(is_cold=lambda id_: id_ not in self._trained)

  def _rankings(self, model: RetrievalModel):
    """Yields (top-k candidate ids, positives) of every eval user."""
    ids, embeddings = model.corpus_embeddings()
    candidate_ids = [id_.decode() for id_ in ids.numpy()]
    k = min(metrics.MAX_K, len(candidate_ids))
    for batch in self._dataset:
      history = {name: batch[name] for name in schema.SEQUENCE_FEATURES}
      top_k = self._top_k(model.user_tower, history, embeddings, k).numpy()
      for indices, labels in zip(top_k, _labels(batch, self._label_feature)):
        yield [candidate_ids[i] for i in indices], labels

  def evaluate(self, baselines: bool = True) -> Results:
    """Mean metrics per ranker: ``{"model": {...}}`` plus the baselines'."""
    model_metrics = self._mean_metrics()
    for ranking, labels in self._rankings(self._model):
      model_metrics.add(ranking, labels)
    results = {"model": model_metrics.result()}
    if baselines:
      results.update(self.baselines())
    return results

  def baselines(self) -> Results:
    """The baselines of the task (computed once)."""
    if self._baselines is None:
      self._baselines = (self._item_task_baselines() if self._item_task
                         else self._advertiser_task_baselines())
    return self._baselines

  def _advertiser_task_baselines(self) -> Results:
    popularity = metrics.MeanMetrics()
    last_advertiser = metrics.MeanMetrics()
    top = self._popularity[:metrics.MAX_K]
    for batch in self._dataset:
      histories = batch[schema.ADVERTISER_ID].numpy()
      for history, labels in zip(histories,
                                 _labels(batch, self._label_feature)):
        popularity.add(top, labels)
        last_advertiser.add(
            metrics.last_advertiser_ranking(
                [id_.decode() for id_ in history], self._popularity),
            labels)
    logging.info("Evaluated %d users.", popularity.num_users)
    return {
        "popularity": popularity.result(),
        "last_advertiser": last_advertiser.result(),
    }

  def _item_task_baselines(self) -> Results:
    top = self._popularity[:metrics.MAX_K]
    popularity = self._mean_metrics()
    results = {}
    if self._item_baselines is None:
      for batch in self._dataset:
        for labels in _labels(batch, self._label_feature):
          popularity.add(top, labels)
      return {"popularity": popularity.result()}
    grouped = self._item_baselines.advertiser_items
    advertiser_popularity = grouped.popularity_ranking()
    last_advertiser = self._mean_metrics()
    for batch in self._dataset:
      histories = batch[schema.ADVERTISER_ID].numpy()
      for history, labels in zip(histories,
                                 _labels(batch, self._label_feature)):
        popularity.add(top, labels)
        last_advertiser.add(metrics.expand_to_items(
            metrics.last_advertiser_ranking(
                [id_.decode() for id_ in history], advertiser_popularity,
                k=len(advertiser_popularity)),
            grouped.items_of, self._popularity), labels)
    results["popularity"] = popularity.result()
    results[LAST_ADVERTISER_EXPANDED] = last_advertiser.result()
    advertiser_model = self._item_baselines.advertiser_model
    if advertiser_model is not None:
      expanded = self._mean_metrics()
      for advertisers, labels in self._rankings(advertiser_model):
        expanded.add(metrics.expand_to_items(
            advertisers, grouped.items_of, self._popularity), labels)
      results[ADVERTISER_MODEL_EXPANDED] = expanded.result()
    logging.info("Evaluated %d users.", popularity.num_users)
    return results


def _labels(batch, label_feature: str) -> List[set]:
  return [{id_.decode() for id_ in row}
          for row in batch[label_feature].to_list()]

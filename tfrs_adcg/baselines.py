"""The baselines a retrieval model is evaluated beside, one set per task.

A baseline ranks the corpus for a user from the training positives and the
user's history (or from another model's ranking); ``evaluation.Evaluator``
measures its rankings as the model's.

* ``AdvertiserBaselines``: *popularity* (advertisers by training positives)
  and *last advertiser* (the history's advertisers newest first, then the
  popular ones).
* ``ItemBaselines``: *popularity* (items by training positives) and, given
  the catalog, *last advertiser expanded* (the last-advertiser ranking, each
  advertiser expanded to its items in popularity order) and, given a trained
  advertiser-level model, *advertiser model expanded* (its ranking, expanded
  the same way). An item model ranks its whole catalog: items that never
  were a training positive are cold-start items, whose recall every ranker
  reports apart.

``for_model`` is the one place that picks the set of a model's task.
"""

import functools
from typing import Dict, List, Optional, Sequence

import tensorflow as tf

from tfrs_adcg import item_catalog
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg.evaluation import Baselines, ModelRanker, Ranker
from tfrs_adcg.model import RetrievalModel
from tfrs_adcg.vocabulary import Vocabularies

POPULARITY = "popularity"
LAST_ADVERTISER = "last_advertiser"
LAST_ADVERTISER_EXPANDED = "last_advertiser_expanded"
ADVERTISER_MODEL_EXPANDED = "advertiser_model_expanded"

Batch = Dict[str, tf.Tensor]


class AdvertiserBaselines:
  """Popularity and last advertiser, over the advertiser corpus.

  Args:
    popularity: The corpus, most training positives first.
  """

  is_cold = None  # The corpus is the training candidates.

  def __init__(self, popularity: Sequence[str]):
    self._popularity = list(popularity)

  def rankers(self) -> Dict[str, Ranker]:
    """Popularity, then last advertiser."""
    return {POPULARITY: _same_for_all(self._popularity[:metrics.MAX_K]),
            LAST_ADVERTISER: self._last_advertiser}

  def _last_advertiser(self, batch: Batch) -> List[Sequence[str]]:
    return [metrics.last_advertiser_ranking(history, self._popularity)
            for history in _history_advertisers(batch)]


class ItemBaselines:
  """Popularity over items, and advertiser rankings expanded to items.

  Args:
    popularity: The training items, most training positives first.
    advertiser_items: The catalog by advertiser, for the expanded rankings;
      None: popularity alone.
    advertiser_model: A trained advertiser-level model whose ranking is
      expanded with ``advertiser_items``, or None.

  Raises:
    ValueError: for an advertiser model without ``advertiser_items``, or an
      item-level one.
  """

  def __init__(self, popularity: Sequence[str],
               advertiser_items: Optional[item_catalog.AdvertiserItems] = None,
               advertiser_model: Optional[RetrievalModel] = None):
    if advertiser_model is not None and advertiser_items is None:
      raise ValueError("Expanding an advertiser model's ranking to items "
                       "needs the catalog by advertiser.")
    if advertiser_model is not None and advertiser_model.spec.item_task:
      raise ValueError("The model to expand to items must be an "
                       "advertiser-level model; got an item-level one.")
    self._popularity = list(popularity)
    self._trained = frozenset(popularity)
    self._advertiser_items = advertiser_items
    self._advertiser_model = advertiser_model

  def is_cold(self, item_id: str) -> bool:
    """Whether ``item_id`` never was a training positive."""
    return item_id not in self._trained

  def rankers(self) -> Dict[str, Ranker]:
    """Popularity, then those ``advertiser_items`` and ``advertiser_model``
    allow (the advertiser model's corpus is embedded here, once)."""
    rankers = {POPULARITY: _same_for_all(self._popularity[:metrics.MAX_K])}
    if self._advertiser_items is None:
      return rankers
    rankers[LAST_ADVERTISER_EXPANDED] = functools.partial(
        self._last_advertiser_expanded,
        self._advertiser_items.popularity_ranking())
    if self._advertiser_model is not None:
      rankers[ADVERTISER_MODEL_EXPANDED] = functools.partial(
          self._model_expanded,
          ModelRanker(self._advertiser_model).embed_corpus())
    return rankers

  def _last_advertiser_expanded(self, advertisers: Sequence[str],
                                batch: Batch) -> List[Sequence[str]]:
    """``advertisers``: the catalog's, most training positives first."""
    return [self._expand(metrics.last_advertiser_ranking(
        history, advertisers, k=len(advertisers)))
            for history in _history_advertisers(batch)]

  def _model_expanded(self, advertiser_model: ModelRanker,
                      batch: Batch) -> List[Sequence[str]]:
    return [self._expand(advertisers)
            for advertisers in advertiser_model(batch)]

  def _expand(self, advertisers: Sequence[str]) -> List[str]:
    return metrics.expand_to_items(
        advertisers, self._advertiser_items.items_of, self._popularity)


def for_model(model: RetrievalModel, vocabularies: Vocabularies,
              catalog: Optional[str] = None,
              advertiser_model: Optional[RetrievalModel] = None) -> Baselines:
  """The baselines of ``model``'s task.

  Args:
    model: The model evaluated.
    vocabularies: Its vocabularies (the training positives).
    catalog: Item task: the item catalog, grouped by advertiser (one
      streamed pass) for the expanded baselines; None: popularity alone.
    advertiser_model: Item task, with ``catalog``: a trained
      advertiser-level model whose ranking is expanded to items.

  Raises:
    ValueError: for a catalog or an advertiser model given with an
      advertiser-level ``model``, or an advertiser model without a catalog.
  """
  if not model.spec.item_task:
    if catalog or advertiser_model is not None:
      raise ValueError("An item catalog and an advertiser model to expand "
                       "are for evaluating item-level models; this one "
                       "ranks advertisers.")
    return AdvertiserBaselines(vocabularies.popularity_ranking())
  advertiser_items = None
  if catalog:
    advertiser_items = item_catalog.advertiser_items(
        catalog, vocabularies.positives, metrics.MAX_K)
  return ItemBaselines(vocabularies.trained_candidates(), advertiser_items,
                       advertiser_model)


def _same_for_all(ranking: Sequence[str]) -> Ranker:
  """The ranker that ranks ``ranking`` for every user."""
  return lambda batch: [ranking] * int(batch[schema.ADVERTISER_ID].shape[0])


def _history_advertisers(batch: Batch) -> List[List[str]]:
  """Each user's advertisers, oldest first, "" padding included."""
  return [[id_.decode() for id_ in history]
          for history in batch[schema.ADVERTISER_ID].numpy()]

"""The candidates of a retrieval model: what it trains against and ranks.

A model trains against its *training candidates* (the ids of its positives
and of its sampled and full negatives) and ranks a *corpus*. For an
advertiser model the two are one list of advertiser ids, which the candidate
tower takes as they are. An item model trains against the items with
training positives but ranks a whole item catalog, cold-start items
included, streamed in batches of item content.
"""

import dataclasses
from typing import Optional, Sequence, Union

import tensorflow as tf

from tfrs_adcg import item_catalog
from tfrs_adcg import schema


@dataclasses.dataclass(frozen=True)
class IdCorpus:
  """Candidate ids that are their own tower input; the corpus is the ids.

  Attributes:
    ids: The training candidates, N distinct ids.
  """
  ids: Sequence[str]

  def size(self, catalog: Optional[str] = None) -> int:
    """The number of candidates ranked."""
    _refuse_catalog(catalog)
    return len(self.ids)

  def batches(self, catalog: Optional[str] = None,
              batch_size: int = item_catalog.DEFAULT_BATCH_SIZE
              ) -> tf.data.Dataset:
    """The corpus as ``(ids tf.string [b], tower input)``, one batch of all
    N ids (``batch_size`` is for a catalog)."""
    del batch_size  # The ids are few: one batch.
    _refuse_catalog(catalog)
    ids = tf.constant(list(self.ids))
    return tf.data.Dataset.from_tensors((ids, ids))

  def checked_catalog(self, catalog: Optional[str] = None) -> None:
    """No catalog: the ids are the corpus (refuses ``catalog``)."""
    _refuse_catalog(catalog)


@dataclasses.dataclass(frozen=True)
class CatalogCorpus:
  """Training items, and an item catalog as the corpus ranked.

  Attributes:
    ids: The training items (those with training positives).
    path: The item catalog (Parquet or TFRecord, see ``item_catalog``).
    pretrained: Whether the tower input holds the pretrained embeddings.
  """
  ids: Sequence[str]
  path: str
  pretrained: bool

  def size(self, catalog: Optional[str] = None) -> int:
    """The items of ``catalog`` (default ``path``)."""
    return item_catalog.num_items(catalog or self.path)

  def batches(self, catalog: Optional[str] = None,
              batch_size: int = item_catalog.DEFAULT_BATCH_SIZE
              ) -> tf.data.Dataset:
    """Every item of ``catalog`` (default ``path``) as ``(ids tf.string [b],
    item content)``, the item tower's input (``read_item_content``)."""
    return item_catalog.read_item_content(
        catalog or self.path, self.pretrained, batch_size).map(
            lambda features: (features[schema.CATALOG_ITEM_ID], features))

  def checked_catalog(self, catalog: Optional[str] = None) -> str:
    """The catalog ranked, ``catalog`` (default ``path``), checked to hold
    the item tower's input (see ``item_catalog.check_catalog``)."""
    catalog = catalog or self.path
    item_catalog.check_catalog(catalog, self.pretrained)
    return catalog


Corpus = Union[IdCorpus, CatalogCorpus]


def _refuse_catalog(catalog: Optional[str]) -> None:
  if catalog is not None:
    raise ValueError(f"An item catalog ({catalog!r}) is the corpus of "
                     "item-level models; this model ranks advertiser ids.")

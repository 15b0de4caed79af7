"""The content of a trained model's items: kept with the model, looked up.

Training keeps the content of its *training items* (the items converted
with in the training examples, which get an id embedding) and of the other
items of its histories (which the user tower embeds through the item tower)
in ``model_dir/assets/training_items.parquet``: catalog rows in Parquet
whatever the catalog's format (``item_catalog``), so a trained model is
rebuilt from its model directory alone while the catalog it ranks may grow.
Inside the model, ``ItemContentLookup`` turns item ids into the item tower's
input from these rows.
"""

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np

import tensorflow as tf

from tfrs_adcg import item_catalog
from tfrs_adcg import schema

TRAINING_ITEMS = "training_items.parquet"  # In model_dir/assets/.


@dataclasses.dataclass(frozen=True)
class ItemContent:
  """The content of a list of items, row i for item i.

  Attributes:
    item_ids: [M] ids.
    advertiser_ids: [M] advertisers ("" when unknown).
    categories: [M] categories ("" when unknown).
    prices: float32 [M], NaN when unknown.
    embeddings: float32 [M, E] pretrained vectors (zeros when unknown), or
      None for a model without them.
  """
  item_ids: np.ndarray
  advertiser_ids: np.ndarray
  categories: np.ndarray
  prices: np.ndarray
  embeddings: Optional[np.ndarray]

  def select(self, item_ids: Sequence[str]) -> "ItemContent":
    """The content of ``item_ids``, in their order; unknown ids get unknown
    content (as ``read_training_items`` gives it)."""
    row_of = {id_: row for row, id_ in enumerate(self.item_ids)}
    rows = np.array([row_of.get(id_, -1) for id_ in item_ids], np.int64)
    known = rows >= 0

    def aligned(values: np.ndarray, fill) -> np.ndarray:
      out = np.full((len(rows),) + values.shape[1:], fill, values.dtype)
      out[known] = values[rows[known]]
      return out

    return ItemContent(
        item_ids=np.array(list(item_ids), dtype=object),
        advertiser_ids=aligned(self.advertiser_ids, schema.STRING_PAD),
        categories=aligned(self.categories, schema.STRING_PAD),
        prices=aligned(self.prices, np.nan),
        embeddings=(None if self.embeddings is None
                    else aligned(self.embeddings, 0.0)))


def model_item_ids(training_items: Sequence[str],
                   history_items: Sequence[str]) -> List[str]:
  """The items whose content a trained model keeps: its training items, then
  the other items of its histories (which the user tower embeds with the
  item tower), without repeats."""
  return list(dict.fromkeys(list(training_items) + list(history_items)))


def write_training_items(catalog_path: str, item_ids: Sequence[str],
                         output_path: str, pretrained: bool) -> int:
  """Copies the content of ``item_ids`` into a Parquet file, streaming.

  Reads a catalog of either format; writes the item tower's columns as
  strings, a float32 ``price`` and a ``list<float32>`` ``embedding``.

  Returns:
    The number of rows written (items of ``item_ids`` found in the catalog).
  """
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.compute as pc  # pylint: disable=g-import-not-at-top
  import pyarrow.fs  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  wanted = pa.array(list(item_ids), pa.string())
  types = {name: pa.string() for name in item_catalog.CONTENT_COLUMNS}
  types[schema.CATALOG_PRICE] = pa.float32()
  if pretrained:
    types[schema.CATALOG_EMBEDDING] = pa.list_(pa.float32())

  def arrow_array(name: str, values: np.ndarray) -> pa.Array:
    if name == schema.CATALOG_EMBEDDING:
      offsets = np.arange(len(values) + 1, dtype=np.int32) * values.shape[1]
      return pa.ListArray.from_arrays(offsets, values.ravel())
    if types[name] == pa.string():
      return pa.array(values, pa.binary()).cast(pa.string())
    return pa.array(values, types[name])

  written = 0
  filesystem = None
  if "://" in output_path:
    filesystem, output_path = pyarrow.fs.FileSystem.from_uri(output_path)
  with pq.ParquetWriter(output_path, pa.schema(list(types.items())),
                        filesystem=filesystem) as writer:
    for batch in item_catalog.read_item_content(catalog_path, pretrained):
      columns = {name: arrow_array(name, batch[name].numpy())
                 for name in types}
      keep = pc.is_in(columns[schema.CATALOG_ITEM_ID], value_set=wanted)
      rows = pa.record_batch(list(columns.values()),
                             names=list(columns)).filter(keep)
      if rows.num_rows:
        writer.write_batch(rows)
        written += rows.num_rows
  return written


def read_training_items(path: str, item_ids: Sequence[str],
                        pretrained: bool) -> ItemContent:
  """The content of ``item_ids`` from a file of ``write_training_items``.

  Items without a row get unknown content (they still have their id).

  Raises:
    ValueError: if the file holds no row, or an item twice.
  """
  rows = {schema.CATALOG_ITEM_ID: [], schema.CATALOG_ADVERTISER_ID: [],
          schema.CATALOG_CATEGORY: [], schema.CATALOG_PRICE: [],
          schema.CATALOG_EMBEDDING: []}
  if not item_catalog.num_items(path):
    raise ValueError(
        f"None of the {len(item_ids)} training items is in the item catalog "
        f"({path!r} is empty): is the catalog the one of this event log?")
  for batch in item_catalog.read_item_content(path, pretrained):
    for name, values in batch.items():
      rows[name].append(values.numpy())
  columns = {name: np.concatenate(values) for name, values in rows.items()
             if values}
  known_ids = [id_.decode() for id_ in columns[schema.CATALOG_ITEM_ID]]
  row_of = {id_: row for row, id_ in enumerate(known_ids)}
  if len(row_of) != len(known_ids):
    repeated = next(id_ for id_, row in row_of.items()
                    if known_ids.index(id_) != row)
    raise ValueError(f"The item catalog lists item {repeated!r} more than "
                     f"once (in {path!r}); item ids must be unique.")
  missing = [id_ for id_ in item_ids if id_ not in row_of]
  if missing:
    logging.warning(
        "%d of %d training items are not in the item catalog (e.g. %r): they "
        "are embedded from their id alone.", len(missing), len(item_ids),
        missing[0])
  rows_of_ids = np.array([row_of.get(id_, -1) for id_ in item_ids], np.int64)
  known = rows_of_ids >= 0

  def aligned(name, fill, dtype):
    values = columns[name]
    out = np.full((len(item_ids),) + values.shape[1:], fill, dtype)
    out[known] = values[rows_of_ids[known]]
    return out

  embeddings = (aligned(schema.CATALOG_EMBEDDING, 0.0, np.float32)
                if pretrained else None)
  return ItemContent(
      item_ids=np.array(list(item_ids), dtype=object),
      advertiser_ids=_decoded(aligned(schema.CATALOG_ADVERTISER_ID, b"",
                                      object)),
      categories=_decoded(aligned(schema.CATALOG_CATEGORY, b"", object)),
      prices=aligned(schema.CATALOG_PRICE, np.nan, np.float32),
      embeddings=embeddings)


def _decoded(values: np.ndarray) -> np.ndarray:
  return np.array([v.decode() if isinstance(v, bytes) else v for v in values],
                  dtype=object)


class ItemContentLookup(tf.keras.layers.Layer):
  """The content of known items by id, for the item tower.

  Training positives are ids; this looks their catalog row up in tables of
  the training items (a few, next to a catalog of millions). Unknown ids
  come back with their id and unknown content.

  Call: tf.string [N] -> the item tower's input dict: ``CATALOG_ITEM_ID``,
  ``CATALOG_ADVERTISER_ID``, ``CATALOG_CATEGORY`` (tf.string [N]),
  ``CATALOG_PRICE`` (float32 [N]) and, if the content has them,
  ``CATALOG_EMBEDDING`` (float32 [N, E]).
  """

  def __init__(self, content: ItemContent, **kwargs):
    super().__init__(trainable=False, **kwargs)
    self.lookup = tf.keras.layers.StringLookup(
        vocabulary=list(content.item_ids), num_oov_indices=1,
        mask_token=None, name="lookup")
    # Row 0, the unknown item, then the items in order.
    self._tables = {
        schema.CATALOG_ADVERTISER_ID: tf.constant(
            [schema.STRING_PAD] + list(content.advertiser_ids), tf.string),
        schema.CATALOG_CATEGORY: tf.constant(
            [schema.STRING_PAD] + list(content.categories), tf.string),
        schema.CATALOG_PRICE: tf.constant(
            np.concatenate([[np.nan], content.prices]).astype(np.float32)),
    }
    if content.embeddings is not None:
      self._tables[schema.CATALOG_EMBEDDING] = tf.constant(np.concatenate(
          [np.zeros_like(content.embeddings[:1]), content.embeddings]))

  def call(self, item_ids: tf.Tensor) -> Dict[str, tf.Tensor]:
    rows = self.lookup(item_ids)
    features = {name: tf.gather(table, rows)
                for name, table in self._tables.items()}
    features[schema.CATALOG_ITEM_ID] = item_ids
    return features
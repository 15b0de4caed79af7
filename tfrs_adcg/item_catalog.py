"""The item catalog: streamed reading, and the content of known items.

An item catalog holds one row per item: ``item_id``, ``advertiser_id``,
``category``, ``price`` and, optionally, ``embedding``, a pretrained vector
(any dimension, from another model). It is a Parquet file (``*.parquet``,
the vector a ``list<float32>``) or TFRecord shards of ``tf.train.Example``
(``*.tfrecord``, ``*.tfrecord.gz`` or a glob of them; read by
``item_catalog_tfrecord``). The path's suffix says which; every function here
takes either. A catalog may hold millions of rows, so it is only ever
streamed, a batch at a time, into ``tf.data``; nothing holds the whole
catalog as Python objects.

Parquet is read with pyarrow, not with ``tfio.IODataset.from_parquet``:
tensorflow-io 0.37 reads flat columns only and returns a ``list<float32>``
column as its first N leaf values (one float a row), silently. pyarrow reads
local paths and gs://, s3:// or hdfs:// URIs.

Training keeps the content of its *training items* (the items converted
with in the training examples, which get an id embedding) and of the other
items of its histories (which the user tower embeds through the item tower)
in ``model_dir/assets/training_items.parquet``, catalog rows in Parquet
whatever the catalog's format, so a trained model is rebuilt from its model
directory alone while the catalog it ranks may grow.
"""

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np

import tensorflow as tf

from tfrs_adcg import item_catalog_tfrecord
from tfrs_adcg import schema

DEFAULT_BATCH_SIZE = 4096
CATALOG_COLUMNS = (schema.CATALOG_ITEM_ID, schema.CATALOG_EMBEDDING)
# What the item tower reads of an item, besides the optional embedding.
CONTENT_COLUMNS = (schema.CATALOG_ITEM_ID, schema.CATALOG_ADVERTISER_ID,
                   schema.CATALOG_CATEGORY, schema.CATALOG_PRICE)
TRAINING_ITEMS = "training_items.parquet"  # In model_dir/assets/.
PARQUET_SUFFIX = ".parquet"

_READ_BUFFER_BYTES = 1 << 20


def _is_tfrecord(path: str) -> bool:
  """Whether ``path`` is a TFRecord catalog; a ValueError if of neither."""
  if item_catalog_tfrecord.is_tfrecord(path):
    return True
  if path.endswith(PARQUET_SUFFIX):
    return False
  raise ValueError(
      f"The item catalog {path!r} must be a Parquet file (*{PARQUET_SUFFIX}) "
      f"or TFRecord files of tf.train.Example (a path or glob ending in "
      f"{' or '.join(item_catalog_tfrecord.SUFFIXES)}) with "
      f"{', '.join(CONTENT_COLUMNS)} and optionally "
      f"{schema.CATALOG_EMBEDDING}; `python -m tfrs_adcg.synthetic "
      "--format parquet` writes one.")


def _open_parquet(path: str):
  """A ``pyarrow.parquet.ParquetFile`` for a local path or a URI.

  Column chunks are read through a buffer of ``_READ_BUFFER_BYTES``, not
  whole: a row group's embedding chunk can be hundreds of MB.
  """
  import pyarrow.fs  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  if "://" in path:
    filesystem, path = pyarrow.fs.FileSystem.from_uri(path)
    path = filesystem.open_input_file(path)
  return pq.ParquetFile(path, buffer_size=_READ_BUFFER_BYTES)


def _embedding_dim(path: str, catalog) -> int:
  """The length of the first item's embedding; checks the column's type."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top

  kind = catalog.schema_arrow.field(schema.CATALOG_EMBEDDING).type
  if not ((pa.types.is_list(kind) or pa.types.is_large_list(kind) or
           pa.types.is_fixed_size_list(kind)) and
          pa.types.is_floating(kind.value_type)):
    raise ValueError(
        f"Column {schema.CATALOG_EMBEDDING!r} of {path!r} is {kind}; the "
        "embedding must be a list of floats (list<float32>), one vector a "
        "row.")
  first = next(catalog.iter_batches(
      batch_size=1, columns=[schema.CATALOG_ITEM_ID,
                             schema.CATALOG_EMBEDDING]))
  vector = first.column(schema.CATALOG_EMBEDDING)[0]
  if not vector.is_valid:
    raise ValueError(f"Item {first.column(0)[0].as_py()!r} of {path!r} has "
                     f"no {schema.CATALOG_EMBEDDING}.")
  return len(vector)


def _column_spec(path: str, field,
                 embedding_dim: Optional[int]) -> tf.TensorSpec:
  """The batched TensorSpec of one Parquet column, or a ValueError."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top

  kind = field.type
  if field.name == schema.CATALOG_EMBEDDING:
    return tf.TensorSpec([None, embedding_dim], tf.float32,
                         name=field.name)
  if pa.types.is_string(kind) or pa.types.is_large_string(kind):
    return tf.TensorSpec([None], tf.string, name=field.name)
  if pa.types.is_integer(kind):
    return tf.TensorSpec([None], tf.int64, name=field.name)
  if pa.types.is_floating(kind):
    return tf.TensorSpec([None], tf.float32, name=field.name)
  raise ValueError(f"Column {field.name!r} of {path!r} is {kind}; only "
                   "strings, numbers and the embedding list are read.")


def _embedding_rows(path: str, ids: np.ndarray, column,
                    dim: int) -> np.ndarray:
  """A list column as float32 [rows, dim]; a ValueError for other lengths."""
  if column.null_count:
    row = int(np.flatnonzero(column.is_null().to_numpy(
        zero_copy_only=False))[0])
    raise ValueError(f"Item {ids[row]!r} of {path!r} has no "
                     f"{schema.CATALOG_EMBEDDING}.")
  lengths = column.value_lengths().to_numpy(zero_copy_only=False)
  wrong = np.flatnonzero(lengths != dim)
  if len(wrong):
    raise ValueError(
        f"Item {ids[wrong[0]]!r} of {path!r} has a {lengths[wrong[0]]}-"
        f"dimensional {schema.CATALOG_EMBEDDING}; the catalog's first item "
        f"has {dim}. Inconsistent embedding dims.")
  values = column.flatten().to_numpy(zero_copy_only=False)
  return values.astype(np.float32, copy=False).reshape(len(column), dim)


def read_item_catalog(path: str,
                      columns: Sequence[str] = CATALOG_COLUMNS,
                      batch_size: int = DEFAULT_BATCH_SIZE
                      ) -> tf.data.Dataset:
  """Streams an item catalog as batches of its columns.

  Reads one batch at a time: memory stays at a batch whatever the catalog's
  size. The catalog's schema (a TFRecord catalog's first record) is checked
  here; each batch's rows as they are read (a wrong row fails the iteration
  with an InvalidArgumentError quoting the item).

  Args:
    path: A Parquet file or TFRecord files (see the module docstring): local
      path or gs://, s3://, hdfs:// URI.
    columns: Columns to read, ``schema.CATALOG_ITEM_ID`` among them.
      ``schema.CATALOG_EMBEDDING`` (list<float32>, a float list) comes out as
      float32 [batch, D], strings as tf.string [batch], integers as int64
      [batch], floats as float32 [batch].
    batch_size: Rows per batch (the last one, of a file, may hold fewer).

  Returns:
    A dataset of {column: tensor} dicts.

  Raises:
    ValueError: if the path is of neither format, the catalog has no rows,
      lacks a column, or a column has a type not listed above.
  """
  if schema.CATALOG_ITEM_ID not in columns:
    raise ValueError(f"Read {schema.CATALOG_ITEM_ID!r} too: errors name the "
                     "item, and the index returns its id.")
  if _is_tfrecord(path):
    return item_catalog_tfrecord.read_item_catalog(path, columns, batch_size)
  catalog = _open_parquet(path)
  arrow_schema = catalog.schema_arrow
  missing = [name for name in columns if name not in arrow_schema.names]
  if missing:
    raise ValueError(
        f"{path!r} has no column {', '.join(map(repr, missing))} (it has "
        f"{', '.join(arrow_schema.names)}). An item catalog needs "
        f"{schema.CATALOG_ITEM_ID!r} and, for pretrained vectors, "
        f"{schema.CATALOG_EMBEDDING!r} as list<float32>.")
  if catalog.metadata.num_rows == 0:
    raise ValueError(f"The item catalog {path!r} is empty: no item to read.")
  embedding_dim = (_embedding_dim(path, catalog)
                   if schema.CATALOG_EMBEDDING in columns else None)
  specs = {name: _column_spec(path, arrow_schema.field(name), embedding_dim)
           for name in columns}

  def batches():
    for batch in _open_parquet(path).iter_batches(batch_size=batch_size,
                                                  columns=list(columns)):
      ids = batch.column(schema.CATALOG_ITEM_ID).to_numpy(
          zero_copy_only=False)
      features = {}
      for name in columns:
        column = batch.column(name)
        if name == schema.CATALOG_EMBEDDING:
          features[name] = _embedding_rows(path, ids, column, embedding_dim)
          continue
        if column.null_count:
          raise ValueError(f"{path!r} has empty values in column {name!r}.")
        features[name] = column.to_numpy(zero_copy_only=False).astype(
            specs[name].dtype.as_numpy_dtype)
      yield features

  return tf.data.Dataset.from_generator(batches, output_signature=specs)


def num_items(path: str) -> int:
  """The number of rows of a catalog: a Parquet footer, or a TFRecord pass."""
  if _is_tfrecord(path):
    return item_catalog_tfrecord.num_items(path)
  return _open_parquet(path).metadata.num_rows


def content_columns(pretrained: bool) -> List[str]:
  """The catalog columns the item tower reads."""
  return list(CONTENT_COLUMNS) + ([schema.CATALOG_EMBEDDING]
                                  if pretrained else [])


def check_catalog(path: str, pretrained: bool) -> None:
  """Fails with a sentence unless ``path`` is a catalog the item tower reads.

  A TFRecord catalog's columns are the features of its first record.

  Raises:
    ValueError: for a path of neither format or matching no file, a missing
      column, or pretrained embeddings asked for from a catalog without them.
  """
  if _is_tfrecord(path):
    names = item_catalog_tfrecord.feature_names(path)
  elif not tf.io.gfile.exists(path):
    raise ValueError(f"The item catalog {path!r} does not exist.")
  else:
    names = _open_parquet(path).schema_arrow.names
  if pretrained and schema.CATALOG_EMBEDDING not in names:
    raise ValueError(
        f"The item catalog {path!r} has no {schema.CATALOG_EMBEDDING!r} "
        "column of pretrained vectors; train with --no_pretrained to embed "
        "items from their id, advertiser, category and price alone.")
  missing = [name for name in CONTENT_COLUMNS if name not in names]
  if missing:
    raise ValueError(f"The item catalog {path!r} lacks the column(s) "
                     f"{', '.join(missing)}; it has {', '.join(names)}.")


def read_item_content(path: str, pretrained: bool,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> tf.data.Dataset:
  """Streams the item tower's input from a catalog: dicts of [b] / [b, E].

  ``price`` comes as float32 whatever its type in the catalog.
  """

  def float_price(features):
    features = dict(features)
    features[schema.CATALOG_PRICE] = tf.cast(features[schema.CATALOG_PRICE],
                                             tf.float32)
    return features

  return read_item_catalog(path, content_columns(pretrained),
                           batch_size).map(float_price)


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
  types = {name: pa.string() for name in CONTENT_COLUMNS}
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
    for batch in read_item_content(catalog_path, pretrained):
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
  if not num_items(path):
    raise ValueError(
        f"None of the {len(item_ids)} training items is in the item catalog "
        f"({path!r} is empty): is the catalog the one of this event log?")
  for batch in read_item_content(path, pretrained):
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


@dataclasses.dataclass(frozen=True)
class AdvertiserItems:
  """The catalog by advertiser, for expanding advertiser rankings to items.

  Attributes:
    items_of: advertiser -> its most popular items (most training positives
      first, ties in catalog order), at most ``per_advertiser`` of them.
    positives: advertiser -> training positives of all its items.
  """
  items_of: Dict[str, List[str]]
  positives: Dict[str, int]

  def popularity_ranking(self) -> List[str]:
    """Advertisers by the training positives of their items, most first."""
    return sorted(self.items_of, key=lambda a: (-self.positives[a], a))


def advertiser_items(catalog_path: str, positives: Dict[str, int],
                     per_advertiser: int) -> AdvertiserItems:
  """Groups the catalog by advertiser in one streamed pass.

  Args:
    catalog_path: The item catalog.
    positives: Training positives per item; missing items have none.
    per_advertiser: Items kept per advertiser.
  """
  kept: Dict[str, List[tuple]] = {}
  totals: Dict[str, int] = {}
  row = 0
  for batch in read_item_catalog(
      catalog_path, (schema.CATALOG_ITEM_ID, schema.CATALOG_ADVERTISER_ID)):
    for item, advertiser in zip(
        batch[schema.CATALOG_ITEM_ID].numpy(),
        batch[schema.CATALOG_ADVERTISER_ID].numpy()):
      item, advertiser = item.decode(), advertiser.decode()
      count = positives.get(item, 0)
      totals[advertiser] = totals.get(advertiser, 0) + count
      entries = kept.setdefault(advertiser, [])
      entries.append((-count, row, item))
      row += 1
      if len(entries) > 2 * per_advertiser:
        entries.sort()
        del entries[per_advertiser:]
  return AdvertiserItems(
      items_of={advertiser: [item for _, _, item in
                             sorted(entries)[:per_advertiser]]
                for advertiser, entries in kept.items()},
      positives=totals)


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

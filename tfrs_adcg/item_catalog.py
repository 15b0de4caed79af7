"""The item catalog: streamed reading, checks, and grouping by advertiser.

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

What a trained model keeps of the catalog, the content of its own items, is
``item_content``'s.
"""

import dataclasses
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

"""Item catalogs in TFRecord: ``tf.train.Example`` records, into tf.data.

A TFRecord catalog is one file or a glob of shards (``items-*.tfrecord.gz``),
gzip-compressed when the name ends in ``.gz``, of one ``tf.train.Example``
per item with the features ``schema.CATALOG_ITEM_ID``,
``CATALOG_ADVERTISER_ID``, ``CATALOG_CATEGORY`` (``bytes_list``, one value),
``CATALOG_PRICE`` (``float_list``, one value) and optionally
``CATALOG_EMBEDDING`` (``float_list``, a pretrained vector of the same length
for every item). A feature's kind is the one of the catalog's first record;
the Parquet reader's conventions follow (``int64_list`` values are read as
int64).

Shards are read one after another, each as ``TFRecordDataset`` -> batch ->
``tf.io.parse_example`` with ragged features, so that a record lacking a
feature, or with an embedding of another length, is caught batch by batch as
the records stream by, and named with its file, instead of failing inside
TensorFlow's parser.
"""

import re
from typing import Dict, List, Optional, Sequence, Tuple

from google.protobuf import message
import numpy as np

import tensorflow as tf

from tfrs_adcg import schema

SUFFIXES = (".tfrecord", ".tfrecord.gz")

_DTYPES = {"bytes_list": tf.string, "float_list": tf.float32,
           "int64_list": tf.int64}
_RECORD_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.DataLossError)
_COUNT_BATCH = 1 << 16  # Records counted per step of num_items.


def is_tfrecord(path: str) -> bool:
  """Whether ``path`` (a file or a glob) names TFRecord catalog shards."""
  return path.endswith(SUFFIXES)


def catalog_files(path: str) -> List[str]:
  """The shards of a catalog, in name order.

  Raises:
    ValueError: if ``path`` matches no file.
  """
  files = sorted(tf.io.gfile.glob(path))
  if not files:
    raise ValueError(f"The item catalog {path!r} does not exist (it matches "
                     "no file).")
  return files


def _records(file: str) -> tf.data.TFRecordDataset:
  return tf.data.TFRecordDataset(
      file, compression_type="GZIP" if file.endswith(".gz") else "")


def _unreadable(file: str, error: tf.errors.OpError) -> ValueError:
  """A sentence for a file TensorFlow fails to read or parse as items."""
  detail = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*", "",
                  error.message.splitlines()[0])
  return ValueError(
      f"{file!r} cannot be read as an item catalog ({detail}). An item is "
      "a tf.train.Example "
      f"with bytes features {schema.CATALOG_ITEM_ID}, "
      f"{schema.CATALOG_ADVERTISER_ID}, {schema.CATALOG_CATEGORY}, a float "
      f"{schema.CATALOG_PRICE} and optionally a float list "
      f"{schema.CATALOG_EMBEDDING}; files ending in .gz are read as gzip.")


def _first_item(path: str) -> Tuple[str, tf.train.Example]:
  """The first record of the catalog and its file; a ValueError if none."""
  files = catalog_files(path)
  for file in files:
    try:
      for record in _records(file).take(1):
        return file, tf.train.Example.FromString(record.numpy())
    except _RECORD_ERRORS as error:
      raise _unreadable(file, error) from None
    except message.DecodeError as error:
      raise ValueError(f"The first record of {file!r} is not a "
                       f"tf.train.Example: {error}") from None
  raise ValueError(f"The item catalog {path!r} is empty ({len(files)} "
                   "file(s), no record): no item to read.")


def _feature_names(example: tf.train.Example) -> List[str]:
  """The features of an example that hold a list, sorted."""
  return sorted(name for name, feature in example.features.feature.items()
                if feature.WhichOneof("kind"))


def feature_names(path: str) -> List[str]:
  """The features of the catalog's first item."""
  return _feature_names(_first_item(path)[1])


def num_items(path: str) -> int:
  """The number of records of a catalog: one pass over its shards."""
  total = 0
  for file in catalog_files(path):
    try:
      total += int(_records(file).batch(_COUNT_BATCH).reduce(
          np.int64(0), lambda n, records: n + tf.size(records, tf.int64)))
    except _RECORD_ERRORS as error:
      raise _unreadable(file, error) from None
  return total


def _item_name(file: str, record: int, item_id: np.ndarray) -> str:
  """How an error names a record: its number in the file and its id."""
  which = f"record {record} of {file!r}"
  if not len(item_id):
    return "R" + which[1:]
  return f"Item {item_id[0].decode()!r} ({which})"


def _dense_batch(file: str, first_record: int,
                 batch: Dict[str, tf.RaggedTensor],
                 embedding_dim: Optional[int]) -> Dict[str, np.ndarray]:
  """One value per item ([b]) and the embeddings as [b, E], or a ValueError.

  ``item_id`` is checked first, so that the other errors can name the item.
  """
  ids = batch[schema.CATALOG_ITEM_ID]
  features = {}
  for name in sorted(batch, key=lambda n: n != schema.CATALOG_ITEM_ID):
    lengths = batch[name].row_lengths().numpy()
    expected = embedding_dim if name == schema.CATALOG_EMBEDDING else 1
    wrong = np.flatnonzero(lengths != expected)
    if len(wrong):
      row, length = int(wrong[0]), int(lengths[wrong[0]])
      item = _item_name(file, first_record + row, ids[row].numpy())
      if not length:
        problem = f"has no {name!r} feature"
      elif name == schema.CATALOG_EMBEDDING:
        problem = (f"has a {length}-dimensional {name}; the catalog's first "
                   f"item has {embedding_dim}. Inconsistent embedding dims")
      else:
        problem = f"has {length} values of {name!r}; an item has one"
      raise ValueError(f"{item} {problem}.")
    values = batch[name].flat_values.numpy()
    features[name] = (values.reshape(-1, embedding_dim)
                      if name == schema.CATALOG_EMBEDDING else values)
  return features


def read_item_catalog(path: str, columns: Sequence[str],
                      batch_size: int) -> tf.data.Dataset:
  """Streams a TFRecord catalog as batches of its features.

  The first record's features are checked here; every record as it is read
  (a wrong one fails the iteration with an InvalidArgumentError quoting the
  item and its file).

  Args:
    path: A file or a glob of shards, local or any filesystem TensorFlow
      reads (gs://, and s3:// or hdfs:// through tensorflow-io).
    columns: Features to read. ``schema.CATALOG_EMBEDDING`` comes out as
      float32 [batch, E]; the others as [batch] of their kind: tf.string,
      float32 or int64.
    batch_size: Records per batch (a shard's last batch may hold fewer).

  Returns:
    A dataset of {feature: tensor} dicts.

  Raises:
    ValueError: if no file matches, the catalog has no record, or its first
      record lacks a feature or has an embedding that is not a float list.
  """
  first_file, example = _first_item(path)
  features = example.features.feature
  present = _feature_names(example)
  missing = [name for name in columns if name not in present]
  if missing:
    raise ValueError(
        f"The first item of {first_file!r} has no feature "
        f"{', '.join(map(repr, missing))} (it has {', '.join(present)}). An "
        "item catalog needs "
        f"{schema.CATALOG_ITEM_ID!r} and, for pretrained vectors, "
        f"{schema.CATALOG_EMBEDDING!r} as a float list.")
  dtypes = {name: _DTYPES[features[name].WhichOneof("kind")]
            for name in columns}
  embedding_dim = None
  if schema.CATALOG_EMBEDDING in columns:
    if dtypes[schema.CATALOG_EMBEDDING] != tf.float32:
      raise ValueError(
          f"Feature {schema.CATALOG_EMBEDDING!r} of {first_file!r} is a "
          f"{features[schema.CATALOG_EMBEDDING].WhichOneof('kind')}; the "
          "embedding must be a float_list, one vector a record.")
    embedding_dim = len(features[schema.CATALOG_EMBEDDING].float_list.value)
    if not embedding_dim:
      raise ValueError(f"The first item of {first_file!r} has an empty "
                       f"{schema.CATALOG_EMBEDDING!r}.")
  specs = {name: tf.TensorSpec(
      [None, embedding_dim] if name == schema.CATALOG_EMBEDDING else [None],
      dtypes[name], name=name) for name in columns}
  parse_spec = {name: tf.io.RaggedFeature(dtypes[name]) for name in columns}

  def batches():
    for file in catalog_files(path):
      parsed = iter(_records(file).batch(batch_size).map(
          lambda records: tf.io.parse_example(records, parse_spec)))
      first_record = 0
      while True:
        try:
          batch = next(parsed)
        except StopIteration:
          break
        except _RECORD_ERRORS as error:
          raise _unreadable(file, error) from None
        features = _dense_batch(file, first_record, batch, embedding_dim)
        first_record += len(features[schema.CATALOG_ITEM_ID])
        yield features

  return tf.data.Dataset.from_generator(batches, output_signature=specs)

"""The id vocabularies, candidate frequencies and advertiser catalog of a data dir.

``beam.preprocess`` writes these files next to the TFRecords; training copies
them into ``model_dir/assets/`` (same layout) so that a trained model can be
rebuilt from its model directory alone. ``read_vocabularies`` reads either.
"""

import dataclasses
import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from tfrs_adcg import schema


@dataclasses.dataclass(frozen=True)
class Catalog:
  """The advertiser catalog: one row per advertiser.

  Attributes:
    advertiser_ids: [N] ids, in file order.
    categories: [N] category of each advertiser ("" when unknown).
    numeric_names: [F] names of the numeric columns.
    numeric: [N, F] float32 values, NaN where a value is missing.
  """
  advertiser_ids: List[str]
  categories: List[str]
  numeric_names: List[str]
  numeric: np.ndarray


@dataclasses.dataclass(frozen=True)
class Vocabularies:
  """Everything the towers and the baselines need to know about ids.

  Attributes:
    advertiser_ids: Advertisers of the history events, most frequent first.
    item_ids: Items of the history events, most frequent first.
    event_types: Event types, most frequent first.
    categories: Advertiser categories (from the catalog).
    positives: Training positives per advertiser (label occurrences).
    probabilities: Each advertiser's share of the training positives: the
      probability that it is the positive of a random training pair, which is
      its sampling probability as an in-batch negative.
    catalog: The advertiser catalog, when the data has one.
  """
  advertiser_ids: List[str]
  item_ids: List[str]
  event_types: List[str]
  categories: List[str]
  positives: Dict[str, int]
  probabilities: Dict[str, float]
  catalog: Optional[Catalog]

  def candidate_ids(self) -> List[str]:
    """The candidate corpus: every advertiser any file knows, without repeats.

    Advertisers of the history vocabulary first (most frequent first), then
    advertisers only seen as labels, then catalog-only advertisers.
    """
    sources = [self.advertiser_ids, list(self.positives)]
    if self.catalog is not None:
      sources.append(self.catalog.advertiser_ids)
    return _distinct(id_ for source in sources for id_ in source)

  def advertiser_corpus(self) -> List[str]:
    """Every advertiser of the history vocabulary and the catalog.

    The advertiser ids of an item-level model, whose positives are items.
    """
    sources = [self.advertiser_ids]
    if self.catalog is not None:
      sources.append(self.catalog.advertiser_ids)
    return _distinct(id_ for source in sources for id_ in source)

  def trained_candidates(self) -> List[str]:
    """Candidates with training positives, most first; ties by id."""
    return sorted((id_ for id_, count in self.positives.items() if count > 0),
                  key=lambda id_: (-self.positives[id_], id_))

  def popularity_ranking(self) -> List[str]:
    """The corpus ordered by training positives, most first; ties by id.

    Ties are not broken by the vocabulary's order: its counts include events
    of the valid and eval windows.
    """
    return sorted(self.candidate_ids(),
                  key=lambda id_: (-self.positives.get(id_, 0), id_))


def asset_files(directory: str) -> List[str]:
  """The paths (relative to a data dir) of the files a trained model needs."""
  relative = [
      os.path.join(schema.VOCAB_DIR, feature + schema.VOCAB_SUFFIX)
      for feature in schema.STRING_SEQUENCE_FEATURES + (
          schema.CATALOG_CATEGORY,)
  ]
  relative += [schema.CANDIDATE_FREQUENCIES, schema.ADVERTISER_CATALOG]
  return [path for path in relative
          if tf.io.gfile.exists(os.path.join(directory, path))]


def copy_assets(data_dir: str, assets_dir: str) -> None:
  """Copies a data dir's vocabulary, frequency and catalog files."""
  for path in asset_files(data_dir):
    target = os.path.join(assets_dir, path)
    tf.io.gfile.makedirs(os.path.dirname(target))
    tf.io.gfile.copy(os.path.join(data_dir, path), target, overwrite=True)


def read_vocabularies(directory: str) -> Vocabularies:
  """Reads the vocabularies of a data dir or of ``model_dir/assets``.

  Raises:
    schema.SchemaError: if a required file is missing or malformed.
  """
  frequencies = os.path.join(directory, schema.CANDIDATE_FREQUENCIES)
  positives, probabilities = {}, {}
  for line_number, fields in _read_tsv(frequencies, num_fields=3):
    try:
      positives[fields[0]] = int(fields[1])
      probabilities[fields[0]] = float(fields[2])
    except ValueError as e:
      raise schema.SchemaError(
          f"{frequencies}:{line_number}: expected "
          f"'id<TAB>positives<TAB>probability', got {fields}.") from e
  if not positives:
    raise schema.SchemaError(
        f"{frequencies} lists no candidates: the training split has no "
        "positives.")

  catalog = None
  catalog_path = os.path.join(directory, schema.ADVERTISER_CATALOG)
  if tf.io.gfile.exists(catalog_path):
    catalog = _read_catalog(catalog_path)
  category_path = schema.vocab_path(directory, schema.CATALOG_CATEGORY)
  categories = (_read_vocab(category_path)
                if tf.io.gfile.exists(category_path) else [])
  if catalog is not None:
    categories = _distinct(categories + catalog.categories)

  return Vocabularies(
      advertiser_ids=_read_vocab(
          schema.vocab_path(directory, schema.ADVERTISER_ID)),
      item_ids=_read_vocab(schema.vocab_path(directory, schema.ITEM_ID)),
      event_types=_read_vocab(schema.vocab_path(directory, schema.EVENT_TYPE)),
      categories=categories,
      positives=positives,
      probabilities=probabilities,
      catalog=catalog)


def _read_vocab(path: str) -> List[str]:
  """The ids of a vocabulary file, most frequent first, without padding."""
  return _distinct(fields[0] for _, fields in _read_tsv(path, num_fields=2))


def _read_catalog(path: str) -> Catalog:
  rows = list(_read_tsv(path, num_fields=None))
  if not rows:
    raise schema.SchemaError(f"{path} is empty: expected a header row.")
  _, header = rows[0]
  if header[:2] != [schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY]:
    raise schema.SchemaError(
        f"{path}: the header must start with '{schema.CATALOG_ADVERTISER_ID}"
        f"<TAB>{schema.CATALOG_CATEGORY}', got {header}.")
  numeric_names = header[2:]
  ids, categories, numeric = [], [], []
  for line_number, fields in rows[1:]:
    if len(fields) != len(header):
      raise schema.SchemaError(
          f"{path}:{line_number}: {len(fields)} fields, the header has "
          f"{len(header)}.")
    ids.append(fields[0])
    categories.append(fields[1])
    numeric.append([_to_float(value, path, line_number)
                    for value in fields[2:]])
  return Catalog(
      advertiser_ids=ids,
      categories=categories,
      numeric_names=numeric_names,
      numeric=np.asarray(numeric, np.float32).reshape(len(ids),
                                                      len(numeric_names)))


def _to_float(value: str, path: str, line_number: int) -> float:
  if not value:
    return math.nan
  try:
    return float(value)
  except ValueError as e:
    raise schema.SchemaError(
        f"{path}:{line_number}: catalog feature {value!r} is not a number."
    ) from e


def _read_tsv(path: str, num_fields: Optional[int]):
  """Yields (line number, fields) of a tab-separated file."""
  if not tf.io.gfile.exists(path):
    raise schema.SchemaError(
        f"{path} is missing: is its directory the --output of "
        "`python -m beam.preprocess`?")
  with tf.io.gfile.GFile(path) as f:
    for line_number, line in enumerate(f, start=1):
      line = line.rstrip("\n")
      if not line:
        continue
      fields = line.split("\t")
      if num_fields is not None and len(fields) != num_fields:
        raise schema.SchemaError(
            f"{path}:{line_number}: expected {num_fields} tab-separated "
            f"fields, got {len(fields)}.")
      yield line_number, fields


def _distinct(ids: Sequence[str]) -> List[str]:
  """The ids in first-seen order, without repeats and without padding."""
  return [id_ for id_ in dict.fromkeys(ids) if id_ != schema.STRING_PAD]

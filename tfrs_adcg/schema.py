"""The example schema: the one contract between preprocessing and training.

Every stage of the flow spells feature names, file names and padding values
through this module and nowhere else:

* raw events (``beam.preprocess`` input): the ``RAW_*`` column names;
* training examples (TFRecord, ``tf.train.Example``): one per (user, cutoff),
  the user's history as variable-length lists ordered oldest first, and the
  label set;
* the user tower's input and the serving signature: the same sequence feature
  names as dense ``[batch, length]`` tensors, padded with ``STRING_PAD`` and
  ``INT_PAD`` after the real events;
* the files ``beam.preprocess`` writes into a data directory.

Bump ``SCHEMA_VERSION`` whenever any of this changes: training refuses data
written under another version.
"""

import json
import os
from typing import Dict, Mapping, Sequence

from tfrs_adcg import example_proto

SCHEMA_VERSION = 2  # 2: times in epoch milliseconds (were seconds).

# Raw event columns (input of beam.preprocess and beam.batch_candidates).
RAW_USER_ID = "user_id"
RAW_TIMESTAMP = "timestamp"
RAW_EVENT_TYPE = "event_type"
RAW_ITEM_ID = "item_id"
RAW_ADVERTISER_ID = "advertiser_id"
RAW_COLUMNS = (RAW_USER_ID, RAW_TIMESTAMP, RAW_EVENT_TYPE, RAW_ITEM_ID,
               RAW_ADVERTISER_ID)

# Sequence features: one value per event, oldest first.
ADVERTISER_ID = "advertiser_id"
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"
TIMESTAMP = "timestamp"  # int64 epoch milliseconds.
STRING_SEQUENCE_FEATURES = (ADVERTISER_ID, ITEM_ID, EVENT_TYPE)
SEQUENCE_FEATURES = STRING_SEQUENCE_FEATURES + (TIMESTAMP,)

# Example-level features.
USER_ID = "user_id"
CUTOFF = "cutoff"  # epoch milliseconds; history is strictly before it.
LABEL_ADVERTISER_IDS = "label_advertiser_ids"  # distinct, in (cutoff, cutoff + K].
LABEL_ITEM_IDS = "label_item_ids"

STRING_PAD = ""
INT_PAD = 0

# What the candidates are (manifest config "task"): the labels of the task's
# examples are LABEL_ADVERTISER_IDS or LABEL_ITEM_IDS.
ADVERTISER_TASK = "advertiser"
ITEM_TASK = "item"
TASKS = (ADVERTISER_TASK, ITEM_TASK)

# Advertiser catalog columns (optional input; the candidate tower's features).
CATALOG_ADVERTISER_ID = "advertiser_id"
CATALOG_CATEGORY = "category"

# Item catalog columns (optional input; the item tower's features), besides
# CATALOG_ADVERTISER_ID and CATALOG_CATEGORY.
CATALOG_ITEM_ID = "item_id"
CATALOG_PRICE = "price"
CATALOG_EMBEDDING = "embedding"  # Pretrained vector: list<float32>/float_list.

# Files in a preprocessed data directory.
TRAIN = "train"
VALID = "valid"
EVAL = "eval"
SPLITS = (TRAIN, VALID, EVAL)
TFRECORD_SUFFIX = ".tfrecord.gz"
VOCAB_DIR = "vocab"
VOCAB_SUFFIX = ".tsv"  # lines "<id>\t<count>", most frequent first.
CANDIDATE_FREQUENCIES = "candidate_frequencies.tsv"  # "<id>\t<positives>\t<probability>"
ADVERTISER_CATALOG = "advertisers.tsv"  # header row, then one advertiser a line.
MANIFEST = "manifest.json"
DEAD_LETTER_DIR = "dead_letter"

# Offline candidates (beam.batch_candidates output): one record per user with
# USER_ID and these fields, in shards named "<CANDIDATES>-SSSSS-of-NNNNN.*",
# next to MANIFEST, DEAD_LETTER_DIR and SKIPPED_USERS_DIR.
CANDIDATES = "candidates"
CANDIDATE_IDS = "candidate_ids"  # Best first.
SCORES = "scores"  # float32, aligned with CANDIDATE_IDS.
MODEL_VERSION = "model_version"
AS_OF = "as_of"  # ISO-8601; the history is the events at or before it.
GENERATED_AT = "generated_at"  # ISO-8601 start of the run.
SKIPPED_USERS_DIR = "skipped_users"  # JSON lines {USER_ID, "reason", ...}.


# Why an input event row is dropped: the keys of the manifests'
# counts.events_dropped. The synthetic generator injects all but the first.
MALFORMED_ROW = "malformed_row"
MISSING_USER_ID = "missing_user_id"
MISSING_ADVERTISER_ID = "missing_advertiser_id"
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
DUPLICATE = "duplicate"
# An id that is no text or number (a JSON bool, object or list), or holds a
# tab or line break, which the vocabulary files cannot hold.
INVALID_ID = "invalid_id"
DROP_REASONS = (MALFORMED_ROW, MISSING_USER_ID, MISSING_ADVERTISER_ID,
                BAD_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE, UNKNOWN_EVENT_TYPE,
                DUPLICATE, INVALID_ID)


# Serializes examples; its caches of encoded ids and times live as long as
# the process.
_ENCODER = example_proto.ExampleEncoder()
# encode_example's layout: the user, the string histories, the labels, then
# the integers.
_ENCODE_EXAMPLE = _ENCODER.layout(
    (USER_ID,) + STRING_SEQUENCE_FEATURES
    + (LABEL_ADVERTISER_IDS, LABEL_ITEM_IDS), (CUTOFF, TIMESTAMP))


class SchemaError(ValueError):
  """A data directory that does not hold data of this schema."""


def split_pattern(data_dir: str, split: str) -> str:
  """The glob of one split's TFRecord shards in ``data_dir``."""
  return os.path.join(data_dir, f"{split}-*{TFRECORD_SUFFIX}")


def label_feature(task: str) -> str:
  """The label feature whose ids are the candidates of ``task``."""
  if task not in TASKS:
    raise ValueError(f"task must be one of {TASKS}, not {task!r}.")
  return LABEL_ITEM_IDS if task == ITEM_TASK else LABEL_ADVERTISER_IDS


def candidate_feature(task: str) -> str:
  """The history feature whose ids are the candidates of ``task``."""
  if task not in TASKS:
    raise ValueError(f"task must be one of {TASKS}, not {task!r}.")
  return ITEM_ID if task == ITEM_TASK else ADVERTISER_ID


def vocab_path(data_dir: str, feature: str) -> str:
  """The vocabulary file of a string feature (or of ``CATALOG_CATEGORY``)."""
  return os.path.join(data_dir, VOCAB_DIR, feature + VOCAB_SUFFIX)


def encode_example(user_id: str, cutoff: int,
                   history: Mapping[str, example_proto.Values],
                   label_advertiser_ids: Sequence[str],
                   label_item_ids: Sequence[str] = ()) -> bytes:
  """Serializes one training example as a ``tf.train.Example``.

  Args:
    user_id: The user.
    cutoff: Epoch milliseconds; every history event is strictly before it.
    history: ``SEQUENCE_FEATURES`` to equally long lists (or their
      ``example_proto.EncodedValues``), oldest event first; or a
      ``history_window``.
    label_advertiser_ids: Distinct advertisers converted with after cutoff.
    label_item_ids: Distinct items converted with after cutoff.

  Returns:
    The serialized example.
  """
  if isinstance(history, _HistoryWindow):
    *strings, times = history
  else:
    lengths = {example_proto.count(history[name])
               for name in SEQUENCE_FEATURES}
    if len(lengths) != 1:
      raise ValueError(f"History features differ in length: {lengths}")
    *strings, times = (_ENCODER.values_bytes(history[name], name == TIMESTAMP)
                       for name in SEQUENCE_FEATURES)
  return _ENCODE_EXAMPLE([_ENCODER.strings((user_id,)), *strings,
                          _ENCODER.strings(label_advertiser_ids),
                          _ENCODER.strings(label_item_ids),
                          _ENCODER.int64s((cutoff,)), times])


class _HistoryWindow(tuple):
  """Events of a ``history_window``: the values' bytes of each of
  ``SEQUENCE_FEATURES`` in turn, which are equally many."""


def encode_history(
    history: Mapping[str, Sequence]
) -> Dict[str, example_proto.SerializedValues]:
  """A user's history serialized once, to be cut into windows.

  ``history_window`` of the result is a history for ``encode_example``; a
  user's examples share most of their events, which this encodes once.

  Args:
    history: ``SEQUENCE_FEATURES`` to equally long lists, oldest event first.
  """
  return {name: _ENCODER.serialize(history[name], name == TIMESTAMP)
          for name in SEQUENCE_FEATURES}


def history_window(encoded: Mapping[str, example_proto.SerializedValues],
                   start: int, end: int) -> _HistoryWindow:
  """Events ``[start, end)`` of an ``encode_history`` result, as a history
  for ``encode_example``."""
  return _HistoryWindow([
      data[offsets[start]:offsets[end]]
      for data, offsets in map(encoded.__getitem__, SEQUENCE_FEATURES)])


def feature_spec() -> Dict[str, object]:
  """The ``tf.io.parse_example`` spec; list features parse as ragged."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  spec = {
      USER_ID: tf.io.FixedLenFeature([], tf.string),
      CUTOFF: tf.io.FixedLenFeature([], tf.int64),
      TIMESTAMP: tf.io.RaggedFeature(tf.int64),
      LABEL_ADVERTISER_IDS: tf.io.RaggedFeature(tf.string),
      LABEL_ITEM_IDS: tf.io.RaggedFeature(tf.string),
  }
  for name in STRING_SEQUENCE_FEATURES:
    spec[name] = tf.io.RaggedFeature(tf.string)
  return spec


def read_manifest(data_dir: str) -> dict:
  """Reads and validates ``manifest.json`` of a preprocessed data directory.

  Raises:
    SchemaError: if the directory or manifest is missing, or the data was
      written under another schema version.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  path = os.path.join(data_dir, MANIFEST)
  if not tf.io.gfile.exists(path):
    raise SchemaError(
        f"{data_dir!r} holds no {MANIFEST}: is it the --output of "
        "`python -m beam.preprocess`?")
  with tf.io.gfile.GFile(path) as f:
    manifest = json.load(f)
  version = manifest.get("schema_version")
  if version != SCHEMA_VERSION:
    raise SchemaError(
        f"{data_dir!r} was written with schema version {version}; this "
        f"version of tfrs-adcg reads version {SCHEMA_VERSION}. Run "
        "beam.preprocess again.")
  return manifest

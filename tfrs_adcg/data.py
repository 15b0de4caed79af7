"""tf.data input: preprocessed TFRecord shards to training pairs and eval batches.

An example is one (user, cutoff) with its history and its label set: the
distinct advertisers (``LABEL_ADVERTISER_IDS``) or items
(``LABEL_ITEM_IDS``, the item task) the user converted with in the label
window. Training turns each example into one *training pair per positive*:
the example's history repeated once for each of its labels. Pairs are shuffled
across examples before batching, so the in-batch negatives of a pair are the
positives of other (mostly other users') pairs; the rare negative that equals
the row's own positive is removed as an accidental hit by the retrieval task,
and one that is another label of the row's own example is masked: each pair
carries its example's labels.
Every positive thus contributes one softmax term per epoch, as the per-user
Recall over all positives of the window asks.

Paths go through ``tf.io.gfile``, so ``gs://`` works, and ``s3://`` once
``tensorflow_io`` is imported.
"""

import dataclasses
import contextlib
import re
from typing import Dict, Iterator, List, Tuple

import tensorflow as tf

from tfrs_adcg import dense_targets
from tfrs_adcg import schema
from tfrs_adcg import timestamps

Features = Dict[str, tf.Tensor]

_PARSE_BATCH = 256


class CorruptShardError(schema.SchemaError):
  """A data dir with a TFRecord shard that cannot be read to its end."""


@dataclasses.dataclass(frozen=True)
class DenseTargets:
  """What the dense objective's positives are (see ``dense_targets``).

  Attributes:
    label_feature: The examples' labels of the task.
    candidate_feature: The history feature of a conversion's candidate id.
    conversion_types: Event types that are conversions (preprocessing's).
    window_ms: The label window (preprocessing's), in milliseconds.
    first_only: The first positive of a position, not a random one.
  """
  label_feature: str
  candidate_feature: str
  conversion_types: Tuple[str, ...]
  window_ms: int
  first_only: bool

  @classmethod
  def from_manifest(cls, manifest: dict, task: str,
                    first_only: bool) -> "DenseTargets":
    """The conversion types and label window preprocessing used."""
    config = manifest["config"]
    return cls(
        label_feature=schema.label_feature(task),
        candidate_feature=schema.candidate_feature(task),
        conversion_types=tuple(config["conversion_types"]),
        window_ms=(int(config["label_window_days"])
                   * timestamps.DAY_MILLISECONDS),
        first_only=first_only)


def shard_paths(data_dir: str, split: str) -> List[str]:
  """The sorted TFRecord shards of ``split``; may be empty."""
  return sorted(tf.io.gfile.glob(schema.split_pattern(data_dir, split)))


def data_task(manifest: dict) -> str:
  """The task a data dir was preprocessed for (``advertiser`` by default)."""
  return manifest.get("config", {}).get("task", schema.ADVERTISER_TASK)


def check_data_dir(data_dir: str) -> dict:
  """Validates a data dir before training reads it; returns its manifest.

  Raises:
    schema.SchemaError: if the directory is missing, holds no manifest, was
      written under another schema version or for an unknown task, or has no
      shards of one of the splits (train, valid, eval).
  """
  if not tf.io.gfile.isdir(data_dir):
    raise schema.SchemaError(
        f"Data directory {data_dir!r} does not exist: pass the --output of "
        "`python -m beam.preprocess` as --data.")
  manifest = schema.read_manifest(data_dir)
  task = data_task(manifest)
  if task not in schema.TASKS:
    raise schema.SchemaError(
        f"{data_dir!r} was preprocessed with --task {task}; tfrs_adcg.train "
        f"knows the tasks {', '.join(schema.TASKS)}.")
  for split in schema.SPLITS:
    if not shard_paths(data_dir, split):
      raise schema.SchemaError(
          f"{data_dir!r} holds no {split} shards "
          f"({schema.split_pattern(data_dir, split)}): the preprocessing run "
          "produced no examples for this split.")
  return manifest


def corrupt_shards(data_dir: str) -> List[Tuple[str, str]]:
  """Reads every shard of every split to its end.

  Returns:
    (path, reason) of each shard that is truncated or corrupted, e.g.
    ``"truncated record at 215784"``.
  """
  found = []
  for split in schema.SPLITS:
    for path in shard_paths(data_dir, split):
      records = tf.data.TFRecordDataset(path, compression_type="GZIP")
      try:
        records.reduce(0, lambda count, _: count + 1)
      except tf.errors.DataLossError as e:
        # "{{function_node ...}} truncated record at 215784' failed with
        # EOF reached [Op:ReduceDataset]": the reason only.
        reason = re.sub(r"\{\{.*?\}\}|' failed with .*|\[Op:.*", "",
                        e.message).strip()
        found.append((path, reason))
  return found


@contextlib.contextmanager
def naming_corrupt_shards(data_dir: str) -> Iterator[None]:
  """Turns a ``tf.errors.DataLossError`` inside into a ``CorruptShardError``
  that names the shards of ``data_dir`` that cannot be read.

  TensorFlow's error names no file; on one, every shard is read once to find
  the culprits. An error that no shard explains is raised as it is.
  """
  try:
    yield
  except tf.errors.DataLossError:
    found = corrupt_shards(data_dir)
    if not found:
      raise
    shards = "; ".join(f"{path}: {reason}" for path, reason in found)
    raise CorruptShardError(
        f"{len(found)} shard(s) of {data_dir!r} cannot be read to the end "
        f"(truncated or corrupted): {shards}. Write the data dir again with "
        "`python -m beam.preprocess`.") from None


def parse(serialized: tf.Tensor) -> Features:
  """Parses a batch of serialized examples: [B] -> ragged [B, None] lists."""
  return tf.io.parse_example(serialized, schema.feature_spec())


def recent_history(features: Features, max_seq_len: int) -> Features:
  """The last ``max_seq_len`` events of each history as dense [B, L] tensors.

  Histories are stored oldest first, so the most recent events are the tail;
  shorter histories are padded after their events.
  """
  dense = {}
  for name in schema.SEQUENCE_FEATURES:
    pad = schema.INT_PAD if name == schema.TIMESTAMP else schema.STRING_PAD
    dense[name] = features[name][:, -max_seq_len:].to_tensor(
        default_value=pad, shape=[None, max_seq_len])
  return dense


def _records(paths: List[str], shuffle_seed: int = None) -> tf.data.Dataset:
  files = tf.data.Dataset.from_tensor_slices(paths)
  if shuffle_seed is not None:
    files = files.shuffle(len(paths), seed=shuffle_seed)
  return files.interleave(
      lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
      cycle_length=min(len(paths), 4),
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True)


def _training_pairs(serialized: tf.Tensor, max_seq_len: int,
                    label_feature: str
                    ) -> Tuple[Features, tf.Tensor, tf.RaggedTensor]:
  """One row per (example, positive): repeated histories, [P] positives and
  each pair's example's labels, ragged [P, None]."""
  features = parse(serialized)
  labels = features[label_feature]
  example_of_pair = labels.value_rowids()
  history = {
      name: tf.gather(values, example_of_pair)
      for name, values in recent_history(features, max_seq_len).items()
  }
  return history, labels.flat_values, tf.gather(labels, example_of_pair)


def repeat_share(paths: List[str], max_seq_len: int, label_feature: str,
                 candidate_feature: str, max_examples: int) -> float:
  """The share of training positives that are a candidate of their own
  history: how often a user converts with a candidate just visited.

  Args:
    paths: Training shards, read in order.
    max_seq_len: History length L: only the last L events count.
    label_feature: The labels that are the positives (the task's).
    candidate_feature: The history feature of an event's candidate id.
    max_examples: How many examples, from the first, are looked at.

  Returns:
    Positives among the history's candidates / all positives of those
    examples; 0 when they hold no positive.
  """
  repeats = positives = 0
  for serialized in _records(paths).take(max_examples).batch(_PARSE_BATCH):
    features = parse(serialized)
    history = features[candidate_feature][:, -max_seq_len:].to_tensor(
        schema.STRING_PAD)  # [B, L]
    labels = features[label_feature].to_tensor(schema.STRING_PAD)  # [B, W]
    real = labels != schema.STRING_PAD
    in_history = tf.reduce_any(
        tf.equal(labels[:, :, tf.newaxis], history[:, tf.newaxis, :]),
        axis=-1) & real
    repeats += int(tf.reduce_sum(tf.cast(in_history, tf.int64)))
    positives += int(tf.reduce_sum(tf.cast(real, tf.int64)))
  return repeats / positives if positives else 0.0


def _pad_labels(history: Features, positives: tf.Tensor,
                example_labels: tf.RaggedTensor
                ) -> Tuple[Features, tf.Tensor, tf.Tensor]:
  return history, positives, example_labels.to_tensor(schema.STRING_PAD)


def training_dataset(paths: List[str], batch_size: int, max_seq_len: int,
                     shuffle_buffer: int, seed: int,
                     label_feature: str = schema.LABEL_ADVERTISER_IDS
                     ) -> tf.data.Dataset:
  """An endless, shuffled stream of batches of training pairs.

  Args:
    paths: Training shards.
    batch_size: Pairs per batch (the global batch under a distribution
      strategy); the last partial batch of a pass is dropped.
    max_seq_len: History length L.
    shuffle_buffer: Pairs in the shuffle buffer.
    seed: Seeds the shuffles, so that every worker of a multi-worker run
      sees the same order and shards it the same way.
    label_feature: The labels that are the positives (the task's).

  Returns:
    Elements ``(history, positives, example_labels)``: ``SEQUENCE_FEATURES``
    as [B, L] dense tensors, the [B] positive candidate ids, and [B, W] all
    labels of each pair's example, padded with "" to the batch's widest.
    Iterate it for a fixed number of steps per epoch.
  """
  dataset = (
      _records(paths, shuffle_seed=seed)
      .batch(_PARSE_BATCH)
      .map(lambda s: _training_pairs(s, max_seq_len, label_feature),
           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
      .unbatch()
      .shuffle(shuffle_buffer, seed=seed)
      .repeat()
      .ragged_batch(batch_size, drop_remainder=True)
      .map(_pad_labels)
      .prefetch(tf.data.AUTOTUNE))
  return _sharded_by_batch(dataset)


def _sharded_by_batch(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """``dataset`` with workers reading every shard and keeping every n-th
  batch: preprocessing may write fewer shards than there are workers."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


def dense_training_dataset(paths: List[str], batch_size: int,
                           max_seq_len: int, shuffle_buffer: int, seed: int,
                           targets: DenseTargets) -> tf.data.Dataset:
  """An endless, shuffled stream of batches of histories for the dense
  objective (see ``dense_targets``).

  Args:
    paths: Training shards.
    batch_size: Histories per batch (global); the last partial batch of a
      pass is dropped.
    max_seq_len: History length L.
    shuffle_buffer: Histories in the shuffle buffer.
    seed: Seeds the shuffles.
    targets: What the positives of a position are.

  Returns:
    Elements ``(history, positives, conversions)``: ``SEQUENCE_FEATURES``
    as [B, L] dense tensors; tf.string [B, L], each position's positive
    ("" for none), drawn anew each pass; and tf.string [B, W], each
    history's conversions and labels, padded with "".
  """

  def to_histories(serialized):
    features = parse(serialized)
    history = recent_history(features, max_seq_len)
    positives, conversions = dense_targets.position_positives(
        history, features[targets.label_feature], targets.candidate_feature,
        targets.conversion_types, targets.window_ms, targets.first_only)
    return history, positives, conversions

  dataset = (
      _records(paths, shuffle_seed=seed)
      .batch(_PARSE_BATCH)
      .unbatch()
      .shuffle(shuffle_buffer, seed=seed)
      .repeat()
      .batch(batch_size, drop_remainder=True)
      .map(to_histories, num_parallel_calls=tf.data.AUTOTUNE,
           deterministic=True)
      .map(_pad_labels)
      .prefetch(tf.data.AUTOTUNE))
  return _sharded_by_batch(dataset)


def evaluation_dataset(paths: List[str], max_seq_len: int,
                       batch_size: int = 512,
                       label_feature: str = schema.LABEL_ADVERTISER_IDS
                       ) -> tf.data.Dataset:
  """Eval batches in file order: examples with at least one positive.

  Returns:
    Dicts of the [B, L] dense ``SEQUENCE_FEATURES`` plus the ragged [B, None]
    ``label_feature``.
  """

  def to_eval_batch(serialized):
    features = parse(serialized)
    labels = features[label_feature]
    has_labels = labels.row_lengths() > 0
    batch = {name: tf.boolean_mask(values, has_labels)
             for name, values in recent_history(features, max_seq_len).items()}
    batch[label_feature] = tf.ragged.boolean_mask(
        labels, has_labels)
    return batch

  return (
      _records(paths)
      .batch(batch_size)
      .map(to_eval_batch, num_parallel_calls=tf.data.AUTOTUNE,
           deterministic=True)
      .prefetch(tf.data.AUTOTUNE))

"""Exports a trained model as a versioned TF Serving SavedModel.

    python -m export.savedmodel --model_dir runs/x --export_dir serving/adcg \
        [--index scann|partitioned|brute_force] [--k 100] \
        [--num_leaves N] [--leaves_to_search N]

writes ``serving/adcg/<version>/`` in TF Serving's layout: the SavedModel
(user tower + index, see ``serving_module``), warmup requests and
``assets.extra/export_info.json``. The version is assembled in a hidden
staging directory next to it (``.staging-<version>-<host>-<pid>-<id>``) and
renamed into place, so a server polling ``serving/adcg`` never sees half a
model; earlier versions stay. An export removes the staging directories that
killed exports of this host left; those of another host, or of an export
still running, it names in a warning and leaves.

The index holds the model's corpus (``RetrievalModel.corpus``): an
advertiser-level model's advertisers, or every item of an item-level model's
catalog (``--item_catalog``, default the one it was trained with; a newer
catalog adds its new items, embedded from their content). The corpus streams
through the candidate tower: ScaNN is built by ``catalog_index.StreamedScaNN``
and the partitioned index by ``partitioned_index.PartitionedIndex`` batch by
batch, brute force from the concatenated embeddings.

ScaNN (the default) needs a TF Serving build with ScaNN's ops; the
partitioned and brute-force variants use core TensorFlow ops only.
``--num_leaves`` and ``--leaves_to_search`` set the tree of either
approximate index (defaults: ``index.ScannParameters.for_corpus`` and
``partitioned_index.PartitionedParameters.for_corpus``).
"""

import argparse
import dataclasses
import logging
import os
import re
import socket
import time
import uuid
from typing import List, Optional, Sequence

from google.protobuf import message

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tensorflow.core.protobuf import saved_model_pb2

from export import catalog_index
from export import export_info
from export import index as index_lib
from export import partitioned_index
from export import serving_module
from export import warmup
from tfrs_adcg import command_log
from tfrs_adcg import flags
from tfrs_adcg import schema

SAVED_MODEL = "saved_model.pb"
STAGING_PREFIX = ".staging-"
# .staging-<version>-<host>-<pid>-<id>
_STAGING = re.compile(re.escape(STAGING_PREFIX) +
                      r"\d+-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{32}/?")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What to export and how to index it.

  Attributes:
    model_dir: A ``tfrs_adcg.train --model_dir``.
    export_dir: TF Serving's --model_base_path: versions go in it.
    index: ``scann`` needs a ScaNN-enabled model server; ``partitioned``
      (an inverted-file index) and ``brute_force`` use core TensorFlow ops
      only and load in a stock tensorflow_model_server.
    k: Candidates returned per user.
    num_leaves: scann and partitioned: leaves of the tree; None: from the
      corpus size.
    num_leaves_to_search: scann and partitioned: leaves each query scans;
      None: from the corpus size and a recall@100 target of 0.95.
    num_reordering_candidates: scann: partial results re-scored exactly.
    item_catalog: Item-level models: the catalog to index (Parquet or
      TFRecord); None: the one trained with.
    task: ``advertiser`` or ``item``; refuses a model trained for the
      other. None: the model's task.
  """
  model_dir: str
  export_dir: str
  index: str = "scann"
  k: int = 100
  num_leaves: Optional[int] = None
  num_leaves_to_search: Optional[int] = None
  num_reordering_candidates: Optional[int] = None
  item_catalog: Optional[str] = None
  task: Optional[str] = None


def check_saved_model(version_dir: str) -> None:
  """Checks that ``version_dir`` holds a complete SavedModel.

  Reads ``saved_model.pb`` and every variable once, so that a copy cut
  short fails here with the name of what is wrong, not later while loading.

  Raises:
    ValueError: if ``version_dir`` is missing, holds no ``saved_model.pb``
      (an export dir instead of one of its versions, say), or its graph or
      variables are truncated or corrupted.
  """
  if not tf.io.gfile.isdir(version_dir):
    raise ValueError(f"{version_dir!r} is not a directory: pass a version "
                     "directory written by export.savedmodel.")
  graph = os.path.join(version_dir, SAVED_MODEL)
  if not tf.io.gfile.exists(graph):
    versions = sorted((name.rstrip("/") for name in
                       tf.io.gfile.listdir(version_dir)
                       if re.fullmatch(r"\d+/?", name)), key=int)
    hint = (f"; it looks like an export dir: pass one of its versions, e.g. "
            f"{os.path.join(version_dir, versions[-1])!r}" if versions else
            "")
    raise ValueError(f"{version_dir!r} holds no {SAVED_MODEL}: it is not a "
                     f"version written by export.savedmodel{hint}.")
  with tf.io.gfile.GFile(graph, "rb") as f:
    content = f.read()
  try:
    meta_graphs = saved_model_pb2.SavedModel.FromString(content).meta_graphs
  except message.DecodeError as e:
    meta_graphs, reason = [], str(e)
  else:
    reason = "no graph in it"
  if not meta_graphs:
    raise ValueError(f"{graph!r} is truncated or corrupted ({reason}): "
                     "export the model again.")
  variables = os.path.join(version_dir, "variables", "variables")
  try:
    reader = tf.train.load_checkpoint(variables)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # The reader raises IndexError for a data file cut short.
  except (tf.errors.OpError, ValueError, IndexError) as e:
    reason = e.message if isinstance(e, tf.errors.OpError) else str(e)
    raise ValueError(f"The variables of {version_dir!r} are truncated or "
                     f"corrupted ({reason.strip()}): export the model "
                     "again.") from None


def clean_staging(export_dir: str) -> List[str]:
  """Removes the staging directories killed exports left in ``export_dir``.

  A staging directory names the host and the process that writes it; the
  ones of a process of this host that has ended are removed. The others (of
  another host, of a running export, or unnamed) are left and logged.

  Returns:
    The directories removed.
  """
  removed = []
  host = socket.gethostname()
  for name in tf.io.gfile.listdir(export_dir):
    if not name.startswith(STAGING_PREFIX):
      continue
    path = os.path.join(export_dir, name.rstrip("/"))
    match = _STAGING.fullmatch(name)
    if match and match["host"] == host and not _running(int(match["pid"])):
      tf.io.gfile.rmtree(path)
      removed.append(path)
    else:
      logging.warning(
          "%s: the staging directory of an export that runs, or ran on "
          "another host; remove it once no export into %s runs.", path,
          export_dir)
  if removed:
    logging.info("Removed %d staging director%s of killed exports: %s",
                 len(removed), "y" if len(removed) == 1 else "ies",
                 ", ".join(removed))
  return removed


def _running(pid: int) -> bool:
  """Whether a process ``pid`` runs on this host."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Another user's process.
    pass
  return True


def next_version(export_dir: str) -> int:
  """A version above every existing one; the epoch second when possible."""
  existing = [int(name.rstrip("/")) for name in tf.io.gfile.listdir(export_dir)
              if re.fullmatch(r"\d+/?", name)]
  return max([int(time.time())] + [v + 1 for v in existing])


def export(model_dir: str, export_dir: str, index: str = "scann",
           k: int = 100, **index_overrides: Optional[int]) -> str:
  """Exports ``model_dir``'s trained model; returns the new version's path.

  ``index_overrides``: ``num_leaves``, ``num_leaves_to_search`` (scann or
  partitioned) and ``num_reordering_candidates`` (scann), each by default
  chosen from the corpus size.
  """
  return export_with_config(ExportConfig(model_dir=model_dir,
                                         export_dir=export_dir, index=index,
                                         k=k, **index_overrides))


def _check_index_flags(config: ExportConfig) -> None:
  """Refuses tree flags the chosen index has no use for."""
  if config.index not in index_lib.INDEX_KINDS:
    raise ValueError(f"--index must be one of {index_lib.INDEX_KINDS}, got "
                     f"{config.index!r}.")
  if config.k < 1:
    raise ValueError(f"--k must be positive, got {config.k}.")
  if config.index == "brute_force" and (config.num_leaves or
                                        config.num_leaves_to_search):
    raise ValueError("--num_leaves and --leaves_to_search are for the scann "
                     "and partitioned indexes; brute_force has no leaves.")
  if config.index != "scann" and config.num_reordering_candidates:
    raise ValueError("--num_reordering_candidates is for --index scann; "
                     f"{config.index} scores its candidates exactly.")


def export_with_config(config: ExportConfig) -> str:
  """Builds the index, saves the SavedModel atomically, writes its warmup."""
  from tfrs_adcg import model as model_lib  # pylint: disable=g-import-not-at-top

  _check_index_flags(config)
  trained = model_lib.load_trained(config.model_dir)
  trained_task = trained.spec.task or schema.ADVERTISER_TASK
  if config.task is not None and config.task != trained_task:
    raise ValueError(f"--task {config.task} does not match the model: "
                     f"{config.model_dir!r} was trained for the "
                     f"{trained_task} task.")
  catalog = trained.candidates.checked_catalog(config.item_catalog)
  num_candidates = trained.corpus_size(catalog)
  k = min(config.k, num_candidates)
  if k < config.k:
    logging.warning("Only %d candidates: the model returns top-%d, not %d.",
                    num_candidates, k, config.k)
  scann = partitioned = None
  if config.index == "scann":
    scann = index_lib.ScannParameters.for_corpus(
        num_candidates, k, config.num_leaves, config.num_leaves_to_search,
        config.num_reordering_candidates)
  elif config.index == "partitioned":
    partitioned = partitioned_index.PartitionedParameters.for_corpus(
        num_candidates, k, config.num_leaves, config.num_leaves_to_search)
  logging.info("Indexing %d candidates with %s %s.", num_candidates,
               config.index, scann or partitioned or "")
  started = time.time()
  if scann:
    retrieval_index = catalog_index.index_catalog(trained.corpus(catalog), k,
                                                  scann)
  elif partitioned:
    retrieval_index = partitioned_index.PartitionedIndex(
        k=k, parameters=partitioned, name="partitioned").index_from_dataset(
            trained.corpus(catalog))
  else:
    retrieval_index = index_lib.build_index(
        "brute_force", *trained.corpus_embeddings(catalog), k)
  index_seconds = time.time() - started
  module = serving_module.ServingModule(trained.user_tower, retrieval_index, k)

  tf.io.gfile.makedirs(config.export_dir)
  clean_staging(config.export_dir)
  version = next_version(config.export_dir)
  staging = os.path.join(
      config.export_dir, f"{STAGING_PREFIX}{version}-{socket.gethostname()}-"
      f"{os.getpid()}-{uuid.uuid4().hex}")
  options = tf.saved_model.SaveOptions(
      namespace_whitelist=["Scann"] if config.index == "scann" else None)
  tf.saved_model.save(module, staging, signatures=module.signatures(),
                      options=options)
  model_name = os.path.basename(os.path.normpath(config.export_dir))
  warmup.write(staging, model_name, serving_module.SERVING_DEFAULT,
               warmup.example_batches(
                   trained.user_tower.advertiser_embedding.vocabulary[:50],
                   trained.spec.max_seq_len))
  export_info.ExportInfo(
      version=version, index=config.index, k=k,
      num_candidates=num_candidates, task=trained_task,
      max_seq_len=trained.spec.max_seq_len, model_dir=config.model_dir,
      signatures=(serving_module.SERVING_DEFAULT,
                  serving_module.USER_EMBEDDING),
      index_build_seconds=round(index_seconds, 3),
      scann=dataclasses.asdict(scann) if scann else None,
      partitioned=(dict(dataclasses.asdict(retrieval_index.parameters),
                        leaf_rows=retrieval_index.leaf_rows)
                   if partitioned else None),
      item_catalog=catalog).write(staging)
  final = os.path.join(config.export_dir, str(version))
  tf.io.gfile.rename(staging, final)
  logging.info("Exported version %d to %s", version, final)
  return final


def main(argv: Optional[Sequence[str]] = None) -> str:
  parser = argparse.ArgumentParser(
      description="Export a trained tfrs-adcg model for TF Serving.")
  flags.add_flags(parser, ExportConfig, {
      "index": flags.Flag(choices=index_lib.INDEX_KINDS),
      "num_leaves_to_search": flags.Flag(
          names=("--leaves_to_search", "--num_leaves_to_search")),
      "task": flags.Flag(choices=schema.TASKS),
  })
  args = parser.parse_args(argv)
  command_log.configure()
  if not tf.io.gfile.exists(args.model_dir):
    parser.error(f"--model_dir {args.model_dir!r} does not exist.")
  path = export_with_config(flags.from_args(ExportConfig, args))
  print(f"Exported {path}")
  return path


if __name__ == "__main__":
  main()

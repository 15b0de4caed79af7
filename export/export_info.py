"""What an exported version holds: ``assets.extra/export_info.json``.

``export.savedmodel`` writes it beside the SavedModel; every reader (the
servability check, ``beam.batch_candidates``, the benchmarks) reads it
through ``ExportInfo.read``, which refuses a version exported under another
schema version: its serving signature takes other inputs.
"""

import dataclasses
import json
import os
from typing import Any, Dict, Optional, Tuple

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from export import warmup
from tfrs_adcg import schema

FILE_NAME = "export_info.json"


def path(version_dir: str) -> str:
  """Where a version's export info is."""
  return os.path.join(version_dir, warmup.ASSETS_EXTRA, FILE_NAME)


@dataclasses.dataclass(frozen=True)
class ExportInfo:
  """An exported version's index, corpus and inputs.

  Attributes:
    version: The version number, the name of its directory.
    index: ``scann``, ``partitioned`` or ``brute_force``.
    k: Candidates the model returns per user.
    num_candidates: The size of the corpus indexed.
    task: ``schema.ADVERTISER_TASK`` or ``schema.ITEM_TASK``.
    max_seq_len: Events the user tower looks at (the latest ones).
    model_dir: The training run exported.
    signatures: The SavedModel's signature names.
    index_build_seconds: Wall time of building the index.
    scann: ScaNN's parameters, for the ``scann`` index.
    partitioned: The partitioned index's parameters and rows per leaf.
    item_catalog: The item catalog indexed, for the item task.
    schema_version: ``schema.SCHEMA_VERSION`` of the serving inputs.
  """
  version: int
  index: str
  k: int
  num_candidates: int
  task: str
  max_seq_len: int
  model_dir: str
  signatures: Tuple[str, ...]
  index_build_seconds: float
  scann: Optional[Dict[str, Any]] = None
  partitioned: Optional[Dict[str, Any]] = None
  item_catalog: Optional[str] = None
  schema_version: int = schema.SCHEMA_VERSION

  def write(self, version_dir: str) -> None:
    """Writes the info into ``version_dir``'s ``assets.extra``."""
    with tf.io.gfile.GFile(path(version_dir), "w") as f:
      json.dump(dataclasses.asdict(self), f, indent=2)

  @classmethod
  def read(cls, version_dir: str) -> "ExportInfo":
    """Reads a version's info.

    Raises:
      FileNotFoundError: if ``version_dir`` was not exported by
        ``export.savedmodel``.
      ValueError: if it was exported under another schema version.
    """
    info_path = path(version_dir)
    if not tf.io.gfile.exists(info_path):
      raise FileNotFoundError(
          f"{version_dir!r} is not a version exported by export.savedmodel "
          f"(no {warmup.ASSETS_EXTRA}/{FILE_NAME}).")
    with tf.io.gfile.GFile(info_path) as f:
      values = json.load(f)
    version = values.get("schema_version", 1)
    if version != schema.SCHEMA_VERSION:
      raise ValueError(
          f"{version_dir!r} was exported under schema version {version}, "
          f"whose serving signature takes other inputs than version "
          f"{schema.SCHEMA_VERSION}'s (epoch milliseconds). Export the model "
          "again with export.savedmodel.")
    fields = {field.name for field in dataclasses.fields(cls)}
    values = {name: value for name, value in values.items() if name in fields}
    values["signatures"] = tuple(values.get("signatures", ()))
    return cls(**values)

"""The manifest of a data directory: configuration, schema version, counts.

The pipeline sums its counts (``counts.COUNTS`` pairs) into one small JSON
file in the output directory, ``SUMMARY``. Once the pipeline has finished,
the driver turns that into ``manifest.json`` and deletes it: a manifest
exists only next to completely written data, and counting works the same on
every runner (no metrics API needed).
"""

import datetime
import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam import catalog
from beam import config as config_lib
from beam import counts
from beam import events
from beam import examples
from beam import output_dir
from beam import vocabulary
from tfrs_adcg import schema
from tfrs_adcg import timestamps

SUMMARY = "_summary.json"


def _write_summary(sums: Dict[str, int], path: str, **singletons) -> str:
  # (No hint on the singletons: Beam would check side inputs against it.)
  return output_dir.write_text(
      path, json.dumps({"counts": sums, **singletons}, sort_keys=True))


class WriteSummary(beam.PTransform):
  """(name, n) pairs, summed, and singleton values to ``<output>/SUMMARY``.

  One small file, written whole by one worker (``{"counts": {}}`` without
  pairs): a combine and a Map, rather than a sharded sink's stages.

  Args:
    output: The data directory.
    singletons: Names to singleton PCollections whose value goes into the
      summary as is (e.g. the time range).
  """

  def __init__(self, output: str, singletons: Mapping[str, beam.PCollection]):
    super().__init__()
    self._path = os.path.join(output, SUMMARY)
    self._singletons = dict(singletons)

  def expand(self, count_pairs):
    side_inputs = {name: beam.pvalue.AsSingleton(pcoll)
                   for name, pcoll in self._singletons.items()}
    return (count_pairs
            | "Sum" >> beam.CombineGlobally(counts.SumCounts())
            | "Write" >> beam.Map(_write_summary, self._path, **side_inputs))


def read_summary(output: str) -> Dict[str, Any]:
  with FileSystems.open(os.path.join(output, SUMMARY)) as f:
    return json.loads(f.read().decode("utf-8"))


def _nest(flat: Mapping[str, int]) -> Dict[str, Any]:
  """{"a/b": 1} to {"a": {"b": 1}}."""
  nested: Dict[str, Any] = {}
  for name, value in sorted(flat.items()):
    *parents, leaf = name.split("/")
    node = nested
    for parent in parents:
      node = node.setdefault(parent, {})
    node[leaf] = value
  return nested


def _iso(epoch: Optional[int]) -> Optional[str]:
  return None if epoch is None else timestamps.to_iso(epoch)


def build_manifest(config: config_lib.PreprocessConfig,
                   summary: Mapping[str, Any],
                   has_catalog: bool) -> Dict[str, Any]:
  """The manifest of a finished run, from its summary."""
  flat = {name: 0 for name in (events.EVENTS_READ, examples.EVENTS_USED,
                               examples.USERS)}
  flat.update({f"{events.EVENTS_DROPPED}/{reason}": 0
               for reason in schema.DROP_REASONS})
  for split in schema.SPLITS:
    flat[f"{examples.EXAMPLES}/{split}"] = 0
    flat[f"{examples.POSITIVE_COUNTS}/{split}"] = 0
  for reason in (examples.NO_HISTORY, examples.NO_POSITIVE):
    flat[f"{examples.EXAMPLES_SKIPPED}/{reason}"] = 0
  if has_catalog:
    flat[catalog.CATALOG_ROWS_READ] = 0
    flat[catalog.CATALOG_ADVERTISERS] = 0
  flat.update(summary["counts"])

  run_config = config.to_json()
  eval_cutoff = summary.get("eval_cutoff")
  if config.split == config_lib.TIME_SPLIT:
    run_config["eval_cutoff"] = _iso(eval_cutoff)
    run_config["eval_cutoff_epoch"] = eval_cutoff
    valid_cutoff = (None if eval_cutoff is None else
                    eval_cutoff - config.label_window_seconds)
    run_config["valid_cutoff"] = _iso(valid_cutoff)
    run_config["valid_cutoff_epoch"] = valid_cutoff
    last_train = (None if valid_cutoff is None else
                  valid_cutoff - config.label_window_seconds)
    run_config["last_train_cutoff"] = _iso(last_train)
    run_config["last_train_cutoff_epoch"] = last_train
  run_config["zero_positive_candidates"] = vocabulary.ZERO_POSITIVES
  time_range = summary.get("time_range") or (None, None)
  return {
      "schema_version": schema.SCHEMA_VERSION,
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "splits": list(schema.SPLITS),
      "config": run_config,
      "time_range": {"earliest": _iso(time_range[0]),
                     "latest": _iso(time_range[1])},
      "counts": _nest(flat),
  }


def check_accounting(manifest: Mapping[str, Any]) -> None:
  """Raises RuntimeError unless read == used + dropped."""
  counts = manifest["counts"]
  dropped = sum(counts[events.EVENTS_DROPPED].values())
  if counts[events.EVENTS_READ] != counts[examples.EVENTS_USED] + dropped:
    raise RuntimeError(
        f"Event accounting is off: {counts[events.EVENTS_READ]} read, but "
        f"{counts[examples.EVENTS_USED]} used + {dropped} dropped.")


def write_manifest(output: str, manifest: Mapping[str, Any]) -> str:
  """Writes ``manifest.json`` and deletes the pipeline's summary file."""
  path = output_dir.write_text(os.path.join(output, schema.MANIFEST),
                               json.dumps(manifest, indent=2, sort_keys=False))
  FileSystems.delete([os.path.join(output, SUMMARY)])
  return path


def summary_line(manifest: Mapping[str, Any],
                 splits: Optional[Sequence[str]] = None) -> str:
  """One line of the manifest counts, for the log."""
  counts = manifest["counts"]
  splits = splits or manifest["splits"]
  dropped = {reason: n for reason, n in counts[events.EVENTS_DROPPED].items()
             if n}
  per_split = lambda name: " ".join(f"{split}={counts[name][split]}"
                                    for split in splits)
  return (f"events read={counts[events.EVENTS_READ]} "
          f"used={counts[examples.EVENTS_USED]} "
          f"dropped={sum(dropped.values())} {json.dumps(dropped)}; "
          f"users={counts[examples.USERS]}; "
          f"examples {per_split(examples.EXAMPLES)}; "
          f"positives {per_split(examples.POSITIVE_COUNTS)}")

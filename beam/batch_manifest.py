"""The manifest of a candidates directory: model, as_of, files and counts.

The pipeline sums its counts into ``manifest.SUMMARY`` with the time range
and as_of; once it has finished, the driver turns that into
``manifest.json`` (``build_manifest``), whose counts must add up
(``check_accounting``): every event read is used or dropped, every user
seen is written or skipped.
"""

import dataclasses
import json
from typing import Any, Dict, List, Mapping

from beam import batch_config
from beam import events
from beam import examples
from beam import last_events
from beam import manifest as manifest_lib
from beam import scoring
from tfrs_adcg import schema
from tfrs_adcg import timestamps


def build_manifest(config: batch_config.BatchCandidatesConfig,
                   summary: Mapping[str, Any], generated_at: str,
                   files: List[str]) -> Dict[str, Any]:
  """The manifest of a finished run.

  Args:
    config: The run's configuration.
    summary: What the pipeline wrote into ``manifest.SUMMARY``: counts,
      ``time_range`` and ``as_of`` (None without any valid event).
    generated_at: ISO-8601 time of the run.
    files: The candidate shards written.
  """
  flat = summary["counts"]
  count = lambda name: flat.get(name, 0)
  as_of = summary.get("as_of")
  earliest, latest = (map(timestamps.to_iso, summary["time_range"])
                      if summary.get("time_range") else (None, None))
  return {
      "schema_version": schema.SCHEMA_VERSION,
      schema.GENERATED_AT: generated_at,
      schema.AS_OF: None if as_of is None else timestamps.to_iso(as_of),
      "as_of_epoch": as_of,
      "model": dataclasses.asdict(config.model),
      "config": config.to_json(),
      "time_range": {"earliest": earliest, "latest": latest},
      "files": files,
      "counts": {
          events.EVENTS_READ: count(events.EVENTS_READ),
          examples.EVENTS_USED: count(examples.EVENTS_USED),
          events.EVENTS_DROPPED: {
              reason: count(f"{events.EVENTS_DROPPED}/{reason}")
              for reason in schema.DROP_REASONS},
          last_events.EVENTS_IN_HISTORY: count(last_events.EVENTS_IN_HISTORY),
          last_events.EVENTS_BEFORE_HISTORY: count(
              last_events.EVENTS_BEFORE_HISTORY),
          last_events.EVENTS_AFTER_AS_OF: count(
              last_events.EVENTS_AFTER_AS_OF),
          last_events.USERS_SEEN: count(last_events.USERS_SEEN),
          scoring.USERS_WRITTEN: count(scoring.USERS_WRITTEN),
          last_events.USERS_SKIPPED: {
              reason: count(f"{last_events.USERS_SKIPPED}/{reason}")
              for reason in last_events.SKIP_REASONS},
      },
  }


def check_accounting(manifest: Mapping[str, Any]) -> None:
  """Raises RuntimeError unless no event and no user went unaccounted for."""
  manifest_lib.check_accounting(manifest)
  counts = manifest["counts"]
  seen = counts[last_events.USERS_SEEN]
  written = counts[scoring.USERS_WRITTEN]
  skipped = sum(counts[last_events.USERS_SKIPPED].values())
  if seen != written + skipped:
    raise RuntimeError(f"User accounting is off: {seen} seen, but {written} "
                       f"written + {skipped} skipped.")


def summary_line(manifest: Mapping[str, Any]) -> str:
  """One line of the manifest counts, for the log."""
  counts = manifest["counts"]
  dropped = {reason: n for reason, n
             in counts[events.EVENTS_DROPPED].items() if n}
  skipped = {reason: n for reason, n
             in counts[last_events.USERS_SKIPPED].items() if n}
  return (f"users seen={counts[last_events.USERS_SEEN]} "
          f"written={counts[scoring.USERS_WRITTEN]} "
          f"skipped={sum(skipped.values())} {json.dumps(skipped)}; "
          f"events read={counts[events.EVENTS_READ]} "
          f"used={counts[examples.EVENTS_USED]} "
          f"(in histories {counts[last_events.EVENTS_IN_HISTORY]}) "
          f"dropped={sum(dropped.values())} {json.dumps(dropped)}; "
          f"as_of={manifest[schema.AS_OF]}; model version "
          f"{manifest['model']['version']}; {len(manifest['files'])} file(s)")

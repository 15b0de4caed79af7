"""``python -m beam.batch_candidates``: every user's top-K candidates, offline.

    python -m beam.batch_candidates --input 'events/*.csv' \\
        --model serving/adcg/1767225600 --output candidates/ \\
        [--as_of 2026-02-01T00:00:00Z] [--top_k 100] \\
        [--format jsonl|parquet|tfrecord] [Beam options: --runner ...]

Reads the raw event log exactly as ``beam.preprocess`` does
(``event_log.read_events``: same parsing, dead letters and duplicate removal),
keeps each user's last ``max_seq_len`` events at or before ``--as_of``
(default: the latest valid event time) with a bounded combiner
(``last_events``), and scores the users in batches with the exported
SavedModel through Beam's RunInference (``scoring``). ``beam.runner`` picks
the options of the runner (on the DirectRunner, a large input runs in one
worker process per core, each loading the model once) and runs it.

Writes into ``--output`` (names from ``tfrs_adcg.schema``): the candidate
shards, one record per user (``candidate_writers``); ``skipped_users/``
(JSON lines of the users without history by as_of); ``dead_letter/``
(rejected rows); and, last, ``manifest.json`` with the counts
(``batch_manifest``): users seen = written + skipped, events read = used +
dropped.
"""

import dataclasses
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam import batch_config
from beam import batch_manifest
from beam import candidate_writers
from beam import counts
from beam import dead_letters
from beam import event_log
from beam import input_files
from beam import last_events
from beam import logs
from beam import manifest as manifest_lib
from beam import output_dir
from beam import runner
from beam import scoring
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_LOGGER = logging.getLogger(__name__)

DEAD_LETTER_NAME = "events"


def resolve_as_of(time_range: Optional[Tuple[int, int]],
                  as_of: Optional[int]) -> Optional[int]:
  """The configured as_of, else the latest valid event time (None: none)."""
  if as_of is not None:
    return as_of
  return None if time_range is None else time_range[1]


def build_pipeline(
    pipeline: beam.Pipeline, config: batch_config.BatchCandidatesConfig,
    generated_at: str) -> batch_config.BatchCandidatesConfig:
  """Adds the whole candidate generation to ``pipeline``.

  Returns:
    ``config`` with the timestamp unit the input was read in (see
    ``event_times.resolve_timestamp_unit``).

  Raises:
    rows.InputError: if the input is missing, empty or lacks columns.
  """
  reader = event_log.read_events(config, pipeline.options, count_ids=False)
  read = pipeline | "ReadEvents" >> reader
  as_of = read.time_range | "AsOf" >> beam.Map(resolve_as_of, config.as_of)
  users = (read.events
           | "UserHistories" >> last_events.UserHistories(
               config.model.max_seq_len, config.as_of)
           | "SelectUsers" >> last_events.SelectUsers())
  scored = users.users | "ScoreUsers" >> scoring.ScoreUsers(
      config.model, config.top_k, config.batch_size, as_of, generated_at)
  _ = scored.records | "WriteCandidates" >> candidate_writers.WriteCandidates(
      config.output, config.output_format, config.num_shards)
  _ = users[last_events.SKIPPED] | "WriteSkipped" >> (
      candidate_writers.WriteSkippedUsers(config.output))
  _ = read.dead_letters | "DeadLetters" >> dead_letters.WriteDeadLetters(
      config.output, DEAD_LETTER_NAME)
  _ = ((read.counts, users[counts.COUNTS], scored[counts.COUNTS])
       | "FlattenCounts" >> beam.Flatten()
       | "WriteSummary" >> manifest_lib.WriteSummary(
           config.output, {"time_range": read.time_range, "as_of": as_of}))
  return dataclasses.replace(config,
                             timestamp_unit=reader.timestamp_unit)


def _match(patterns: Sequence[str]) -> List[str]:
  return sorted(metadata.path for result in FileSystems.match(list(patterns))
                for metadata in result.metadata_list)


def candidate_files(output: str) -> List[str]:
  """The candidate shards in ``output``, sorted."""
  return _match([candidate_writers.candidates_prefix(output) + "-*"])


def prepare_output(config: batch_config.BatchCandidatesConfig) -> None:
  """Creates the output directory; refuses or clears an earlier run in it."""
  output = config.output
  existing = _match([
      candidate_writers.candidates_prefix(output) + "-*",
      os.path.join(output, schema.MANIFEST),
      os.path.join(output, manifest_lib.SUMMARY),
      os.path.join(output, schema.SKIPPED_USERS_DIR, "*"),
      os.path.join(output, schema.DEAD_LETTER_DIR, "*")])
  output_dir.prepare(output, existing, config.overwrite, "candidates",
                     (schema.SKIPPED_USERS_DIR, schema.DEAD_LETTER_DIR))


def run(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  """Runs the candidate generation; returns the manifest.

  The flags of ``batch_config.parse_args`` set the run; the others are
  Beam's pipeline options (``--runner DataflowRunner --project ...``).

  Raises:
    ValueError: for a bad flag, a ``--model`` that is no complete exported
      version, ``--top_k`` above the model's k, or an input that is missing,
      empty or lacks columns (``rows.InputError``), before any pipeline runs.
  """
  config, beam_args = batch_config.parse_args(argv)
  generated_at = timestamps.to_iso(int(time.time()))
  # Lists the input once before anything else: a clear error if missing.
  input_bytes = input_files.total_bytes(config.input)
  options = runner.pipeline_options(beam_args, input_bytes)
  pipeline = beam.Pipeline(options=options)
  config = build_pipeline(pipeline, config, generated_at)
  prepare_output(config)
  _LOGGER.info(
      "Scoring the users of %s with model version %d (%s, top %d of %d, "
      "last %d events) into %s as %s.", config.input, config.model.version,
      config.model.index, config.top_k, config.model.k,
      config.model.max_seq_len, config.output, config.output_format)
  runner.run_pipeline(pipeline)
  manifest = batch_manifest.build_manifest(
      config, manifest_lib.read_summary(config.output), generated_at,
      candidate_files(config.output))
  path = manifest_lib.write_manifest(config.output, manifest)
  line = batch_manifest.summary_line(manifest)
  _LOGGER.info("Wrote %s: %s", path, line)
  print(f"beam.batch_candidates: {line}")
  batch_manifest.check_accounting(manifest)
  return manifest


if __name__ == "__main__":
  logs.run_command(run, "beam.batch_candidates")

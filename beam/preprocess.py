"""``python -m beam.preprocess``: raw event logs to TFRecord training data.

    python -m beam.preprocess --input 'events/*.csv' --output data/ \\
        [--advertiser_catalog advertisers.csv] [--split time|leave_last_out] \\
        [Beam options: --runner DataflowRunner --project ... ]

Writes into ``--output`` (file names from ``tfrs_adcg.schema``): TFRecord
shards per split, ``vocab/``, the candidate frequencies, the normalized
advertiser catalog, ``dead_letter/`` (JSON lines ``{"reason", "row"}``) and,
last, ``manifest.json``. The pipeline is built only from Beam IOs,
combiners and GroupByKey, so it runs unchanged on any runner; ``beam.runner``
picks the options of each (on the DirectRunner, a large input runs in one
worker process per core) and runs it.

A run whose every event row is dropped fails, naming the likely cause, and
writes no manifest; a run that fails leaves no ``beam-temp-*`` folders.
"""

import dataclasses
import glob
import itertools
import logging
import os
import shutil
from typing import Any, Dict, List, Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io import localfilesystem
from apache_beam.io.filesystems import FileSystems

from beam import catalog as catalog_lib
from beam import config as config_lib
from beam import counts
from beam import dead_letters
from beam import event_log
from beam import events
from beam import examples as examples_lib
from beam import input_files
from beam import logs
from beam import manifest as manifest_lib
from beam import output_dir
from beam import rows
from beam import runner
from beam import tfrecords
from beam import vocabulary
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_LOGGER = logging.getLogger(__name__)

_CANDIDATE_FEATURE = {schema.ADVERTISER_TASK: schema.ADVERTISER_ID,
                      schema.ITEM_TASK: schema.ITEM_ID}


def build_pipeline(
    pipeline: beam.Pipeline,
    config: config_lib.PreprocessConfig) -> config_lib.PreprocessConfig:
  """Adds the whole preprocessing to ``pipeline``.

  Returns:
    ``config`` with the timestamp unit the input was read in (see
    ``event_times.resolve_timestamp_unit``).

  Raises:
    rows.InputError: if an input is missing, empty or lacks columns.
  """
  output = config.output
  # Inputs.
  reader = event_log.read_events(config, pipeline.options)
  read = pipeline | "ReadEvents" >> reader
  catalog = None
  if config.advertiser_catalog:
    read_catalog = catalog_lib.ReadAdvertiserCatalog(config.advertiser_catalog)
    catalog = pipeline | "ReadCatalog" >> read_catalog

  # Examples per split.
  singletons = {"time_range": read.time_range}
  if config.split == config_lib.TIME_SPLIT:
    eval_cutoff = read.time_range | "EvalCutoff" >> beam.Map(
        examples_lib.resolve_eval_cutoff, config)
    singletons["eval_cutoff"] = eval_cutoff
    examples = read.events | "TimeSplit" >> examples_lib.TimeSplitExamples(
        config, eval_cutoff)
  else:
    examples = read.events | "LeaveLastOut" >> (
        examples_lib.LeaveLastOutExamples(config))
  for split in schema.SPLITS:
    _ = examples[split] | f"Write_{split}" >> tfrecords.WriteGzipTFRecords(
        os.path.join(output, split), schema.TFRECORD_SUFFIX,
        config.num_shards, config.gzip_level)

  # Vocabularies, catalog, candidate frequencies.
  id_counts = read.id_counts
  features = list(schema.STRING_SEQUENCE_FEATURES)
  all_counts = [read.counts, examples[counts.COUNTS]]
  if catalog is not None:
    features.append(schema.CATALOG_CATEGORY)
    id_counts = ((id_counts,
                  catalog.advertisers
                  | "CountCategories" >> catalog_lib.CountCategories())
                 | "WithCategories" >> beam.Flatten())
    _ = catalog.advertisers | "WriteCatalog" >> (
        catalog_lib.WriteAdvertiserCatalog(output,
                                           read_catalog.numeric_columns))
    _ = catalog.dead_letters | "CatalogDeadLetters" >> (
        dead_letters.WriteDeadLetters(output, "advertisers"))
    all_counts.append(catalog.counts)
  id_totals = id_counts | "SumIdCounts" >> beam.CombineGlobally(
      counts.SumCounts())
  _ = id_totals | "WriteVocabularies" >> vocabulary.WriteVocabularies(
      output, features)
  _ = examples[examples_lib.POSITIVES] | "WriteFrequencies" >> (
      vocabulary.WriteCandidateFrequencies(output, id_totals,
                                           _CANDIDATE_FEATURE[config.task]))

  # Dead letters and the counts for the manifest.
  _ = read.dead_letters | "EventDeadLetters" >> (
      dead_letters.WriteDeadLetters(output, "events"))
  _ = (all_counts
       | "FlattenCounts" >> beam.Flatten()
       | "WriteSummary" >> manifest_lib.WriteSummary(output, singletons))
  return dataclasses.replace(config,
                             timestamp_unit=reader.timestamp_unit)


def _likely_cause(reason: str, config: config_lib.PreprocessConfig) -> str:
  """What usually makes every row fail for ``reason``."""
  unit = timestamps.UNIT_NAMES[config.timestamp_unit]
  causes = {
      schema.TIMESTAMP_OUT_OF_RANGE: (
          f"no time is within --min_time {timestamps.to_iso(config.min_time)}"
          f" and --max_time {timestamps.to_iso(config.max_time)}; epoch "
          f"numbers were read as {unit}: if that is the wrong unit, pass "
          f"--timestamp_unit {'|'.join(timestamps.TIMESTAMP_UNITS[1:4])}"),
      schema.BAD_TIMESTAMP: (
          f"no timestamp is an ISO-8601 time or an epoch number "
          f"(--timestamp_unit {config.timestamp_unit})"),
      schema.UNKNOWN_EVENT_TYPE: (
          f"no event type is one of --event_types "
          f"{','.join(config.event_types)}"),
      schema.MALFORMED_ROW: (
          f"no row splits into the header's columns: is the input "
          f"{config.input_format} (--input_format), comma-separated?"),
      schema.MISSING_USER_ID: f"the {schema.RAW_USER_ID} column is empty",
      schema.MISSING_ADVERTISER_ID: (
          f"the {schema.RAW_ADVERTISER_ID} column is empty"),
      schema.INVALID_ID: "the ids are no text (nested values, booleans) or "
                         "hold tabs or line breaks",
  }
  return causes.get(reason, reason)


def check_some_used(manifest_counts: Mapping[str, Any],
                    config: config_lib.PreprocessConfig) -> None:
  """Raises ``rows.InputError`` if rows were read and every one dropped:
  the drop counts and the likely cause of the most common reason."""
  read = manifest_counts[events.EVENTS_READ]
  dropped = {reason: n for reason, n in
             manifest_counts[events.EVENTS_DROPPED].items() if n}
  if not read or sum(dropped.values()) < read:
    return
  top = max(dropped, key=dropped.get)
  raise rows.InputError(
      f"every one of the {read} event rows of --input {config.input} was "
      f"dropped ({', '.join(f'{r}={n}' for r, n in dropped.items())}): "
      f"{_likely_cause(top, config)}. The rows and reasons are in "
      f"{os.path.join(config.output, schema.DEAD_LETTER_DIR)}; no manifest "
      "was written (re-run with --overwrite).")


def remove_temporary_files(output: str) -> None:
  """Deletes the ``beam-temp-*`` folders Beam's file sinks leave in
  ``output`` (and its subfolders) when a pipeline fails."""
  patterns = [os.path.join(output, "beam-temp-*"),
              os.path.join(output, "*", "beam-temp-*")]
  if isinstance(FileSystems.get_filesystem(output),
                localfilesystem.LocalFileSystem):
    for folder in itertools.chain.from_iterable(map(glob.glob, patterns)):
      shutil.rmtree(folder, ignore_errors=True)
    return
  # Object stores have no folders, only the files in them.
  files = [metadata.path for result in FileSystems.match(
      [os.path.join(pattern, "*") for pattern in patterns])
           for metadata in result.metadata_list]
  if files:
    FileSystems.delete(files)


def _existing_outputs(output: str) -> List[str]:
  patterns = [schema.split_pattern(output, split) for split in schema.SPLITS]
  patterns += [os.path.join(output, name) for name in (
      schema.MANIFEST, schema.CANDIDATE_FREQUENCIES, schema.ADVERTISER_CATALOG,
      manifest_lib.SUMMARY)]
  patterns += [os.path.join(output, directory, "*")
               for directory in (schema.VOCAB_DIR, schema.DEAD_LETTER_DIR)]
  return [metadata.path for result in FileSystems.match(patterns)
          for metadata in result.metadata_list]


def prepare_output(config: config_lib.PreprocessConfig) -> None:
  """Creates the output directory; refuses or clears earlier data in it."""
  output_dir.prepare(config.output, _existing_outputs(config.output),
                     config.overwrite, "preprocessed data",
                     (schema.VOCAB_DIR, schema.DEAD_LETTER_DIR))


def run(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  """Runs the preprocessing; returns the manifest.

  The flags of ``config.parse_args`` set the run; the others are Beam's
  pipeline options (``--runner DataflowRunner --project ...``).

  Raises:
    ValueError: for a bad flag, or an input that is missing, empty or lacks
      columns (``rows.InputError``), before any pipeline runs.
  """
  config, beam_args = config_lib.parse_args(argv)
  # Lists the input once before anything else: a clear error if missing.
  input_bytes = input_files.total_bytes(config.input)
  options = runner.pipeline_options(beam_args, input_bytes)
  pipeline = beam.Pipeline(options=options)
  config = build_pipeline(pipeline, config)
  prepare_output(config)
  _LOGGER.info("Preprocessing %s into %s (%s split).", config.input,
               config.output, config.split)
  try:
    runner.run_pipeline(pipeline)
  except BaseException:
    remove_temporary_files(config.output)
    raise
  manifest = manifest_lib.build_manifest(
      config, manifest_lib.read_summary(config.output),
      has_catalog=config.advertiser_catalog is not None)
  try:
    check_some_used(manifest["counts"], config)
  except rows.InputError:
    FileSystems.delete([os.path.join(config.output, manifest_lib.SUMMARY)])
    raise
  path = manifest_lib.write_manifest(config.output, manifest)
  line = manifest_lib.summary_line(manifest)
  _LOGGER.info("Wrote %s: %s", path, line)
  print(f"beam.preprocess: {line}")
  totals = manifest["counts"]
  for split, examples in totals[examples_lib.EXAMPLES].items():
    if not examples:
      _LOGGER.warning("The %s split has no examples (see examples_skipped "
                      "and the eval cutoff in %s).", split, path)
  if totals.get(catalog_lib.CATALOG_ROWS_READ) and not totals.get(
      catalog_lib.CATALOG_ADVERTISERS):
    _LOGGER.warning(
        "Every row of --advertiser_catalog %s was rejected; the reasons are "
        "in %s.", config.advertiser_catalog,
        os.path.join(config.output, schema.DEAD_LETTER_DIR))
  manifest_lib.check_accounting(manifest)
  return manifest


if __name__ == "__main__":
  logs.run_command(run, "beam.preprocess")

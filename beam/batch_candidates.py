"""``python -m beam.batch_candidates``: every user's top-K candidates, offline.

    python -m beam.batch_candidates --input 'events/*.csv' \\
        --model serving/adcg/1767225600 --output candidates/ \\
        [--as_of 2026-02-01T00:00:00Z] [--top_k 100] \\
        [--format jsonl|parquet|tfrecord] [Beam options: --runner ...]

Reads the raw event log exactly as ``beam.preprocess`` does (``ReadEvents``:
same parsing, dead letters and duplicate removal), keeps each user's last
``max_seq_len`` events at or before ``--as_of`` (default: the latest valid
event time) with a bounded combiner, and scores the users in batches with
the exported SavedModel through Beam's RunInference (``beam.inference``).

Writes into ``--output`` (names from ``tfrs_adcg.schema``): the candidate
shards, one record per user (user id, candidate ids best first, scores,
model version, as_of, generated_at); ``skipped_users/`` (JSON lines of the
users without history by as_of); ``dead_letter/`` (rejected rows); and,
last, ``manifest.json`` with the counts: users seen = written + skipped,
events read = used + dropped.
"""

import argparse
import dataclasses
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference import base as inference_base
from apache_beam.options.pipeline_options import PipelineOptions
import pyarrow as pa

from beam import config as preprocess_config
from beam import counts
from beam import event_log
from beam import events as events_lib
from beam import examples
from beam import inference
from beam import logs
from beam import manifest as manifest_lib
from beam import output_dir
from beam import preprocess
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_LOGGER = logging.getLogger(__name__)

TFRECORD = "tfrecord"
OUTPUT_FORMATS = (rows.JSONL, rows.PARQUET, TFRECORD)
_SUFFIXES = {rows.JSONL: ".jsonl", rows.PARQUET: ".parquet",
             TFRECORD: schema.TFRECORD_SUFFIX}

# Counts of the manifest, besides those of events.ReadEvents.
USERS_SEEN = "users_seen"
USERS_WRITTEN = "users_written"
USERS_SKIPPED = "users_skipped"
NO_HISTORY = "no_history_by_as_of"  # Every event of the user is after as_of.
SKIP_REASONS = (NO_HISTORY,)
EVENTS_IN_HISTORY = "events_in_history"  # Scored: the last L by as_of.
EVENTS_BEFORE_HISTORY = "events_before_history"  # By as_of, not the last L.
EVENTS_AFTER_AS_OF = "events_after_as_of"

SKIPPED = "skipped"  # Output tag of the users without history.
DEAD_LETTER_NAME = "events"
SKIPPED_USERS_NAME = "users"
PROGRESS_SECONDS = 30.0

# (history oldest first, events before the history, events after as_of).
UserHistory = Tuple[List[events_lib.Event], int, int]


@dataclasses.dataclass(frozen=True)
class BatchCandidatesConfig:
  """Everything ``beam.batch_candidates`` does, resolved.

  Attributes:
    input: File pattern of the raw events.
    model: The exported version to score with.
    output: Directory the candidates are written into.
    input_format: One of ``rows.FORMATS``.
    output_format: One of ``OUTPUT_FORMATS``.
    top_k: Candidates written per user, at most the model's k.
    as_of: Epoch seconds; a history is the events at or before it. None:
      the latest valid event time.
    event_types: The known event types; others are dead letters.
    min_time: Events before it (epoch seconds) are out of range.
    max_time: Events after it (epoch seconds) are out of range.
    dedup_shards: Shards of the duplicate detection; 0: one per 8 MiB of
      input (``events.automatic_dedup_shards``).
    batch_size: Users per model call.
    num_shards: Output shards; 0 lets the runner decide.
    overwrite: Replace the candidates already in ``output``.
  """
  input: str
  model: inference.ModelInfo
  output: str
  input_format: str
  output_format: str = rows.JSONL
  top_k: int = 100
  as_of: Optional[int] = None
  event_types: Tuple[str, ...] = preprocess_config.DEFAULT_EVENT_TYPES
  min_time: int = timestamps.parse_timestamp(
      preprocess_config.DEFAULT_MIN_TIME)
  max_time: int = 2**62
  dedup_shards: int = 0
  batch_size: int = 256
  num_shards: int = 0
  overwrite: bool = False

  def __post_init__(self):
    if not 1 <= self.top_k <= self.model.k:
      raise ValueError(
          f"--top_k must be between 1 and the model's k={self.model.k} "
          f"({self.model.path} returns {self.model.k} candidates per user), "
          f"got {self.top_k}.")
    if self.batch_size < 1:
      raise ValueError(f"--batch_size must be at least 1, got "
                       f"{self.batch_size}.")
    if self.dedup_shards < 0:
      raise ValueError(f"--dedup_shards must be >= 0, got "
                       f"{self.dedup_shards}.")
    if self.num_shards < 0:
      raise ValueError(f"--num_shards must be >= 0, got {self.num_shards}.")
    if self.input_format not in rows.FORMATS:
      raise ValueError(f"--input_format must be one of {rows.FORMATS}, got "
                       f"{self.input_format!r}.")
    if self.output_format not in OUTPUT_FORMATS:
      raise ValueError(f"--format must be one of {OUTPUT_FORMATS}, got "
                       f"{self.output_format!r}.")
    if not self.event_types:
      raise ValueError("--event_types must name at least one event type.")
    if self.min_time >= self.max_time:
      raise ValueError("--min_time must be before --max_time.")

  def to_json(self) -> Dict[str, Any]:
    """The configuration as the manifest records it (times as ISO-8601)."""
    values = dataclasses.asdict(self)
    values["model"] = self.model.path
    values["event_types"] = list(self.event_types)
    for name in ("as_of", "min_time", "max_time"):
      if values[name] is not None:
        values[name] = timestamps.to_iso(values[name])
    return values


def build_parser() -> argparse.ArgumentParser:
  """The command line of ``python -m beam.batch_candidates``."""
  parser = argparse.ArgumentParser(
      prog="python -m beam.batch_candidates",
      description=(
          "Scores every user of a raw event log with an exported model and "
          "writes their top-K candidates. Flags not listed here are Beam "
          "pipeline options (--runner, --direct_num_workers, --project, "
          "--temp_location, ...)."))
  parser.add_argument("--input", required=True,
                      help="File pattern of the raw events.")
  parser.add_argument(
      "--model", required=True,
      help="A version directory written by export.savedmodel (may be gs://).")
  parser.add_argument("--output", required=True, help="Output directory.")
  parser.add_argument(
      "--input_format", choices=rows.FORMATS, default=None,
      help="Format of the input; default: from the file extension.")
  parser.add_argument("--format", dest="output_format",
                      choices=OUTPUT_FORMATS, default=rows.JSONL,
                      help="Format of the candidate shards.")
  parser.add_argument(
      "--as_of", type=preprocess_config.timestamp_arg, default=None,
      help="ISO-8601 time or epoch seconds: histories are the events at or "
      "before it; default: the latest valid event time.")
  parser.add_argument("--top_k", type=int, default=None,
                      help="Candidates per user; default and maximum: the "
                      "model's k.")
  parser.add_argument("--event_types", type=preprocess_config.csv_list,
                      default=preprocess_config.DEFAULT_EVENT_TYPES,
                      help="Comma-separated known event types.")
  parser.add_argument("--min_time", type=preprocess_config.timestamp_arg,
                      default=preprocess_config.DEFAULT_MIN_TIME,
                      help="Earlier events are dead letters.")
  parser.add_argument(
      "--max_time", type=preprocess_config.timestamp_arg, default=None,
      help="Later events are dead letters; default: now plus one day.")
  parser.add_argument(
      "--dedup_shards", type=int, default=0,
      help="Shards of the duplicate detection (0: one per 2 MiB of input).")
  parser.add_argument("--batch_size", type=int, default=256,
                      help="Users per model call.")
  parser.add_argument("--num_shards", type=int, default=0,
                      help="Output shards; 0 lets the runner decide.")
  parser.add_argument("--task", choices=schema.TASKS, default=None,
                      help="advertiser or item: refuses a --model exported "
                      "for the other (default: the model's task).")
  parser.add_argument("--overwrite", action="store_true",
                      help="Replace existing candidates in --output.")
  logs.add_flags(parser)
  return parser


def parse_args(argv: Optional[Sequence[str]]
               ) -> Tuple[BatchCandidatesConfig, List[str]]:
  """Parses argv into the config and the remaining Beam pipeline options.

  Reads the model's export info (to check ``--top_k`` against its k) and
  checks that its SavedModel is complete, before any pipeline starts.

  Raises:
    ValueError: for a bad flag, or a ``--model`` that is no exported
      version or whose graph or variables are missing or cut short.
  """
  args, beam_args = preprocess_config.parse_command_line(build_parser(), argv)
  try:
    model = inference.ModelInfo.read(args.model)
  except (FileNotFoundError, ValueError) as e:
    raise ValueError(f"--model: {e}") from None
  if args.task is not None and args.task != model.task:
    raise ValueError(f"--task {args.task} does not match --model "
                     f"{args.model!r}, which returns {model.task} "
                     "candidates.")
  max_time = args.max_time
  if max_time is None:
    max_time = int(time.time()) + preprocess_config.DAY_SECONDS
  config = BatchCandidatesConfig(
      input=args.input,
      model=model,
      output=args.output,
      input_format=args.input_format or rows.infer_format(args.input),
      output_format=args.output_format,
      top_k=model.k if args.top_k is None else args.top_k,
      as_of=args.as_of,
      event_types=args.event_types,
      min_time=args.min_time,
      max_time=max_time,
      dedup_shards=args.dedup_shards,
      batch_size=args.batch_size,
      num_shards=args.num_shards,
      overwrite=args.overwrite)
  return config, beam_args


def resolve_as_of(time_range: Optional[Tuple[int, int]],
                  as_of: Optional[int]) -> Optional[int]:
  """The configured as_of, else the latest valid event time (None: none)."""
  if as_of is not None:
    return as_of
  return None if time_range is None else time_range[1]


class LastEventsFn(beam.CombineFn):
  """Combines a user's ``(event, at_or_before_as_of)`` into a ``UserHistory``.

  Keeps the last ``max_seq_len`` events at or before as_of and counts the
  others; the accumulator ``[events by as_of, events after, kept events]``
  cuts its list to the last L whenever it reaches 2 L, so memory per user
  is O(L) whatever the user's event count.
  """

  def __init__(self, max_seq_len: int):
    super().__init__()
    self._max_len = max_seq_len

  def create_accumulator(self):
    return [0, 0, []]

  def _trim(self, kept: List[events_lib.Event]) -> None:
    if len(kept) >= 2 * self._max_len:
      kept.sort()
      del kept[:-self._max_len]

  def add_input(self, accumulator, element):
    event, by_as_of = element
    if by_as_of:
      accumulator[0] += 1
      accumulator[2].append(event)
      self._trim(accumulator[2])
    else:
      accumulator[1] += 1
    return accumulator

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    merged = next(accumulators)
    for by_as_of, after, kept in accumulators:
      merged[0] += by_as_of
      merged[1] += after
      merged[2].extend(kept)
      self._trim(merged[2])
    return merged

  def compact(self, accumulator):
    if len(accumulator[2]) > self._max_len:
      accumulator[2].sort()
      del accumulator[2][:-self._max_len]
    return accumulator

  def extract_output(self, accumulator) -> UserHistory:
    by_as_of, after, kept = accumulator
    kept.sort()
    history = kept[-self._max_len:]
    return history, by_as_of - len(history), after


def _mark_by_as_of(user_event: events_lib.UserEvent, as_of: Optional[int]):
  """(user, (event, whether it is at or before as_of)); as_of is None only
  when there is no event at all."""
  user, event = user_event
  return user, (event, event[0] <= as_of)


class UserHistories(beam.PTransform):
  """User events to ``(user_id, UserHistory)``, one per user.

  Args:
    max_seq_len: L, the events kept per user.
    as_of: A singleton PCollection of the as_of epoch seconds.
  """

  def __init__(self, max_seq_len: int, as_of: beam.PCollection):
    super().__init__()
    self._max_len = max_seq_len
    self._as_of = as_of

  def expand(self, user_events):
    return (user_events
            | "MarkByAsOf" >> beam.Map(_mark_by_as_of,
                                       pvalue.AsSingleton(self._as_of))
            | "LastEvents" >> beam.CombinePerKey(LastEventsFn(self._max_len)))


class _SelectUsersFn(beam.DoFn):
  """Passes on users with history, tags the others ``SKIPPED``, counts both."""

  def __init__(self):
    super().__init__()
    self._counts = counts.BundleCounts()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, user_history: Tuple[str, UserHistory]):
    user, (history, before_history, after) = user_history
    self._counts.add(USERS_SEEN)
    self._counts.add(examples.EVENTS_USED,
                     len(history) + before_history + after)
    self._counts.add(EVENTS_IN_HISTORY, len(history))
    self._counts.add(EVENTS_BEFORE_HISTORY, before_history)
    self._counts.add(EVENTS_AFTER_AS_OF, after)
    if history:
      yield user, history
    else:
      self._counts.add(f"{USERS_SKIPPED}/{NO_HISTORY}")
      yield pvalue.TaggedOutput(SKIPPED, (user, NO_HISTORY, after))

  def finish_bundle(self):
    yield from self._counts.emit()


class SelectUsers(beam.PTransform):
  """``(user_id, UserHistory)`` to the users to score and the skipped ones.

  Outputs: main ``(user_id, history)``; ``SKIPPED`` ``(user_id, reason,
  events after as_of)``; ``counts.COUNTS`` the user and event counts.
  """

  def expand(self, user_histories):
    return user_histories | "Select" >> beam.ParDo(
        _SelectUsersFn()).with_outputs(SKIPPED, counts.COUNTS, main="users")


class _ToRecordFn(beam.DoFn):
  """``(user_id, PredictionResult)`` to an output record; counts and logs."""

  def __init__(self, model_version: int, generated_at: str):
    super().__init__()
    self._version = model_version
    self._generated_at = generated_at
    self._counts = counts.BundleCounts()
    self._written = 0
    self._logged_at = 0.0

  def setup(self):
    self._written = 0
    self._logged_at = time.time()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, scored: Tuple[str, inference_base.PredictionResult],
              as_of: Optional[int]):
    user, prediction = scored
    candidates: inference.Candidates = prediction.inference
    self._counts.add(USERS_WRITTEN)
    self._written += 1
    if time.time() - self._logged_at >= PROGRESS_SECONDS:
      _LOGGER.info("Scored %d users in this worker so far.", self._written)
      self._logged_at = time.time()
    yield {
        schema.USER_ID: user,
        schema.CANDIDATE_IDS: candidates.ids,
        schema.SCORES: candidates.scores,
        schema.MODEL_VERSION: self._version,
        schema.AS_OF: timestamps.to_iso(as_of),
        schema.GENERATED_AT: self._generated_at,
    }

  def finish_bundle(self):
    yield from self._counts.emit()


class ScoreUsers(beam.PTransform):
  """``(user_id, history)`` to output records (dicts), in model batches.

  Outputs: main the records (``schema`` field names to values);
  ``counts.COUNTS`` the users written.

  Args:
    config: The run's configuration.
    as_of: A singleton PCollection of the as_of epoch seconds.
    generated_at: ISO-8601 time of the run.
  """

  def __init__(self, config: BatchCandidatesConfig, as_of: beam.PCollection,
               generated_at: str):
    super().__init__()
    self._config = config
    self._as_of = as_of
    self._generated_at = generated_at

  def expand(self, users):
    handler = inference.CandidateModelHandler(
        self._config.model, self._config.top_k, self._config.batch_size)
    return (users
            | "RunInference" >> inference_base.RunInference(
                inference_base.KeyedModelHandler(handler))
            | "ToRecords" >> beam.ParDo(
                _ToRecordFn(self._config.model.version, self._generated_at),
                pvalue.AsSingleton(self._as_of)).with_outputs(
                    counts.COUNTS, main="records"))


def _json_line(record: Dict[str, Any]) -> str:
  return json.dumps(record, ensure_ascii=False)


def _tf_example(record: Dict[str, Any]) -> bytes:
  """A record as a serialized ``tf.train.Example``."""
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top

  example = example_pb2.Example()
  feature = example.features.feature
  for name in (schema.USER_ID, schema.AS_OF, schema.GENERATED_AT):
    feature[name].bytes_list.value.append(record[name].encode())
  feature[schema.CANDIDATE_IDS].bytes_list.value.extend(
      [candidate.encode() for candidate in record[schema.CANDIDATE_IDS]])
  feature[schema.SCORES].float_list.value.extend(record[schema.SCORES])
  feature[schema.MODEL_VERSION].int64_list.value.append(
      record[schema.MODEL_VERSION])
  return example.SerializeToString()


def parquet_schema() -> pa.Schema:
  """The Parquet schema of the candidate records."""
  return pa.schema([
      (schema.USER_ID, pa.string()),
      (schema.CANDIDATE_IDS, pa.list_(pa.string())),
      (schema.SCORES, pa.list_(pa.float32())),
      (schema.MODEL_VERSION, pa.int64()),
      (schema.AS_OF, pa.string()),
      (schema.GENERATED_AT, pa.string()),
  ])


def candidates_prefix(output: str) -> str:
  return os.path.join(output, schema.CANDIDATES)


class WriteCandidates(beam.PTransform):
  """Records to ``<output>/candidates-SSSSS-of-NNNNN<suffix>`` shards."""

  def __init__(self, output: str, output_format: str, num_shards: int):
    super().__init__()
    self._prefix = candidates_prefix(output)
    self._format = output_format
    self._num_shards = num_shards

  def expand(self, records):
    suffix = _SUFFIXES[self._format]
    if self._format == rows.PARQUET:
      return records | "WriteParquet" >> beam.io.WriteToParquet(
          self._prefix, parquet_schema(), file_name_suffix=suffix,
          num_shards=self._num_shards)
    if self._format == TFRECORD:
      return (records
              | "ToExamples" >> beam.Map(_tf_example)
              | "WriteTFRecord" >> beam.io.WriteToTFRecord(
                  self._prefix, file_name_suffix=suffix,
                  num_shards=self._num_shards))
    return (records
            | "ToJson" >> beam.Map(_json_line)
            | "WriteJson" >> beam.io.WriteToText(
                self._prefix, file_name_suffix=suffix,
                num_shards=self._num_shards))


def _skipped_line(skipped: Tuple[str, str, int]) -> str:
  user, reason, after = skipped
  return json.dumps({schema.USER_ID: user, "reason": reason,
                     EVENTS_AFTER_AS_OF: after}, ensure_ascii=False)


def build_pipeline(pipeline: beam.Pipeline, config: BatchCandidatesConfig,
                   generated_at: str) -> None:
  """Adds the whole candidate generation to ``pipeline``.

  Raises:
    rows.InputError: if the input is missing, empty or lacks columns.
  """
  read = pipeline | "ReadEvents" >> event_log.ReadEvents(
      config.input, config.input_format, config.event_types, config.min_time,
      config.max_time, config.dedup_shards)
  as_of = read.time_range | "AsOf" >> beam.Map(resolve_as_of, config.as_of)
  users = (read.events
           | "UserHistories" >> UserHistories(config.model.max_seq_len, as_of)
           | "SelectUsers" >> SelectUsers())
  scored = users.users | "ScoreUsers" >> ScoreUsers(config, as_of,
                                                    generated_at)
  _ = scored.records | "WriteCandidates" >> WriteCandidates(
      config.output, config.output_format, config.num_shards)
  _ = (users[SKIPPED]
       | "SkippedToJson" >> beam.Map(_skipped_line)
       | "WriteSkipped" >> beam.io.WriteToText(
           os.path.join(config.output, schema.SKIPPED_USERS_DIR,
                        SKIPPED_USERS_NAME), file_name_suffix=".jsonl"))
  _ = read.dead_letters | "DeadLetters" >> preprocess.WriteDeadLetters(
      config.output, DEAD_LETTER_NAME)
  _ = ((read.counts, users[counts.COUNTS], scored[counts.COUNTS])
       | "FlattenCounts" >> beam.Flatten()
       | "WriteSummary" >> manifest_lib.WriteSummary(
           config.output, {"time_range": read.time_range, "as_of": as_of}))


def _match(patterns: Sequence[str]) -> List[str]:
  return sorted(metadata.path for result in FileSystems.match(list(patterns))
                for metadata in result.metadata_list)


def _output_patterns(output: str) -> List[str]:
  return [candidates_prefix(output) + "-*",
          os.path.join(output, schema.MANIFEST),
          os.path.join(output, manifest_lib.SUMMARY),
          os.path.join(output, schema.SKIPPED_USERS_DIR, "*"),
          os.path.join(output, schema.DEAD_LETTER_DIR, "*")]


def prepare_output(config: BatchCandidatesConfig) -> None:
  """Creates the output directory; refuses or clears an earlier run in it."""
  output_dir.prepare(config.output, _match(_output_patterns(config.output)),
                     config.overwrite, "candidates",
                     (schema.SKIPPED_USERS_DIR, schema.DEAD_LETTER_DIR))


def _iso(epoch: Optional[int]) -> Optional[str]:
  return None if epoch is None else timestamps.to_iso(epoch)


def build_manifest(config: BatchCandidatesConfig, summary: Dict[str, Any],
                   generated_at: str) -> Dict[str, Any]:
  """The manifest of a finished run, from its summary."""
  flat = summary["counts"]
  count = lambda name: flat.get(name, 0)
  time_range = summary.get("time_range") or (None, None)
  as_of = summary.get("as_of")
  return {
      "schema_version": schema.SCHEMA_VERSION,
      schema.GENERATED_AT: generated_at,
      schema.AS_OF: _iso(as_of),
      "as_of_epoch": as_of,
      "model": dataclasses.asdict(config.model),
      "config": config.to_json(),
      "time_range": {"earliest": _iso(time_range[0]),
                     "latest": _iso(time_range[1])},
      "files": _match([candidates_prefix(config.output) + "-*"]),
      "counts": {
          events_lib.EVENTS_READ: count(events_lib.EVENTS_READ),
          examples.EVENTS_USED: count(examples.EVENTS_USED),
          events_lib.EVENTS_DROPPED: {
              reason: count(f"{events_lib.EVENTS_DROPPED}/{reason}")
              for reason in schema.DROP_REASONS},
          EVENTS_IN_HISTORY: count(EVENTS_IN_HISTORY),
          EVENTS_BEFORE_HISTORY: count(EVENTS_BEFORE_HISTORY),
          EVENTS_AFTER_AS_OF: count(EVENTS_AFTER_AS_OF),
          USERS_SEEN: count(USERS_SEEN),
          USERS_WRITTEN: count(USERS_WRITTEN),
          USERS_SKIPPED: {reason: count(f"{USERS_SKIPPED}/{reason}")
                          for reason in SKIP_REASONS},
      },
  }


def check_accounting(manifest: Dict[str, Any]) -> None:
  """Raises RuntimeError unless no event and no user went unaccounted for."""
  manifest_lib.check_accounting(manifest)
  counts_ = manifest["counts"]
  skipped = sum(counts_[USERS_SKIPPED].values())
  if counts_[USERS_SEEN] != counts_[USERS_WRITTEN] + skipped:
    raise RuntimeError(
        f"User accounting is off: {counts_[USERS_SEEN]} seen, but "
        f"{counts_[USERS_WRITTEN]} written + {skipped} skipped.")


def summary_line(manifest: Dict[str, Any]) -> str:
  """One line of the manifest counts, for the log."""
  counts_ = manifest["counts"]
  dropped = {reason: n for reason, n
             in counts_[events_lib.EVENTS_DROPPED].items() if n}
  skipped = {reason: n for reason, n in counts_[USERS_SKIPPED].items() if n}
  return (f"users seen={counts_[USERS_SEEN]} "
          f"written={counts_[USERS_WRITTEN]} "
          f"skipped={sum(skipped.values())} {json.dumps(skipped)}; "
          f"events read={counts_[events_lib.EVENTS_READ]} "
          f"used={counts_[examples.EVENTS_USED]} "
          f"(in histories {counts_[EVENTS_IN_HISTORY]}) "
          f"dropped={sum(dropped.values())} {json.dumps(dropped)}; "
          f"as_of={manifest[schema.AS_OF]}; model version "
          f"{manifest['model']['version']}; {len(manifest['files'])} file(s)")


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  """Runs the candidate generation; returns the manifest.

  Raises:
    ValueError: for a bad flag, a ``--model`` that is no complete exported
      version, ``--top_k`` above the model's k, or an input that is missing,
      empty or lacks columns (``rows.InputError``), before any pipeline runs.
  """
  config, beam_args = parse_args(argv)
  generated_at = timestamps.to_iso(int(time.time()))
  pipeline = beam.Pipeline(options=PipelineOptions(beam_args))
  build_pipeline(pipeline, config, generated_at)
  prepare_output(config)
  _LOGGER.info(
      "Scoring the users of %s with model version %d (%s, top %d of %d, "
      "last %d events) into %s as %s.", config.input, config.model.version,
      config.model.index, config.top_k, config.model.k,
      config.model.max_seq_len, config.output, config.output_format)
  pipeline.run().wait_until_finish()
  manifest = build_manifest(config, manifest_lib.read_summary(config.output),
                            generated_at)
  path = manifest_lib.write_manifest(config.output, manifest)
  line = summary_line(manifest)
  _LOGGER.info("Wrote %s: %s", path, line)
  print(f"beam.batch_candidates: {line}")
  check_accounting(manifest)
  return manifest


if __name__ == "__main__":
  logs.run_command(main, "beam.batch_candidates")

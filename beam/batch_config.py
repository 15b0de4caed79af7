"""The configuration of ``beam.batch_candidates``: one dataclass, from argv.

Flags this module does not know are returned untouched if they are Beam's
pipeline options (``config.parse_command_line``). ``parse_args`` reads the
model's export info, so that a bad ``--model`` or ``--top_k`` fails before
any pipeline starts.
"""

import argparse
import dataclasses
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from beam import candidate_writers
from beam import config as config_lib
from beam import dedup
from beam import inference
from beam import logs
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps


@dataclasses.dataclass(frozen=True)
class BatchCandidatesConfig:
  """Everything ``beam.batch_candidates`` does, resolved.

  Attributes:
    input: File pattern of the raw events.
    model: The exported version to score with.
    output: Directory the candidates are written into.
    input_format: One of ``rows.FORMATS``.
    output_format: One of ``candidate_writers.OUTPUT_FORMATS``.
    top_k: Candidates written per user, at most the model's k.
    as_of: Epoch seconds; a history is the events at or before it. None:
      the latest valid event time.
    event_types: The known event types; others are dead letters.
    min_time: Events before it (epoch seconds) are out of range.
    max_time: Events after it (epoch seconds) are out of range.
    dedup_shards: Shards of the duplicate detection; 0: one per
      ``dedup.BYTES_PER_DEDUP_SHARD`` of input.
    batch_size: Users per model call.
    num_shards: Output shards; 0 lets the runner decide.
    overwrite: Replace the candidates already in ``output``.
    timestamp_unit: How epoch numbers in the timestamp column count
      (``timestamps.TIMESTAMP_UNITS``); ``auto`` tells by their magnitude.
  """
  input: str
  model: inference.ModelInfo
  output: str
  input_format: str
  output_format: str = rows.JSONL
  top_k: int = 100
  as_of: Optional[int] = None
  event_types: Tuple[str, ...] = config_lib.DEFAULT_EVENT_TYPES
  min_time: int = timestamps.parse_timestamp(config_lib.DEFAULT_MIN_TIME)
  max_time: int = timestamps.parse_timestamp(config_lib.DEFAULT_MAX_TIME)
  dedup_shards: int = 0
  batch_size: int = 256
  num_shards: int = 0
  overwrite: bool = False
  timestamp_unit: str = timestamps.AUTO

  def __post_init__(self):
    if not 1 <= self.top_k <= self.model.k:
      raise ValueError(
          f"--top_k must be between 1 and the model's k={self.model.k} "
          f"({self.model.path} returns {self.model.k} candidates per user), "
          f"got {self.top_k}.")
    if self.batch_size < 1:
      raise ValueError(f"--batch_size must be at least 1, got "
                       f"{self.batch_size}.")
    for name in ("dedup_shards", "num_shards"):
      if getattr(self, name) < 0:
        raise ValueError(f"--{name} must be >= 0, got "
                         f"{getattr(self, name)}.")
    if self.input_format not in rows.FORMATS:
      raise ValueError(f"--input_format must be one of {rows.FORMATS}, got "
                       f"{self.input_format!r}.")
    if self.output_format not in candidate_writers.OUTPUT_FORMATS:
      raise ValueError(f"--format must be one of "
                       f"{candidate_writers.OUTPUT_FORMATS}, got "
                       f"{self.output_format!r}.")
    if self.timestamp_unit not in timestamps.TIMESTAMP_UNITS:
      raise ValueError(f"--timestamp_unit must be one of "
                       f"{timestamps.TIMESTAMP_UNITS}, got "
                       f"{self.timestamp_unit!r}.")
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
                      choices=candidate_writers.OUTPUT_FORMATS,
                      default=rows.JSONL,
                      help="Format of the candidate shards.")
  parser.add_argument(
      "--as_of", type=config_lib.timestamp_arg, default=None,
      help="ISO-8601 time or epoch seconds: histories are the events at or "
      "before it; default: the latest valid event time.")
  parser.add_argument("--top_k", type=int, default=None,
                      help="Candidates per user; default and maximum: the "
                      "model's k.")
  parser.add_argument("--event_types", type=config_lib.csv_list,
                      default=config_lib.DEFAULT_EVENT_TYPES,
                      help="Comma-separated known event types.")
  parser.add_argument("--min_time", type=config_lib.timestamp_arg,
                      default=config_lib.DEFAULT_MIN_TIME,
                      help="Earlier events are dead letters.")
  parser.add_argument(
      "--max_time", type=config_lib.timestamp_arg, default=None,
      help="Later events are dead letters; default: now plus one day.")
  parser.add_argument(
      "--dedup_shards", type=int, default=0,
      help="Shards of the duplicate detection; default: one per "
      f"{dedup.BYTES_PER_DEDUP_SHARD / 2**20:g} MiB of input.")
  parser.add_argument("--batch_size", type=int, default=256,
                      help="Users per model call.")
  parser.add_argument("--num_shards", type=int, default=0,
                      help="Output shards; 0 lets the runner decide.")
  parser.add_argument("--task", choices=schema.TASKS, default=None,
                      help="advertiser or item: refuses a --model exported "
                      "for the other (default: the model's task).")
  parser.add_argument("--overwrite", action="store_true",
                      help="Replace existing candidates in --output.")
  config_lib.add_timestamp_unit_flag(parser)
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
  args, beam_args = config_lib.parse_command_line(build_parser(), argv)
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
    max_time = int(time.time()) + timestamps.DAY_SECONDS
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
      overwrite=args.overwrite,
      timestamp_unit=args.timestamp_unit)
  return config, beam_args

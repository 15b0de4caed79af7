"""The configuration of ``beam.preprocess``: one dataclass, parsed from argv.

Flags this module does not know are returned untouched if they are Beam's
pipeline options (``--runner``, ``--direct_num_workers``, ``--project``, ...);
any other argument is an error that names it (``parse_command_line``).
"""

import argparse
import dataclasses
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from apache_beam.options import pipeline_options

from beam import dedup
from beam import logs
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps


TIME_SPLIT = "time"
LEAVE_LAST_OUT = "leave_last_out"
SPLIT_MODES = (TIME_SPLIT, LEAVE_LAST_OUT)

DEFAULT_EVENT_TYPES = ("view", "add_to_cart", "checkout", "signup")
DEFAULT_CONVERSION_TYPES = ("checkout", "add_to_cart", "signup")
DEFAULT_MIN_TIME = "2000-01-01T00:00:00Z"
DEFAULT_MAX_TIME = "2100-01-01T00:00:00Z"  # The command line: now + 1 day.


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
  """Everything ``beam.preprocess`` does; ``parse_args`` fills it from argv.

  Attributes:
    input: File pattern of the raw events (any filesystem Beam knows).
    output: Directory the data is written into.
    input_format: One of ``rows.FORMATS``.
    max_seq_len: L, the number of most recent events in a history.
    label_window_days: K; the labels of cutoff t are the conversions in
      (t, t + K days].
    event_types: The known event types; others are dead letters.
    conversion_types: The event types that count as conversions (labels).
    split: ``time`` or ``leave_last_out``.
    eval_cutoff: Epoch seconds of the eval cutoff (time split); None: the
      latest valid event time minus K days, rounded down to the day.
    train_stride_days: Days between consecutive training cutoffs.
    max_train_targets: Leave-last-out: the most training targets per user
      (the conversions before the valid and eval targets, latest first).
    min_time: Events before it (epoch seconds) are out of range.
    max_time: Events after it (epoch seconds) are out of range.
    task: ``advertiser`` or ``item``: the candidates whose training
      frequencies go into the candidate frequency file.
    advertiser_catalog: Optional file of advertiser features.
    dedup_shards: Shards of the duplicate detection; each holds about
      events / dedup_shards distinct events in memory. 0: one shard per
      ``dedup.BYTES_PER_DEDUP_SHARD`` of input.
    num_shards: TFRecord shards per split; 0 lets the runner decide.
    gzip_level: zlib level of the TFRecord shards, 1 (fastest) to 9.
    overwrite: Replace the data already in ``output``.
    timestamp_unit: How epoch numbers in the timestamp column count
      (``timestamps.TIMESTAMP_UNITS``); ``auto`` tells by their magnitude.
  """
  input: str
  output: str
  input_format: str
  max_seq_len: int = 100
  label_window_days: int = 7
  event_types: Tuple[str, ...] = DEFAULT_EVENT_TYPES
  conversion_types: Tuple[str, ...] = DEFAULT_CONVERSION_TYPES
  split: str = TIME_SPLIT
  eval_cutoff: Optional[int] = None
  train_stride_days: int = 1
  max_train_targets: int = 20
  min_time: int = timestamps.parse_timestamp(DEFAULT_MIN_TIME)
  max_time: int = timestamps.parse_timestamp(DEFAULT_MAX_TIME)
  task: str = schema.ADVERTISER_TASK
  advertiser_catalog: Optional[str] = None
  dedup_shards: int = 0
  num_shards: int = 0
  gzip_level: int = 1
  overwrite: bool = False
  timestamp_unit: str = timestamps.AUTO

  def __post_init__(self):
    for name in ("max_seq_len", "label_window_days", "train_stride_days",
                 "max_train_targets"):
      if getattr(self, name) < 1:
        raise ValueError(f"--{name} must be at least 1, got "
                         f"{getattr(self, name)}.")
    for name in ("num_shards", "dedup_shards"):
      if getattr(self, name) < 0:
        raise ValueError(f"--{name} must be >= 0, got "
                         f"{getattr(self, name)}.")
    if not 1 <= self.gzip_level <= 9:
      raise ValueError(f"--gzip_level must be 1 to 9, got {self.gzip_level}.")
    if self.input_format not in rows.FORMATS:
      raise ValueError(f"--input_format must be one of {rows.FORMATS}, got "
                       f"{self.input_format!r}.")
    if self.timestamp_unit not in timestamps.TIMESTAMP_UNITS:
      raise ValueError(f"--timestamp_unit must be one of "
                       f"{timestamps.TIMESTAMP_UNITS}, got "
                       f"{self.timestamp_unit!r}.")
    if self.split not in SPLIT_MODES:
      raise ValueError(f"--split must be one of {SPLIT_MODES}, got "
                       f"{self.split!r}.")
    if self.task not in schema.TASKS:
      raise ValueError(
          f"--task must be one of {schema.TASKS}, got {self.task!r}.")
    unknown = set(self.conversion_types) - set(self.event_types)
    if not self.conversion_types or unknown:
      raise ValueError(
          f"--conversion_types must be a non-empty subset of --event_types "
          f"{list(self.event_types)}; unknown: {sorted(unknown)}.")
    if self.min_time >= self.max_time:
      raise ValueError("--min_time must be before --max_time.")

  @property
  def label_window_seconds(self) -> int:
    return self.label_window_days * timestamps.DAY_SECONDS

  @property
  def day_offset(self) -> int:
    """Seconds after midnight UTC where the days of the time split start.

    Cutoffs and label windows are whole days apart from the eval cutoff, so
    days aligned with it hold each event in exactly one of them.
    """
    return (self.eval_cutoff or 0) % timestamps.DAY_SECONDS

  def to_json(self) -> Dict[str, Any]:
    """The configuration as the manifest records it (times as ISO-8601)."""
    values = dataclasses.asdict(self)
    for name in ("min_time", "max_time", "eval_cutoff"):
      if values[name] is not None:
        values[name] = timestamps.to_iso(values[name])
    values["event_types"] = list(self.event_types)
    values["conversion_types"] = list(self.conversion_types)
    return values


def csv_list(text: str) -> Tuple[str, ...]:
  """An argparse type: "a, b,c" -> ("a", "b", "c")."""
  return tuple(part.strip() for part in text.split(",") if part.strip())


def timestamp_arg(text: str) -> int:
  """An argparse type: ISO-8601 or epoch seconds -> epoch seconds."""
  try:
    return timestamps.parse_timestamp(text)
  except (ValueError, OverflowError) as e:
    raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
  """The command line of ``python -m beam.preprocess``."""
  parser = argparse.ArgumentParser(
      prog="python -m beam.preprocess",
      description=(
          "Turns raw event logs into TFRecord training sequences, "
          "vocabularies, candidate frequencies and a manifest. Flags not "
          "listed here are Beam pipeline options (--runner, "
          "--direct_num_workers, --project, --temp_location, ...)."))
  parser.add_argument("--input", required=True,
                      help="File pattern of the raw events.")
  parser.add_argument("--output", required=True, help="Output directory.")
  parser.add_argument(
      "--input_format", choices=rows.FORMATS, default=None,
      help="Format of the input; default: from the file extension.")
  parser.add_argument("--max_seq_len", type=int, default=100)
  parser.add_argument("--label_window_days", type=int, default=7)
  parser.add_argument("--event_types", type=csv_list,
                      default=DEFAULT_EVENT_TYPES,
                      help="Comma-separated known event types.")
  parser.add_argument("--conversion_types", type=csv_list,
                      default=DEFAULT_CONVERSION_TYPES,
                      help="Comma-separated event types that are labels.")
  parser.add_argument("--split", choices=SPLIT_MODES, default=TIME_SPLIT)
  parser.add_argument(
      "--eval_cutoff", type=timestamp_arg, default=None,
      help="ISO-8601 time or epoch seconds; default: the latest event time "
      "minus --label_window_days, rounded down to the day.")
  parser.add_argument("--train_stride_days", type=int, default=1)
  parser.add_argument("--max_train_targets", type=int, default=20,
                      help="leave_last_out: training targets per user.")
  parser.add_argument("--min_time", type=timestamp_arg, default=DEFAULT_MIN_TIME,
                      help="Earlier events are dead letters.")
  parser.add_argument(
      "--max_time", type=timestamp_arg, default=None,
      help="Later events are dead letters; default: now plus one day.")
  parser.add_argument("--task", choices=schema.TASKS,
                      default=schema.ADVERTISER_TASK)
  parser.add_argument("--advertiser_catalog", default=None,
                      help="CSV, JSONL or Parquet file of advertisers.")
  parser.add_argument(
      "--dedup_shards", type=int, default=0,
      help="Shards of the duplicate detection; default: one per "
      f"{dedup.BYTES_PER_DEDUP_SHARD / 2**20:g} MiB of input.")
  parser.add_argument("--num_shards", type=int, default=0)
  parser.add_argument(
      "--gzip_level", type=int, default=1,
      help="zlib level of the TFRecord shards: 1 is fastest, 9 smallest.")
  parser.add_argument("--overwrite", action="store_true",
                      help="Replace existing data in --output.")
  add_timestamp_unit_flag(parser)
  logs.add_flags(parser)
  return parser


def add_timestamp_unit_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      "--timestamp_unit", choices=timestamps.TIMESTAMP_UNITS,
      default=timestamps.AUTO,
      help="Epoch numbers in the timestamp column are seconds, "
      "milliseconds or microseconds; iso refuses them; auto (default) "
      "tells by their magnitude and logs its choice.")


def unknown_pipeline_args(args: Sequence[str]) -> List[str]:
  """The arguments among ``args`` that are no Beam pipeline option (those
  Beam would drop with a "Discarding unparseable args" warning)."""
  parser = pipeline_options._BeamArgumentParser(  # pylint: disable=protected-access
      add_help=False)
  for options_class in set(pipeline_options.PipelineOptions.__subclasses__()):
    options_class._add_argparse_args(parser)  # pylint: disable=protected-access
  return parser.parse_known_args(list(args))[1]


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]
) -> Tuple[argparse.Namespace, List[str]]:
  """Parses a command's own flags and returns the rest, Beam's options.

  Exits with the usage (``parser.error``) on an argument that is neither,
  naming it: a misspelled flag is an error, not a default silently kept.
  """
  args, beam_args = parser.parse_known_args(argv)
  unknown = unknown_pipeline_args(beam_args)
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)} (neither a "
                 f"flag of {parser.prog} nor a Beam pipeline option)")
  return args, beam_args


def parse_args(
    argv: Optional[Sequence[str]]) -> Tuple[PreprocessConfig, List[str]]:
  """Parses argv into the config and the remaining Beam pipeline options.

  Exits with the usage on an argument that is neither
  (``parse_command_line``).
  """
  args, beam_args = parse_command_line(build_parser(), argv)
  max_time = args.max_time
  if max_time is None:
    max_time = int(time.time()) + timestamps.DAY_SECONDS
  config = PreprocessConfig(
      input=args.input,
      output=args.output,
      input_format=args.input_format or rows.infer_format(args.input),
      max_seq_len=args.max_seq_len,
      label_window_days=args.label_window_days,
      event_types=args.event_types,
      conversion_types=args.conversion_types,
      split=args.split,
      eval_cutoff=args.eval_cutoff,
      train_stride_days=args.train_stride_days,
      max_train_targets=args.max_train_targets,
      min_time=args.min_time,
      max_time=max_time,
      task=args.task,
      advertiser_catalog=args.advertiser_catalog,
      dedup_shards=args.dedup_shards,
      num_shards=args.num_shards,
      gzip_level=args.gzip_level,
      overwrite=args.overwrite,
      timestamp_unit=args.timestamp_unit)
  return config, beam_args

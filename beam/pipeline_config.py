"""What every pipeline has: the event log it reads, the directory it writes.

``PipelineConfig`` is the base of ``config.PreprocessConfig`` and
``batch_config.BatchCandidatesConfig``; ``flags`` says what its fields'
types do not about their flags (``tfrs_adcg.flags``), and
``command_line_values`` resolves the values its command line leaves open.
"""

import argparse
import dataclasses
import time
from typing import Any, ClassVar, Dict, Sequence, Tuple

from beam import dedup
from beam import rows
from tfrs_adcg import flags as flags_lib
from tfrs_adcg import timestamps

DEFAULT_EVENT_TYPES = ("view", "add_to_cart", "checkout", "signup")
DEFAULT_MIN_TIME = "2000-01-01T00:00:00Z"
DEFAULT_MAX_TIME = "2100-01-01T00:00:00Z"  # The command line: now + 1 day.


def timestamp_arg(text: str) -> int:
  """An argparse type: ISO-8601 or epoch seconds -> epoch seconds."""
  try:
    return timestamps.parse_timestamp(text)
  except (ValueError, OverflowError) as e:
    raise argparse.ArgumentTypeError(str(e)) from None


# The flag of a field of epoch seconds: ISO-8601 or epoch seconds.
TIMESTAMP = flags_lib.Flag(parse=timestamp_arg, format=timestamps.to_iso)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineConfig:
  """Which events a pipeline reads, how, and where it writes.

  Attributes:
    input: File pattern of the raw events (any filesystem Beam knows).
    input_format: Format of the input, one of ``rows.FORMATS``.
    output: Directory the pipeline writes into; refused if it already
      holds a pipeline's output, unless ``overwrite``.
    event_types: Comma-separated known event types; others are dead
      letters.
    min_time: Epoch seconds (the flag takes ISO-8601 too); earlier events
      are dead letters.
    max_time: Epoch seconds (the flag takes ISO-8601 too); later events are
      dead letters.
    dedup_shards: Shards of the duplicate detection; each holds about
      events / dedup_shards distinct events in memory. 0: one shard per
      ``dedup.BYTES_PER_DEDUP_SHARD`` of input.
    timestamp_unit: How epoch numbers in the timestamp column count
      (``timestamps.TIMESTAMP_UNITS``): seconds, milliseconds or
      microseconds; ``iso`` refuses them; ``auto`` tells by their magnitude
      and logs its choice.
    num_shards: Shards of each set of output files; 0 lets the runner
      decide.
    overwrite: Replace what ``output`` already holds.
  """
  # The fields of epoch seconds, which ``to_json`` records as ISO-8601.
  TIME_FIELDS: ClassVar[Tuple[str, ...]] = ("min_time", "max_time")

  input: str
  input_format: str
  output: str
  event_types: Tuple[str, ...] = DEFAULT_EVENT_TYPES
  min_time: int = timestamps.parse_timestamp(DEFAULT_MIN_TIME)
  max_time: int = timestamps.parse_timestamp(DEFAULT_MAX_TIME)
  dedup_shards: int = 0
  timestamp_unit: str = timestamps.AUTO
  num_shards: int = 0
  overwrite: bool = False

  def __post_init__(self):
    check_choice("--input_format", self.input_format, rows.FORMATS)
    check_choice("--timestamp_unit", self.timestamp_unit,
                 timestamps.TIMESTAMP_UNITS)
    if not self.event_types:
      raise ValueError("--event_types must name at least one event type.")
    if self.min_time >= self.max_time:
      raise ValueError("--min_time must be before --max_time.")
    for name in ("dedup_shards", "num_shards"):
      if getattr(self, name) < 0:
        raise ValueError(f"--{name} must be >= 0, got "
                         f"{getattr(self, name)}.")

  def to_json(self) -> Dict[str, Any]:
    """The configuration as a manifest records it: times as ISO-8601,
    tuples as lists."""
    values = dataclasses.asdict(self)
    for name in self.TIME_FIELDS:
      if values[name] is not None:
        values[name] = timestamps.to_iso(values[name])
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in values.items()}


def check_choice(flag: str, value: str, choices: Sequence[str]) -> None:
  """Raises a ValueError that names ``flag`` if ``value`` is no choice."""
  if value not in choices:
    raise ValueError(f"{flag} must be one of {tuple(choices)}, got "
                     f"{value!r}.")


def flags() -> Dict[str, flags_lib.Flag]:
  """The flags of ``PipelineConfig``'s fields that their types do not say
  (for ``tfrs_adcg.flags.add_flags``)."""
  return {
      "input_format": flags_lib.Flag(
          choices=rows.FORMATS, default=None,
          default_help="from the file extension"),
      "min_time": TIMESTAMP,
      "max_time": dataclasses.replace(TIMESTAMP, default=None,
                                      default_help="now plus one day"),
      "dedup_shards": flags_lib.Flag(
          default_help=f"0, one shard per "
          f"{dedup.BYTES_PER_DEDUP_SHARD / 2**20:g} MiB of input"),
      "timestamp_unit": flags_lib.Flag(choices=timestamps.TIMESTAMP_UNITS),
  }


def command_line_values(args: argparse.Namespace) -> Dict[str, Any]:
  """The fields whose command line default depends on other flags or the
  clock: ``input_format`` from the input's extension, ``max_time`` now plus
  one day."""
  max_time = args.max_time
  if max_time is None:
    max_time = int(time.time()) + timestamps.DAY_SECONDS
  return {"input_format": args.input_format or rows.infer_format(args.input),
          "max_time": max_time}

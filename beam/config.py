"""The configuration of ``beam.preprocess``: one dataclass, parsed from argv.

Flags this module does not know are returned untouched if they are Beam's
pipeline options (``--runner``, ``--direct_num_workers``, ``--project``, ...);
any other argument is an error that names it
(``command_line.parse_command_line``).
"""

import argparse
import dataclasses
from typing import List, Optional, Sequence, Tuple

from beam import command_line
from beam import pipeline_config
from tfrs_adcg import flags
from tfrs_adcg import schema
from tfrs_adcg import timestamps


TIME_SPLIT = "time"
LEAVE_LAST_OUT = "leave_last_out"
SPLIT_MODES = (TIME_SPLIT, LEAVE_LAST_OUT)

DEFAULT_CONVERSION_TYPES = ("checkout", "add_to_cart", "signup")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig(pipeline_config.PipelineConfig):
  """Everything ``beam.preprocess`` does; ``parse_args`` fills it from argv.

  The event log it reads and the data directory it writes are set by the
  fields of ``pipeline_config.PipelineConfig``.

  Attributes:
    max_seq_len: L, the number of most recent events in a history.
    label_window_days: K; the labels of cutoff t are the conversions in
      (t, t + K days].
    conversion_types: Comma-separated event types that count as conversions
      (labels).
    split: ``time`` or ``leave_last_out``.
    eval_cutoff: Epoch seconds (the flag takes ISO-8601 too) of the eval
      cutoff of the time split; unset (None): the latest valid event time
      minus K days, rounded down to the day.
    train_stride_days: Days between consecutive training cutoffs.
    max_train_targets: Leave-last-out: the most training targets per user
      (the conversions before the valid and eval targets, latest first).
      The literature trains on every earlier conversion; the cap only
      bounds the memory of a user with a runaway event count.
    task: ``advertiser`` or ``item``: the candidates whose training
      frequencies go into the candidate frequency file.
    advertiser_catalog: Optional CSV, JSONL or Parquet file of advertiser
      features.
    gzip_level: zlib level of the TFRecord shards, 1 (fastest) to 9
      (smallest).
  """
  TIME_FIELDS = pipeline_config.PipelineConfig.TIME_FIELDS + (
      "eval_cutoff",)

  max_seq_len: int = 100
  label_window_days: int = 7
  conversion_types: Tuple[str, ...] = DEFAULT_CONVERSION_TYPES
  split: str = TIME_SPLIT
  eval_cutoff: Optional[int] = None
  train_stride_days: int = 1
  max_train_targets: int = 1000
  task: str = schema.ADVERTISER_TASK
  advertiser_catalog: Optional[str] = None
  gzip_level: int = 1

  def __post_init__(self):
    super().__post_init__()
    for name in ("max_seq_len", "label_window_days", "train_stride_days",
                 "max_train_targets"):
      if getattr(self, name) < 1:
        raise ValueError(f"--{name} must be at least 1, got "
                         f"{getattr(self, name)}.")
    if not 1 <= self.gzip_level <= 9:
      raise ValueError(f"--gzip_level must be 1 to 9, got {self.gzip_level}.")
    pipeline_config.check_choice("--split", self.split, SPLIT_MODES)
    pipeline_config.check_choice("--task", self.task, schema.TASKS)
    unknown = set(self.conversion_types) - set(self.event_types)
    if not self.conversion_types or unknown:
      raise ValueError(
          f"--conversion_types must be a non-empty subset of --event_types "
          f"{list(self.event_types)}; unknown: {sorted(unknown)}.")

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


def build_parser() -> argparse.ArgumentParser:
  """The command line of ``python -m beam.preprocess``."""
  return command_line.build_parser(
      "python -m beam.preprocess",
      "Turns raw event logs into TFRecord training sequences, vocabularies, "
      "candidate frequencies and a manifest.",
      PreprocessConfig, {
          "split": flags.Flag(choices=SPLIT_MODES),
          "eval_cutoff": pipeline_config.TIMESTAMP,
          "task": flags.Flag(choices=schema.TASKS),
      })


def parse_args(
    argv: Optional[Sequence[str]]) -> Tuple[PreprocessConfig, List[str]]:
  """Parses argv into the config and the remaining Beam pipeline options.

  Exits with the usage on an argument that is neither
  (``command_line.parse_command_line``).
  """
  args, beam_args = command_line.parse_command_line(build_parser(), argv)
  config = flags.from_args(PreprocessConfig, args,
                           pipeline_config.command_line_values(args))
  return config, beam_args

"""The configuration of ``beam.batch_candidates``: one dataclass, from argv.

Flags this module does not know are returned untouched if they are Beam's
pipeline options (``command_line.parse_command_line``). ``parse_args`` reads the
model's export info, so that a bad ``--model`` or ``--top_k`` fails before
any pipeline starts.
"""

import argparse
import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

from beam import candidate_writers
from beam import command_line
from beam import pipeline_config
from beam import inference
from beam import rows
from tfrs_adcg import flags
from tfrs_adcg import schema


@dataclasses.dataclass(frozen=True)
class BatchCandidatesConfig(pipeline_config.PipelineConfig):
  """Everything ``beam.batch_candidates`` does, resolved.

  The event log it reads and the directory of candidates it writes are set
  by the fields of ``pipeline_config.PipelineConfig``.

  Attributes:
    model: The exported version to score with: a version directory written
      by ``export.savedmodel`` (may be gs://).
    output_format: Format of the candidate shards, one of
      ``candidate_writers.OUTPUT_FORMATS``.
    top_k: Candidates written per user, at most the model's k.
    as_of: Epoch seconds (the flag takes ISO-8601 too): a history is the
      events at or before it; unset (None): the latest valid event time.
    batch_size: Users per model call.
  """
  TIME_FIELDS = pipeline_config.PipelineConfig.TIME_FIELDS + ("as_of",)

  model: inference.ModelInfo
  output_format: str = rows.JSONL
  top_k: int = 100
  as_of: Optional[int] = None
  batch_size: int = 256

  def __post_init__(self):
    super().__post_init__()
    if not 1 <= self.top_k <= self.model.k:
      raise ValueError(
          f"--top_k must be between 1 and the model's k={self.model.k} "
          f"({self.model.path} returns {self.model.k} candidates per user), "
          f"got {self.top_k}.")
    if self.batch_size < 1:
      raise ValueError(f"--batch_size must be at least 1, got "
                       f"{self.batch_size}.")
    pipeline_config.check_choice("--format", self.output_format,
                                 candidate_writers.OUTPUT_FORMATS)

  def to_json(self) -> Dict[str, Any]:
    """The configuration as the manifest records it (times as ISO-8601)."""
    return {**super().to_json(), "model": self.model.path}


def build_parser() -> argparse.ArgumentParser:
  """The command line of ``python -m beam.batch_candidates``."""
  parser = command_line.build_parser(
      "python -m beam.batch_candidates",
      "Scores every user of a raw event log with an exported model and "
      "writes their top-K candidates.",
      BatchCandidatesConfig, {
          "model": flags.Flag(parse=str),
          "output_format": flags.Flag(
              names=("--format",), choices=candidate_writers.OUTPUT_FORMATS),
          "top_k": flags.Flag(default=None, default_help="the model's k"),
          "as_of": pipeline_config.TIMESTAMP,
      })
  parser.add_argument("--task", choices=schema.TASKS, default=None,
                      help="advertiser or item: refuses a --model exported "
                      "for the other (default: the model's task).")
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
  args, beam_args = command_line.parse_command_line(build_parser(), argv)
  try:
    model = inference.ModelInfo.read(args.model)
  except (FileNotFoundError, ValueError) as e:
    raise ValueError(f"--model: {e}") from None
  if args.task is not None and args.task != model.task:
    raise ValueError(f"--task {args.task} does not match --model "
                     f"{args.model!r}, which returns {model.task} "
                     "candidates.")
  top_k = model.k if args.top_k is None else args.top_k
  return flags.from_args(BatchCandidatesConfig, args, {
      **pipeline_config.command_line_values(args),
      "model": model, "top_k": top_k}), beam_args

"""The command line of a pipeline: its config's flags, then Beam's options.

A pipeline's flags are those of its config, an
``pipeline_config.PipelineConfig`` (``tfrs_adcg.flags``), and the log flags
(``logs.add_flags``). The arguments that are none of them are returned
untouched if they are Beam's pipeline options (``--runner``,
``--direct_num_workers``, ``--project``, ...); any other argument is an
error that names it (``parse_command_line``).
"""

import argparse
from typing import List, Mapping, Optional, Sequence, Tuple

from apache_beam.options import pipeline_options

from beam import pipeline_config
from beam import logs
from tfrs_adcg import flags


def build_parser(
    prog: str, description: str,
    config_class: type,
    config_flags: Mapping[str, Optional[flags.Flag]]
) -> argparse.ArgumentParser:
  """A pipeline's parser: the flags of ``config_class``'s fields (those of
  the event log included, ``config_flags`` saying what their types do not)
  and the log flags."""
  parser = argparse.ArgumentParser(
      prog=prog,
      description=(
          f"{description} Flags not listed here are Beam pipeline options "
          "(--runner, --direct_num_workers, --project, --temp_location, "
          "...)."))
  flags.add_flags(parser, config_class,
                  {**pipeline_config.flags(), **config_flags})
  logs.add_flags(parser)
  return parser


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

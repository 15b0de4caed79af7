"""Tests of beam.command_line: a pipeline's flags, then Beam's options."""

import pytest

from beam import command_line
from beam import pipeline_config
from tfrs_adcg import flags


def build_parser():
  return command_line.build_parser(
      "python -m beam.example", "Does something.",
      pipeline_config.PipelineConfig,
      {"dedup_shards": flags.Flag(choices=(0, 1))})


def test_build_parser_has_the_configs_and_the_log_flags():
  parser = build_parser()
  text = parser.format_help()
  assert "Does something. Flags not listed here are Beam pipeline" in text
  for flag in ("--input", "--min_time", "--timestamp_unit", "--log_level",
               "-v"):
    assert flag in text
  # The pipeline's Flags win over those of the event log.
  assert "{0,1}" in text
  assert "(default: now plus one day)" in text


def test_parse_command_line_passes_beam_options_on():
  args, beam_args = command_line.parse_command_line(
      build_parser(), ["--input", "e.csv", "--output", "o", "--runner",
                       "DirectRunner", "--direct_num_workers=2", "-v"])
  assert args.input == "e.csv" and args.log_level == "INFO"
  assert beam_args == ["--runner", "DirectRunner", "--direct_num_workers=2"]


def test_an_argument_neither_ours_nor_beams_is_named(capsys):
  with pytest.raises(SystemExit) as exit_info:
    command_line.parse_command_line(build_parser(),
                                    ["--input", "e.csv", "--output", "o",
                                     "--inptu", "x"])
  assert exit_info.value.code == 2
  assert ("unrecognized arguments: --inptu x (neither a flag of python -m "
          "beam.example nor a Beam pipeline option)") in capsys.readouterr().err


def test_unknown_pipeline_args_are_those_beam_would_drop():
  assert command_line.unknown_pipeline_args(
      ["--runner", "DirectRunner", "--direct_num_workers=2", "--project",
       "p", "--default_sdk_harness_log_level", "WARNING", "--evel", "1"]) == [
           "--evel", "1"]

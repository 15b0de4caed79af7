"""Tests of beam.pipeline_config: the settings every pipeline has, and their
flags."""

import argparse
import time

import pytest

from beam import config
from beam import pipeline_config
from tfrs_adcg import flags
from tfrs_adcg import timestamps


def parse(*argv: str) -> argparse.Namespace:
  parser = argparse.ArgumentParser()
  flags.add_flags(parser, pipeline_config.PipelineConfig,
                  pipeline_config.flags())
  return parser.parse_args(["--input", "logs/*.parquet", "--output", "o",
                            *argv])


def test_command_line_values_resolve_the_format_and_max_time():
  values = pipeline_config.command_line_values(parse())
  assert values["input_format"] == "parquet"
  assert abs(values["max_time"] - time.time() - 86400) < 60
  values = pipeline_config.command_line_values(
      parse("--input_format", "csv", "--max_time", "2030-01-01"))
  assert values == {"input_format": "csv",
                    "max_time": timestamps.parse_timestamp("2030-01-01")}


def test_flags_parse_times_and_lists():
  args = parse("--min_time", "1000", "--event_types", "view, signup")
  assert args.min_time == 1000
  assert args.event_types == ("view", "signup")
  assert parse().min_time == timestamps.parse_timestamp(
      pipeline_config.DEFAULT_MIN_TIME)


def test_a_bad_time_is_argparses_error(capsys):
  with pytest.raises(SystemExit):
    parse("--min_time", "yesterday")
  assert ("argument --min_time: Not an ISO-8601 time or epoch number: "
          "'yesterday'") in capsys.readouterr().err


@pytest.mark.parametrize("changes, message", [
    ({"input_format": "xml"}, "--input_format must be one of"),
    ({"event_types": ()}, "--event_types must name"),
    ({"min_time": 10, "max_time": 10}, "--min_time must be before"),
    ({"dedup_shards": -1}, "--dedup_shards must be >= 0"),
    ({"num_shards": -1}, "--num_shards must be >= 0"),
    ({"timestamp_unit": "days"}, "--timestamp_unit must be one of"),
])
def test_bad_values_are_refused(changes, message):
  with pytest.raises(ValueError, match=message):
    pipeline_config.PipelineConfig(
        **{"input": "e.csv", "input_format": "csv", "output": "o",
           **changes})


def test_to_json_records_every_time_field_in_iso():
  recorded = config.PreprocessConfig(
      input="e.csv", input_format="csv", output="o", eval_cutoff=86400,
      min_time=0).to_json()
  assert recorded["min_time"] == "1970-01-01T00:00:00Z"
  assert recorded["eval_cutoff"] == "1970-01-02T00:00:00Z"
  assert recorded["max_time"] == pipeline_config.DEFAULT_MAX_TIME
  assert recorded["event_types"] == list(pipeline_config.DEFAULT_EVENT_TYPES)

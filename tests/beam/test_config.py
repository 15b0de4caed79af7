"""The preprocessing command line and its configuration checks."""

import time

import pytest

from beam import config as config_lib
from tfrs_adcg import timestamps


def test_parse_args_resolves_defaults_and_passes_beam_options():
  config, beam_args = config_lib.parse_args([
      "--input", "logs/*.jsonl.gz", "--output", "out", "--runner",
      "DirectRunner", "--eval_cutoff", "2026-01-10T06:00:00Z",
      "--conversion_types", "checkout, signup", "--direct_num_workers=2"])
  assert beam_args == ["--runner", "DirectRunner", "--direct_num_workers=2"]
  assert config.input_format == "jsonl"
  assert config.conversion_types == ("checkout", "signup")
  assert config.eval_cutoff == timestamps.parse_timestamp(
      "2026-01-10T06:00:00Z")
  assert config.day_offset == 6 * 3600
  assert abs(config.max_time - time.time() - 86400) < 60
  recorded = config.to_json()
  assert recorded["eval_cutoff"] == "2026-01-10T06:00:00Z"
  assert recorded["min_time"] == "2000-01-01T00:00:00Z"
  assert recorded["split"] == "time" and recorded["task"] == "advertiser"


@pytest.mark.parametrize("flags, message", [
    (["--max_seq_len", "0"], "max_seq_len"),
    (["--conversion_types", "purchase"], "subset of --event_types"),
    (["--min_time", "2030-01-01", "--max_time", "2020-01-01"], "before"),
    (["--num_shards", "-1"], "num_shards"),
    (["--gzip_level", "10"], "gzip_level"),
])
def test_bad_flags_are_sentences(flags, message):
  with pytest.raises(ValueError, match=message):
    config_lib.parse_args(["--input", "e.csv", "--output", "o"] + flags)


def test_bad_time_flag_exits_with_usage(capsys):
  with pytest.raises(SystemExit):
    config_lib.parse_args(["--input", "e.csv", "--output", "o",
                           "--eval_cutoff", "soon"])
  assert "--eval_cutoff" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--evel_cutoff", "-x", "stray"])
def test_an_argument_neither_ours_nor_beams_is_an_error(flag, capsys):
  with pytest.raises(SystemExit) as exit_info:
    config_lib.parse_args(["--input", "e.csv", "--output", "o",
                           "--max_seq_len", "5", flag, "2026-01-01"])
  assert exit_info.value.code == 2
  error = capsys.readouterr().err
  assert f"unrecognized arguments: {flag}" in error
  assert "nor a Beam pipeline option" in error


def test_timestamp_unit_flag():
  config, _ = config_lib.parse_args(["--input", "e.csv", "--output", "o"])
  assert config.timestamp_unit == timestamps.AUTO
  config, _ = config_lib.parse_args(["--input", "e.csv", "--output", "o",
                                     "--timestamp_unit", "ms"])
  assert config.to_json()["timestamp_unit"] == timestamps.MILLISECONDS
  with pytest.raises(ValueError, match="--timestamp_unit"):
    config_lib.PreprocessConfig(input="e.csv", output="o", input_format="csv",
                                timestamp_unit="minutes")

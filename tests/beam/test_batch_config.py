"""Tests of beam.batch_config: flags to one checked configuration."""

import shutil

import pytest

from beam import batch_config
from beam import dedup
from beam import inference
from beam import rows
from export import export_info
from tfrs_adcg import timestamps

MODEL = inference.ModelInfo(path="serving/adcg/7", version=7,
                            index="brute_force", k=10, max_seq_len=5)


def _parse(model_dir, *flags):
  return batch_config.parse_args([
      "--input", "events/*.csv", "--model", str(model_dir), "--output",
      "out", *flags])


def test_parse_args_fills_the_config_from_flags_and_the_model(
    exported_versions):
  version_dir = exported_versions["brute_force"]
  config, beam_args = _parse(
      version_dir, "--as_of", "2026-02-01T00:00:00Z", "--top_k", "7",
      "--format", "parquet", "--timestamp_unit", "ms", "--batch_size", "32",
      "--runner", "DirectRunner")
  info = export_info.ExportInfo.read(str(version_dir))
  assert config.model == inference.ModelInfo.read(str(version_dir))
  assert config.model.max_seq_len == info.max_seq_len
  assert config.as_of == timestamps.parse_timestamp("2026-02-01T00:00:00Z")
  assert (config.top_k, config.output_format, config.timestamp_unit,
          config.batch_size) == (7, rows.PARQUET, timestamps.MILLISECONDS, 32)
  assert config.input_format == rows.CSV  # From the extension.
  assert beam_args == ["--runner", "DirectRunner"]


def test_defaults_are_the_models_k_and_an_automatic_timestamp_unit(
    exported_versions):
  config, _ = _parse(exported_versions["brute_force"])
  assert config.top_k == config.model.k
  assert config.timestamp_unit == timestamps.AUTO
  assert config.as_of is None
  assert config.output_format == rows.JSONL


def test_top_k_above_the_models_k_is_a_clear_error(exported_versions):
  version_dir = exported_versions["brute_force"]
  k = export_info.ExportInfo.read(str(version_dir)).k
  with pytest.raises(ValueError, match=f"--top_k .* k={k}"):
    _parse(version_dir, "--top_k", str(k + 1))


def test_task_flag_must_match_the_models_task(exported_versions,
                                              item_exported_versions):
  with pytest.raises(ValueError, match="--task item does not match"):
    _parse(exported_versions["brute_force"], "--task", "item")
  with pytest.raises(ValueError, match="returns item candidates"):
    _parse(item_exported_versions["brute_force"], "--task", "advertiser")


def test_not_an_export_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="--model.*holds no saved_model.pb"):
    _parse(tmp_path)


def test_a_model_without_its_variables_is_refused(exported_versions,
                                                  tmp_path):
  version_dir = tmp_path / "1"
  shutil.copytree(exported_versions["brute_force"], version_dir)
  variables = version_dir / "variables" / "variables.data-00000-of-00001"
  variables.write_bytes(variables.read_bytes()[:100])
  with pytest.raises(ValueError,
                     match="--model: .*truncated or corrupted"):
    _parse(version_dir)


def test_a_misspelled_flag_is_an_error_that_names_it(tmp_path, capsys):
  with pytest.raises(SystemExit):
    _parse(tmp_path, "--top_kk", "5")
  assert "unrecognized arguments: --top_kk 5" in capsys.readouterr().err


def test_dedup_shards_help_states_the_shard_size_in_use(monkeypatch):
  def dedup_help():
    action = next(action for action in batch_config.build_parser()._actions  # pylint: disable=protected-access
                  if action.dest == "dedup_shards")
    return action.help

  assert dedup_help().endswith(
      f"one shard per {dedup.BYTES_PER_DEDUP_SHARD // 2**20} MiB of input)")
  monkeypatch.setattr(dedup, "BYTES_PER_DEDUP_SHARD", 3 * 2**19)
  assert dedup_help().endswith("one shard per 1.5 MiB of input)")


@pytest.mark.parametrize("changes,message", [
    ({"top_k": 11}, "--top_k must be between 1 and the model's k=10"),
    ({"batch_size": 0}, "--batch_size must be at least 1"),
    ({"dedup_shards": -1}, "--dedup_shards must be >= 0"),
    ({"num_shards": -1}, "--num_shards must be >= 0"),
    ({"input_format": "xml"}, "--input_format must be one of"),
    ({"output_format": "csv"}, "--format must be one of"),
    ({"timestamp_unit": "days"}, "--timestamp_unit must be one of"),
    ({"event_types": ()}, "--event_types must name"),
    ({"min_time": 10, "max_time": 10}, "--min_time must be before"),
])
def test_the_config_refuses_bad_values(changes, message):
  values = {"input": "e.csv", "model": MODEL, "output": "out",
            "input_format": rows.CSV, "top_k": 10, **changes}
  with pytest.raises(ValueError, match=message):
    batch_config.BatchCandidatesConfig(**values)


def test_to_json_states_times_in_iso_and_the_model_path():
  config = batch_config.BatchCandidatesConfig(
      input="e.csv", model=MODEL, output="out", input_format=rows.CSV,
      top_k=10, as_of=timestamps.parse_timestamp("2026-02-01T00:00:00Z"))
  values = config.to_json()
  assert values["as_of"] == "2026-02-01T00:00:00Z"
  assert values["min_time"] == "2000-01-01T00:00:00Z"
  assert values["model"] == "serving/adcg/7"
  assert values["timestamp_unit"] == timestamps.AUTO

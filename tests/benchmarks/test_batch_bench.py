"""The batch candidates benchmark's model timing, on the tiny test model."""

from beam import inference
from benchmarks import batch_bench


def test_time_model_reports_speed_and_cpu_per_user(exported_versions,
                                                   synthetic_dir):
  info = inference.ModelInfo.read(str(exported_versions["brute_force"]))
  histories = batch_bench.read_histories(
      str(synthetic_dir / "events.csv"), info.max_seq_len, 40)
  assert len(histories) == 40
  assert all(0 < len(history) <= info.max_seq_len for history in histories)
  timed = batch_bench.time_model(info, histories, batch_size=16, repeats=2)
  assert timed["batch_size"] == 16 and timed["users"] == 40
  assert timed["users_per_second"] > 0
  # CPU time of calls that ran: positive, and bounded by what 40 calls of
  # a tiny model could take.
  assert 0 < timed["cpu_ms_per_user"] < 1000

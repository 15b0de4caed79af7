"""Tests of benchmarks.serving_latency: interleaved timing, percentiles."""

import gc
import time

import pytest

from benchmarks import serving_latency


def test_calls_are_timed_in_interleaved_blocks_after_warmup():
  log = []

  def recorder(name, sleep=0.0):
    def call():
      log.append((name, gc.isenabled()))
      time.sleep(sleep)
    return call

  seconds = serving_latency.interleaved_timings(
      {"a": recorder("a"), "b": recorder("b", sleep=0.002)}, calls=7,
      block=3, warmup=1)
  assert {name: len(values) for name, values in seconds.items()} == {
      "a": 7, "b": 7}
  assert min(seconds["b"]) >= 0.002 > min(seconds["a"])
  # With one warmup call, the collector on, each block starts; its timed
  # calls run with the collector off.
  blocks = []
  for name, enabled in log:
    if enabled:
      blocks.append([name])
    else:
      assert blocks[-1][0] == name
      blocks[-1].append(name)
  # Rounds of blocks of 3, 3, then the last 1, every name's in each round.
  assert [len(block) for block in blocks] == [4, 4, 4, 4, 2, 2]
  for first, second in zip(blocks[::2], blocks[1::2]):
    assert {first[0], second[0]} == {"a", "b"}
  assert gc.isenabled()


def test_p99_of_a_thousand_calls_is_not_their_maximum():
  seconds = [i / 1000 for i in range(1, 1001)]
  assert serving_latency.percentiles_ms(seconds, "b1") == {
      "b1_p50_ms": 501.0, "b1_p95_ms": 950.0, "b1_p99_ms": 990.0}


def test_no_calls_is_an_error():
  with pytest.raises(ValueError, match="calls"):
    serving_latency.interleaved_timings({"a": lambda: None}, calls=0,
                                        block=1, warmup=0)

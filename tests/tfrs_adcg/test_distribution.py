"""The strategy of a run, and which process writes the model dir."""

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import distribution


def test_the_default_strategy_is_one_chief_process(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  strategy = distribution.make_strategy("default")
  assert strategy is tf.distribute.get_strategy()
  assert strategy.num_replicas_in_sync == 1
  assert distribution.is_chief(strategy)


def test_multi_worker_needs_the_cluster(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(ValueError, match="TF_CONFIG"):
    distribution.make_strategy("multi_worker")


class _Resolver:

  def __init__(self, task_type, task_id, cluster):
    self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

  def cluster_spec(self):
    return tf.train.ClusterSpec(self._cluster)


class _Strategy:

  def __init__(self, resolver):
    self.cluster_resolver = resolver


@pytest.mark.parametrize("task_type, task_id, has_chief, chief", [
    ("chief", 0, True, True),
    ("worker", 0, True, False),
    ("worker", 0, False, True),
    ("worker", 1, False, False),
])
def test_the_chief_or_else_worker_0_writes(task_type, task_id, has_chief,
                                           chief):
  cluster = {"worker": ["localhost:1", "localhost:2"]}
  if has_chief:
    cluster["chief"] = ["localhost:3"]
  assert distribution.is_chief(
      _Strategy(_Resolver(task_type, task_id, cluster))) == chief

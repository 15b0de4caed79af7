"""The distribution strategy of a training run, and which process is chief."""

import os

import tensorflow as tf


def make_strategy(name: str) -> tf.distribute.Strategy:
  """The strategy of ``TrainConfig.strategy``: ``default``, ``mirrored``
  (local devices) or ``multi_worker`` (the cluster of ``TF_CONFIG``)."""
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy multi_worker needs the cluster in the "
                       "TF_CONFIG environment variable.")
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes the model dir: the chief, or worker 0 of a
  cluster without one, or the only process."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return resolver.task_type == "worker" and resolver.task_id == 0 and (
      not has_chief)

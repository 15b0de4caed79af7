"""The exported module: raw recent events in, top-K candidates out.

Its signatures take what TF Serving's REST API can send: one row per user,
each a list of that user's recent events, padded with "" (strings) and 0
(timestamps) to the longest list in the request. Everything else, ordering,
truncation to the model's sequence length, vocabulary lookup, masking and
time-gap bucketing, happens inside the user tower, so the graph answers
exactly what training saw.
"""

from typing import Dict, Tuple

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import tensorflow_recommenders as tfrs

from export import partitioned_index
from tfrs_adcg import schema
from tfrs_adcg import user_vectors

SERVING_DEFAULT = "serving_default"
USER_EMBEDDING = "user_embedding"
CANDIDATE_IDS = schema.CANDIDATE_IDS
SCORES = schema.SCORES
EMBEDDING = "embedding"


def input_signature() -> Dict[str, tf.TensorSpec]:
  """The raw-event inputs of both signatures, shape [batch, events]."""
  specs = {name: tf.TensorSpec([None, None], tf.string, name=name)
           for name in schema.STRING_SEQUENCE_FEATURES}
  specs[schema.TIMESTAMP] = tf.TensorSpec([None, None], tf.int64,
                                          name=schema.TIMESTAMP)
  return specs


class ServingModule(tf.Module):
  """User tower plus candidate index, with the two serving signatures.

  * ``serving_default``: events -> ``candidate_ids`` [B, K] (string) and
    ``scores`` [B, K] (float32), best first. Should an approximate index
    find fewer than K, the rest is id "" with the lowest float32 score.
  * ``user_embedding``: events -> ``embedding`` [B, D] (float32), or
    [B, H, D] for a model of several vectors (``num_user_vectors`` plus
    ``num_repeat_vectors``), whose candidates are the best of the H
    vectors' (see ``tfrs_adcg.user_vectors`` and
    ``tfrs_adcg.repeat_vectors``). The partitioned index searches a user's
    H vectors as one set (their leaves shared); the other indexes search
    each vector and merge.

  The four event inputs are [B, T] tensors of one shape; T may be 0 (no
  history) or longer than the model's sequence length (the most recent
  events are kept).
  """

  def __init__(self, user_tower: tf.keras.layers.Layer,
               index: tfrs.layers.factorized_top_k.TopK, k: int):
    super().__init__(name="adcg_serving")
    self.user_tower = user_tower
    self.index = index
    self.k = k
    signature = input_signature()
    self.serving_default = tf.function(self._top_k,
                                       input_signature=[signature])
    self.user_embedding = tf.function(self._embed,
                                      input_signature=[signature])

  def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    """The concrete functions to save under their signature names."""
    return {
        SERVING_DEFAULT: self.serving_default.get_concrete_function(),
        USER_EMBEDDING: self.user_embedding.get_concrete_function(),
    }

  def _checked(self, events: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Fails with a readable message unless all inputs share one shape."""
    reference = tf.shape(events[schema.ADVERTISER_ID])
    checks = [
        tf.debugging.assert_equal(
            tf.shape(events[name]), reference,
            message=(f"'{name}' and '{schema.ADVERTISER_ID}' must have the "
                     "same [batch, events] shape; pad every user's lists to "
                     "one length with \"\" and 0."))
        for name in schema.SEQUENCE_FEATURES if name != schema.ADVERTISER_ID]
    with tf.control_dependencies(checks):
      return {name: tf.identity(value) for name, value in events.items()}

  def _embed(self, events: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    embedding = self.user_tower(self._checked(events), training=False)
    return {EMBEDDING: embedding}

  def _top_k(self, events: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    scores, ids = search_users(
        self.index, self.user_tower(self._checked(events), training=False),
        self.k)
    # An approximate search may find fewer than k; pad so the output is
    # always [B, k], missing slots with id "" and the lowest float score.
    missing = [[0, 0], [0, self.k - tf.shape(ids)[1]]]
    ids = tf.pad(ids, missing, constant_values=schema.STRING_PAD)
    scores = tf.pad(scores, missing, constant_values=scores.dtype.min)
    return {CANDIDATE_IDS: tf.reshape(ids, [-1, self.k]),
            SCORES: tf.reshape(scores, [-1, self.k])}


def search_users(index: tfrs.layers.factorized_top_k.TopK,
                 embedding: tf.Tensor, k: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Users' top k of ``index``: (scores [B, k'], ids [B, k']), best first.

  ``embedding`` is [B, D], or [B, H, D] for users of several vectors, whose
  candidates rank by their best score over the H vectors (max-sim). The
  partitioned index searches a user's vectors as one set; any other index
  searches each vector, and the results are merged per user
  (``user_vectors.merge_top_k``). k' may be below k where an approximate
  search finds fewer.
  """
  if (isinstance(index, partitioned_index.PartitionedIndex)
      or embedding.shape.rank == 2):
    return index(embedding, k=k)
  batch_size = tf.shape(embedding)[0]
  scores, ids = index(tf.reshape(embedding, [-1, embedding.shape[-1]]), k=k)
  scores = tf.reshape(scores, [batch_size, -1])
  return user_vectors.merge_top_k(scores, tf.reshape(ids, [batch_size, -1]),
                                  tf.minimum(k, tf.shape(scores)[1]))

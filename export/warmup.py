"""TF Serving warmup requests: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays these PredictionLog records when it loads a version, so
the first real request does not pay for graph initialisation and, for ScaNN,
for paging the index in. The records cover the shapes requests will have: a
single user, a batch, an empty history and a history longer than the model's
sequence length.
"""

import os
from typing import Dict, List

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from tfrs_adcg import schema

ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def warmup_path(version_dir: str) -> str:
  return os.path.join(version_dir, ASSETS_EXTRA, WARMUP_FILE)


def example_batches(advertiser_ids: List[str], max_seq_len: int
                    ) -> List[Dict[str, np.ndarray]]:
  """Raw-event batches of the shapes serving will see.

  Args:
    advertiser_ids: Known advertiser ids to fill the events with.
    max_seq_len: The model's sequence length.

  Returns:
    Input dicts of [B, T] arrays: one user with a short history, eight users
    with histories of different lengths (padded), one user with no history,
    one user with twice ``max_seq_len`` events.
  """
  ids = advertiser_ids or ["unknown"]
  batches = []
  for batch_size, lengths in ((1, [3]), (8, list(range(1, 9))), (1, [0]),
                              (1, [2 * max_seq_len])):
    width = max(lengths)
    batch = {
        name: np.full((batch_size, width), schema.STRING_PAD, dtype=object)
        for name in schema.STRING_SEQUENCE_FEATURES}
    batch[schema.TIMESTAMP] = np.full((batch_size, width), schema.INT_PAD,
                                      dtype=np.int64)
    for row, length in enumerate(lengths):
      for col in range(length):
        batch[schema.ADVERTISER_ID][row, col] = ids[(row + col) % len(ids)]
        batch[schema.EVENT_TYPE][row, col] = "view"
        batch[schema.TIMESTAMP][row, col] = 1_700_000_000_000 + 60_000 * col
    batches.append(batch)
  return batches


def write(version_dir: str, model_name: str, signature_name: str,
          batches: List[Dict[str, np.ndarray]]) -> str:
  """Writes one PredictionLog per batch; returns the file's path."""
  path = warmup_path(version_dir)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for batch in batches:
      request = predict_pb2.PredictRequest(
          model_spec=model_pb2.ModelSpec(name=model_name,
                                         signature_name=signature_name))
      for name, value in batch.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())
  return path


"""Tests of beam.inference: histories to model inputs, answers to candidates."""

import numpy as np
import tensorflow as tf

from beam import inference
from export import serving_module
from tfrs_adcg import schema
from tfrs_adcg import timestamps

INFO = inference.ModelInfo(path="serving/adcg/7", version=7,
                           index="scann", k=3, max_seq_len=5)


def test_model_inputs_pad_after_the_events():
  tensors = inference.model_inputs([
      [(1, "view", "i1", "a1"), (2, "signup", "", "a2")],
      [(timestamps.event_time(3250), "view", "i3", "a3")],
  ])
  assert set(tensors) == set(schema.SEQUENCE_FEATURES)
  # Event times (epoch seconds, or Instants) as epoch milliseconds.
  assert tensors[schema.TIMESTAMP].numpy().tolist() == [[1000, 2000],
                                                        [3250, 0]]
  assert tensors[schema.ADVERTISER_ID].numpy().tolist() == [
      [b"a1", b"a2"], [b"a3", b""]]
  assert tensors[schema.ITEM_ID].shape == (2, 2)
  assert tensors[schema.TIMESTAMP].dtype == tf.int64


def _fake_model(histories):
  """Answers [B, k=3] like a ScaNN export that found only two candidates
  for the first user."""
  assert len(histories) == 2
  return {
      serving_module.CANDIDATE_IDS: tf.constant(
          [[b"adv_1", b"", b"adv_3"], [b"adv_\xc3\xa9", b"adv_2", b"adv_1"]]),
      serving_module.SCORES: tf.constant(
          [[0.5, 0.0, 0.1], [0.3, 0.2, 0.1]], tf.float32),
  }


def test_run_inference_keeps_top_k_without_padding_ids():
  handler = inference.CandidateModelHandler(INFO, top_k=2, batch_size=2)
  histories = [[(1, "view", "i1", "a1")], [(2, "view", "i2", "a2")]]
  results = list(handler.run_inference(histories, _fake_model))
  assert [result.example for result in results] == histories
  assert [result.model_id for result in results] == ["7", "7"]
  first, second = (result.inference for result in results)
  assert first == inference.Candidates(ids=["adv_1"], scores=[0.5])
  assert second.ids == ["adv_\u00e9", "adv_2"]
  # The float32 scores, exactly, as Python floats.
  assert second.scores == [float(np.float32(0.3)), float(np.float32(0.2))]
  assert all(type(score) is float for score in second.scores)  # pylint: disable=unidiomatic-typecheck


def test_the_handler_batches_users_as_configured():
  handler = inference.CandidateModelHandler(INFO, top_k=3, batch_size=64)
  assert handler.batch_elements_kwargs() == {"min_batch_size": 64,
                                             "max_batch_size": 64}

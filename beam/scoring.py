"""Users' histories to candidate records, through the exported model.

``ScoreUsers`` runs ``(user_id, history)`` pairs through Beam's RunInference
with ``inference.CandidateModelHandler`` (the model loaded once per worker
process, called with batches of users) and turns each answer into a
candidate record (``candidate_writers``), counting the users written.
"""

import logging
import time
from typing import Optional, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.ml.inference import base as inference_base

from beam import counts
from beam import inference
from beam import logs
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_LOGGER = logging.getLogger(__name__)

USERS_WRITTEN = "users_written"  # A count of the manifest.


class _ToRecordFn(beam.DoFn):
  """``(user_id, PredictionResult)`` to a candidate record; counts and logs."""

  def __init__(self, model_version: int, generated_at: str):
    super().__init__()
    self._version = model_version
    self._generated_at = generated_at
    self._counts = counts.BundleCounts()
    self._written = 0
    self._logged_at = 0.0

  def setup(self):
    self._written = 0
    self._logged_at = time.monotonic()

  def start_bundle(self):
    self._counts = counts.BundleCounts()

  def process(self, scored: Tuple[str, inference_base.PredictionResult],
              as_of: Optional[int]):
    user, prediction = scored
    candidates: inference.Candidates = prediction.inference
    self._counts.add(USERS_WRITTEN)
    self._written += 1
    if time.monotonic() - self._logged_at >= logs.PROGRESS_SECONDS:
      _LOGGER.info("Scored %s users in this process so far.",
                   f"{self._written:,}")
      self._logged_at = time.monotonic()
    yield {
        schema.USER_ID: user,
        schema.CANDIDATE_IDS: candidates.ids,
        schema.SCORES: candidates.scores,
        schema.MODEL_VERSION: self._version,
        schema.AS_OF: timestamps.to_iso(as_of),
        schema.GENERATED_AT: self._generated_at,
    }

  def finish_bundle(self):
    yield from self._counts.emit()


class ScoreUsers(beam.PTransform):
  """``(user_id, history)`` to candidate records, in model batches.

  Outputs: main the records (``schema`` field names to values);
  ``counts.COUNTS`` the users written.

  Args:
    model: The exported version to score with.
    top_k: Candidates kept per user, at most the model's k.
    batch_size: Users per model call.
    as_of: A singleton PCollection of the as_of epoch seconds, which every
      record states.
    generated_at: ISO-8601 time of the run.
  """

  def __init__(self, model: inference.ModelInfo, top_k: int, batch_size: int,
               as_of: beam.PCollection, generated_at: str):
    super().__init__()
    self._handler = inference.CandidateModelHandler(model, top_k, batch_size)
    self._version = model.version
    self._as_of = as_of
    self._generated_at = generated_at

  def expand(self, users):
    return (users
            | "RunInference" >> inference_base.RunInference(
                inference_base.KeyedModelHandler(self._handler))
            | "ToRecords" >> beam.ParDo(
                _ToRecordFn(self._version, self._generated_at),
                pvalue.AsSingleton(self._as_of)).with_outputs(
                    counts.COUNTS, main="records"))

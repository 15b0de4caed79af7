"""Tests of beam.scoring: histories through the model into records."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing import util as beam_util
import numpy as np

from beam import counts
from beam import inference
from beam import scoring
from tfrs_adcg import schema
from tfrs_adcg import timestamps

AS_OF = timestamps.parse_timestamp("2026-02-01T00:00:00Z")


def _histories(advertisers):
  """Histories of 1 to 3 events with the model's advertisers."""
  return [(f"user_{n}", [(AS_OF - 60 * (3 - i), "view", "", advertisers[i])
                         for i in range(n % 3 + 1)])
          for n in range(7)]


def test_score_users_gives_each_user_the_models_answer(exported_versions):
  info = inference.ModelInfo.read(str(exported_versions["brute_force"]))
  model = inference.LoadedModel(info)
  probe = model([[(AS_OF, "view", "", "")]])
  advertisers = [candidate.decode() for candidate
                 in probe[schema.CANDIDATE_IDS][0, :3].numpy()]
  users = _histories(advertisers)
  expected = {}
  for user, history in users:
    outputs = model([history])  # One user a call: no batch effects.
    expected[user] = (
        [c.decode() for c in outputs[schema.CANDIDATE_IDS][0, :5].numpy()],
        outputs[schema.SCORES][0, :5].numpy())

  def check(records):
    assert sorted(record[schema.USER_ID] for record in records) == sorted(
        expected)
    for record in records:
      ids, scores = expected[record[schema.USER_ID]]
      assert record[schema.CANDIDATE_IDS] == ids
      np.testing.assert_allclose(record[schema.SCORES], scores, atol=1e-5)
      assert record[schema.MODEL_VERSION] == info.version
      assert record[schema.AS_OF] == "2026-02-01T00:00:00Z"
      assert record[schema.GENERATED_AT] == "2026-02-02T00:00:00Z"

  with test_pipeline.TestPipeline() as pipeline:
    as_of = pipeline | "AsOf" >> beam.Create([AS_OF])
    scored = (pipeline
              | "Users" >> beam.Create(users)
              | scoring.ScoreUsers(info, top_k=5, batch_size=3, as_of=as_of,
                                   generated_at="2026-02-02T00:00:00Z"))
    beam_util.assert_that(scored.records, check, label="Records")
    beam_util.assert_that(
        scored[counts.COUNTS] | beam.CombinePerKey(sum),
        beam_util.equal_to([(scoring.USERS_WRITTEN, len(users))]),
        label="Counts")

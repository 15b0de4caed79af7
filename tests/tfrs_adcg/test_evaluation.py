"""Exact evaluation: the model's full-corpus ranking and the baselines."""

import math

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import baselines
from tfrs_adcg import data
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.evaluation import Evaluator, ModelRanker
from tfrs_adcg.model import build


@pytest.fixture
def evaluator_and_model(tiny_data_dir, tiny_vocabularies):
  tf.keras.utils.set_random_seed(5)
  spec = ModelSpec(max_seq_len=4, embedding_dim=8, num_heads=2, num_layers=1)
  model = build(spec, tiny_vocabularies)
  evaluator = Evaluator(
      model, data.shard_paths(str(tiny_data_dir), schema.EVAL),
      baselines.for_model(model, tiny_vocabularies))
  return evaluator, model


def test_baselines_by_hand(evaluator_and_model):
  evaluator, _ = evaluator_and_model
  results = evaluator.baselines()
  # The one eval user with positives: history b then c, positives {b, c};
  # popularity ranks a, b, c, d: hits at ranks 2 and 3.
  ideal = 1 + 1 / math.log2(3)
  assert results["popularity"] == pytest.approx({
      "recall@10": 1.0, "recall@50": 1.0, "recall@100": 1.0,
      "ndcg@10": (1 / math.log2(3) + 1 / math.log2(4)) / ideal})
  # Last advertiser: c, b, then a, d: hits at ranks 1 and 2.
  assert results["last_advertiser"]["ndcg@10"] == pytest.approx(1.0)


def test_model_ranking_is_the_exact_full_corpus_ranking(evaluator_and_model,
                                                        tiny_data_dir):
  evaluator, model = evaluator_and_model
  results = evaluator.evaluate()
  assert set(results) == set(metrics.RANKERS)
  # Score the one eval user against every candidate by hand.
  batch = next(iter(data.evaluation_dataset(
      data.shard_paths(str(tiny_data_dir), schema.EVAL), max_seq_len=4)))
  history = {name: batch[name] for name in schema.SEQUENCE_FEATURES}
  users = model.user_tower(history).numpy()
  scores = (users @ model.candidate_embeddings().numpy().T)[0]
  if users.ndim == 3:  # Several vectors: a candidate's best dot product.
    scores = scores.max(axis=0)
  ids = [i.decode() for i in model.candidate_ids().numpy()]
  ranking = [ids[i] for i in np.argsort(-scores)]
  assert results["model"] == pytest.approx(
      metrics.user_metrics(ranking, {"b", "c"}))


class ColdC:
  """Baselines whose corpus holds one cold-start candidate, c."""

  @staticmethod
  def is_cold(id_: str) -> bool:
    return id_ == "c"

  def rankers(self):
    return {"c_first": lambda batch: [["c", "b"]] * len(batch[
        schema.ADVERTISER_ID])}


def test_every_ranker_reports_cold_start_recall_where_the_corpus_has_it(
    tiny_data_dir, tiny_vocabularies):
  model = build(ModelSpec(max_seq_len=4, embedding_dim=8, num_heads=2,
                          num_layers=1), tiny_vocabularies)
  evaluator = Evaluator(
      model, data.shard_paths(str(tiny_data_dir), schema.EVAL), ColdC())
  results = evaluator.evaluate()
  assert list(results) == ["model", "c_first"]
  assert evaluator.corpus_size == 4  # a, b, c and the catalog's d.
  # The eval user's positives b and c; c is cold.
  assert results["c_first"][metrics.COLD_START_USERS] == 1
  assert results["c_first"]["cold_start_recall@10"] == 1.0
  assert results["c_first"]["recall@10"] == 1.0
  assert results["model"][metrics.USERS] == 1
  assert results["model"]["cold_start_recall@100"] == 1.0


def test_a_model_ranker_embeds_its_corpus_before_ranking(evaluator_and_model):
  _, model = evaluator_and_model
  with pytest.raises(ValueError, match="call embed_corpus"):
    ModelRanker(model)({})

"""The retrieval model: corpus, log-Q correction, loss."""

import dataclasses
import math

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import negatives
from tfrs_adcg import schema
from tfrs_adcg.candidate_tower import CandidateTower
from tfrs_adcg.model import build
from tfrs_adcg.model_spec import ModelSpec

SPEC = ModelSpec(max_seq_len=4, embedding_dim=8, num_heads=2, num_layers=1,
                 temperature=1.0)


def test_corpus_is_every_known_advertiser(tiny_vocabularies):
  model = build(SPEC, tiny_vocabularies)
  assert model.candidate_ids().numpy().tolist() == [b"a", b"b", b"c", b"d"]
  embeddings = model.candidate_embeddings()
  assert embeddings.shape == (4, 8)
  np.testing.assert_allclose(tf.norm(embeddings, axis=1).numpy(), 1.0,
                             rtol=1e-5)


def test_sampling_probability_comes_from_the_frequencies(tiny_vocabularies):
  model = build(SPEC, tiny_vocabularies)
  # d and unknown ids never were positives: the smallest probability.
  np.testing.assert_allclose(
      model.sampling_probability(tf.constant(["a", "b", "c", "d", "?"])),
      [0.5, 0.25, 0.25, 0.25, 0.25])


def row_losses(model, positive_ids):
  """Each row's loss for one shared query and identical candidates."""
  query = tf.constant([[1.0, 0.0]] * len(positive_ids))
  candidates = tf.constant([[0.6, 0.8]] * len(positive_ids))
  ids = tf.constant(positive_ids)
  return [
      float(model.retrieval_loss(query, candidates, ids,
                                 sample_weight=tf.one_hot(i, len(positive_ids))))
      for i in range(len(positive_ids))
  ]


def test_logq_lowers_the_logit_of_the_more_popular_candidate(
    tiny_vocabularies):
  # Equal raw scores; "a" (probability 0.5) is more popular than "b" (0.25).
  corrected = build(SPEC, tiny_vocabularies)
  popular_row, rare_row = row_losses(corrected, ["a", "b"])
  # The corrected logits are score - log(p): a's is lower by log 2, so the
  # row whose positive is the popular "a" has the higher loss.
  assert popular_row > rare_row
  assert popular_row == pytest.approx(math.log(1 + 2))
  assert rare_row == pytest.approx(math.log(1 + 1 / 2))

  uncorrected = build(dataclasses.replace(SPEC, logq=False),
                      tiny_vocabularies)
  assert row_losses(uncorrected, ["a", "b"]) == pytest.approx(
      [math.log(2), math.log(2)])


def test_accidental_hits_are_not_negatives(tiny_vocabularies):
  model = build(dataclasses.replace(SPEC, logq=False),
                tiny_vocabularies)
  # Rows 0 and 1 share the positive "a": neither is the other's negative, so
  # row 0 competes with row 2's "b" only.
  assert row_losses(model, ["a", "a", "b"])[0] == pytest.approx(math.log(2))


def test_compute_loss_on_a_batch_of_pairs(tiny_vocabularies):
  model = build(SPEC, tiny_vocabularies)
  history = {
      schema.ADVERTISER_ID: tf.constant([["a", "b"], ["c", ""]]),
      schema.ITEM_ID: tf.constant([["a1", "b1"], ["", ""]]),
      schema.EVENT_TYPE: tf.constant([["view", "checkout"], ["signup", ""]]),
      schema.TIMESTAMP: tf.constant([[10, 20], [15, 0]], tf.int64),
  }
  loss = model.compute_loss((history, tf.constant(["a", "c"]),
                             tf.constant([["a", "b"], ["c", ""]])))
  assert loss.shape == ()
  assert np.isfinite(loss.numpy()) and loss.numpy() > 0


def test_other_positives_of_the_example_are_masked(tiny_vocabularies):
  model = build(dataclasses.replace(SPEC, logq=False),
                tiny_vocabularies)
  # Rows 0 and 1 are one example with labels {a, b}; row 2's example has c.
  # Without the labels row 0 competes with b and c; with them, with c only.
  query = tf.constant([[1.0, 0.0]] * 3)
  candidates = tf.constant([[0.6, 0.8]] * 3)
  ids = tf.constant(["a", "b", "c"])
  labels = tf.constant([["a", "b"], ["a", "b"], ["c", ""]])
  first_row = tf.one_hot(0, 3)
  assert float(model.retrieval_loss(
      query, candidates, ids, sample_weight=first_row)) == pytest.approx(
          math.log(3))
  assert float(model.retrieval_loss(
      query, candidates, ids, labels, sample_weight=first_row)) == (
          pytest.approx(math.log(2)))


def test_mixed_columns_use_the_mixture_sampling_probability(
    tiny_vocabularies):
  # B = 2 positives (a: p = 0.5, b: p = 0.25) and M = 2 uniform draws from
  # the N = 4 corpus: a column's probability is (2 p + 2 / 4) / (2 + 2).
  spec = dataclasses.replace(SPEC, negatives="mixed",
                             num_sampled_negatives=2)
  model = build(spec, tiny_vocabularies)
  ids = tf.constant(["a", "b", "d", "a"])
  np.testing.assert_allclose(
      negatives.mixed_sampling_probability(
          model.sampling_probability(ids), tf.constant(2.0),
          tf.constant(2.0), 4.0),
      [(1.0 + 0.5) / 4, (0.5 + 0.5) / 4, (0.5 + 0.5) / 4, (1.0 + 0.5) / 4])
  columns = model.column_ids(tf.constant(["a", "b"]))
  assert columns.shape == (4,)
  assert columns.numpy()[:2].tolist() == [b"a", b"b"]
  assert set(columns.numpy()[2:].tolist()) <= {b"a", b"b", b"c", b"d"}
  # Equal scores: row "b" sees its own column (1 / (1/4)), the masked-out
  # accidental hits none, and the others at exp(-log q) each.
  query = tf.constant([[1.0, 0.0]] * 2)
  candidates = tf.constant([[0.6, 0.8]] * 4)
  loss = float(model.retrieval_loss(query, candidates, ids,
                                    sample_weight=tf.constant([0.0, 1.0])))
  # Row b: logits -log q: b 4, a 4/1.5, d 4, a (second) 4/1.5.
  logits = [math.log(4.0), math.log(4 / 1.5), math.log(4.0),
            math.log(4 / 1.5)]
  expected = -logits[0] + math.log(sum(math.exp(v) for v in logits))
  assert loss == pytest.approx(expected, rel=1e-5)


def test_full_softmax_equals_in_batch_when_the_batch_is_the_corpus(
    tiny_vocabularies):
  full = build(dataclasses.replace(SPEC, negatives="full",
                                   logq=False), tiny_vocabularies)
  in_batch = build(dataclasses.replace(SPEC, logq=False),
                   tiny_vocabularies)
  for model in (full, in_batch):
    model.build_towers()
  in_batch.set_weights(full.get_weights())
  history = {
      schema.ADVERTISER_ID: tf.constant([["a"], ["b"], ["c"], ["d"]]),
      schema.ITEM_ID: tf.constant([["a1"], ["b1"], [""], [""]]),
      schema.EVENT_TYPE: tf.constant([["view"], ["checkout"], ["view"],
                                      ["view"]]),
      schema.TIMESTAMP: tf.constant([[10], [20], [15], [5]], tf.int64),
  }
  # The four positives are the corpus, once each, in another order.
  positives = tf.constant(["c", "a", "d", "b"])
  labels = tf.reshape(positives, [4, 1])
  assert full.column_ids(positives).shape == (8,)
  np.testing.assert_allclose(
      float(full.compute_loss((history, positives, labels))),
      float(in_batch.compute_loss((history, positives, labels))), rtol=1e-5)


def test_dense_loss_scores_the_positions_with_a_positive(tiny_vocabularies):
  model = build(dataclasses.replace(SPEC, objective="dense", pooling="last",
                                    num_user_vectors=1),
                tiny_vocabularies)
  history = {
      schema.ADVERTISER_ID: tf.constant([["a", "b", "c"], ["c", "", ""]]),
      schema.ITEM_ID: tf.constant([["a1", "b1", ""], ["", "", ""]]),
      schema.EVENT_TYPE: tf.constant([["view", "checkout", "view"],
                                      ["signup", "", ""]]),
      schema.TIMESTAMP: tf.constant([[10, 20, 30], [15, 0, 0]], tf.int64),
  }
  positives = tf.constant([["b", "", "a"], ["c", "", ""]])
  conversions = tf.constant([["b", "a"], ["c", ""]])
  queries, ids, labels = model._dense_queries(  # pylint: disable=protected-access
      history, positives, conversions, training=False)
  assert queries.shape == (2, 8)  # At most B = 2 of the 3 positions.
  assert set(ids.numpy().tolist()) <= {b"b", b"a", b"c"}
  assert labels.shape == (2, 2)
  loss = model.compute_loss((history, positives, conversions))
  assert loss.shape == () and np.isfinite(loss.numpy())


def test_several_user_vectors_score_by_their_best(tiny_vocabularies):
  model = build(dataclasses.replace(SPEC, num_user_vectors=3),
                tiny_vocabularies)
  history = {
      schema.ADVERTISER_ID: tf.constant([["a", "b"], ["c", ""]]),
      schema.ITEM_ID: tf.constant([["a1", "b1"], ["", ""]]),
      schema.EVENT_TYPE: tf.constant([["view", "checkout"], ["signup", ""]]),
      schema.TIMESTAMP: tf.constant([[10, 20], [15, 0]], tf.int64),
  }
  assert model.user_tower(history).shape == (2, 3, 8)
  loss = model.compute_loss((history, tf.constant(["a", "c"]),
                             tf.constant([["a"], ["c"]])))
  assert loss.shape == () and np.isfinite(loss.numpy())


def test_the_advertiser_model_shares_its_candidate_tower(tiny_vocabularies):
  model = build(dataclasses.replace(SPEC, num_repeat_vectors=2),
                tiny_vocabularies)
  assert isinstance(model.candidate_tower, CandidateTower)
  assert model.candidate_features is None
  assert model.user_tower.repeat_vectors.candidate_tower is (
      model.candidate_tower)
  assert (model.user_tower.advertiser_embedding is
          model.candidate_tower.advertiser_embedding)
  assert model.corpus_size() == 4


def test_an_item_model_needs_its_items_and_catalog(tiny_vocabularies):
  with pytest.raises(ValueError, match="items' content and its item catalog"):
    build(dataclasses.replace(SPEC, task=schema.ITEM_TASK), tiny_vocabularies)

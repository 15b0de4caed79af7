"""Repeat vectors: the recent candidates, their gates, max-sim scores."""

import dataclasses

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import repeat_vectors
from tfrs_adcg import schema
from tfrs_adcg import user_vectors
from tfrs_adcg import model as model_lib
from tfrs_adcg.model import build
from tfrs_adcg.model_spec import ModelSpec

SPEC = ModelSpec(max_seq_len=6, embedding_dim=8, num_heads=2, num_layers=1,
                 pooling="last", num_user_vectors=2, num_repeat_vectors=2)


def test_newest_distinct_finds_each_ids_newest_event_newest_first():
  ids = tf.constant([["a", "b", "a", "c", "c", ""],
                     ["x", "x", "", "", "", ""],
                     ["", "", "", "", "", ""]])
  positions, found = repeat_vectors.newest_distinct(ids, ids != "", 3)
  assert positions.numpy().tolist() == [[4, 2, 1], [1, 0, 0], [0, 0, 0]]
  assert found.numpy().tolist() == [[True, True, True],
                                    [True, False, False],
                                    [False, False, False]]


def test_newest_distinct_ignores_masked_events():
  ids = tf.constant([["a", "b", "a"]])
  positions, found = repeat_vectors.newest_distinct(
      ids, tf.constant([[True, True, False]]), 2)
  assert positions.numpy().tolist() == [[1, 0]]
  assert found.numpy().tolist() == [[True, True]]


def test_newest_distinct_of_integers_equals_that_of_strings():
  ids = tf.constant([["a", "b", "a", "c", "c", ""], ["x", "b", "", "", "", ""]])
  mask = ids != ""
  codes = tf.constant([[1, 2, 1, 3, 3, 0], [4, 2, 0, 0, 0, 0]])
  for expected, actual in zip(repeat_vectors.newest_distinct(codes, mask, 3),
                              repeat_vectors.newest_distinct(ids, mask, 3)):
    assert actual.numpy().tolist() == expected.numpy().tolist()


def history(rows):
  """A [B, T] history from per-row lists of (timestamp, advertiser, type)."""
  length = max(len(row) for row in rows)
  padded = [row + [(0, "", "")] * (length - len(row)) for row in rows]
  return {
      schema.TIMESTAMP: tf.constant([[e[0] for e in r] for r in padded],
                                    tf.int64),
      schema.ADVERTISER_ID: tf.constant([[e[1] for e in r] for r in padded]),
      schema.ITEM_ID: tf.fill([len(rows), length], ""),
      schema.EVENT_TYPE: tf.constant([[e[2] for e in r] for r in padded]),
  }


@pytest.fixture
def model(tiny_vocabularies):
  tf.keras.utils.set_random_seed(3)
  built = build(SPEC, tiny_vocabularies)
  built.build_towers()
  return built


@pytest.mark.parametrize("pooling", ["cls", "mean", "last"])
def test_repeat_vectors_are_gated_candidate_embeddings(tiny_vocabularies,
                                                       pooling):
  model = build(dataclasses.replace(SPEC, pooling=pooling),
                tiny_vocabularies)
  users = model.user_tower(history([
      [(10, "a", "view"), (20, "b", "view"), (30, "a", "checkout")],
      [(10, "c", "signup")],
      [],
  ]))
  assert users.shape == (3, 4, 8)  # 2 user vectors, then 2 repeat vectors.
  candidates = dict(zip(model.candidate_ids().numpy(),
                        model.candidate_embeddings().numpy()))
  users = users.numpy()
  for row, slot, advertiser in ((0, 2, b"a"), (0, 3, b"b"), (1, 2, b"c")):
    vector = users[row, slot]
    gate = np.linalg.norm(vector)
    assert gate > 0
    np.testing.assert_allclose(vector / gate, candidates[advertiser],
                               atol=1e-5)
    # Its own advertiser scores exactly the gate.
    assert float(vector @ candidates[advertiser]) == pytest.approx(gate,
                                                                   rel=1e-5)
  # Fewer distinct advertisers than slots: copies of the pooled vector.
  np.testing.assert_allclose(users[1, 3], users[1, 0], atol=1e-6)
  np.testing.assert_allclose(users[2, 2:], users[2, :1].repeat(2, 0),
                             atol=1e-6)


def test_inference_equals_the_full_encoder(tiny_vocabularies):
  # Without dropout, training runs the last block at every position;
  # inference only at the pooled ones and the repeat vectors' sources.
  tf.keras.utils.set_random_seed(3)
  built = build(dataclasses.replace(SPEC, dropout=0.0), tiny_vocabularies)
  built.build_towers()
  batch = history([[(1, "adv_1", "view"), (2, "adv_2", "view"),
                    (3, "adv_1", "checkout")], [(5, "adv_3", "view")], []])
  np.testing.assert_allclose(
      built.user_tower(batch, training=False).numpy(),
      built.user_tower(batch, training=True).numpy(), atol=1e-6)


def test_a_large_gate_ranks_a_recent_advertiser_first(model):
  events = history([[(10, "d", "view"), (20, "b", "view")]])
  gate = model.user_tower.repeat_vectors.gate
  kernel, _ = gate.get_weights()
  gate.set_weights([np.zeros_like(kernel), np.array([20.0], np.float32)])
  scores = user_vectors.scores(model.user_tower(events),
                               model.candidate_embeddings())
  ids = model.candidate_ids().numpy()
  top_two = {ids[i] for i in np.argsort(-scores.numpy()[0])[:2]}
  assert top_two == {b"b", b"d"}


def test_training_moves_the_gate_but_not_the_candidates_through_it(model):
  events = history([[(10, "a", "view"), (20, "b", "checkout")]])
  with tf.GradientTape() as tape:
    repeats = model.user_tower(events, training=True)[:, 2:]
    loss = tf.reduce_sum(repeats)
  layer = model.user_tower.repeat_vectors
  gate_gradients = tape.gradient(loss, layer.gate.trainable_variables)
  assert all(g is not None and np.any(g.numpy() != 0) for g in gate_gradients)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(
        tf.random.normal([1, 2, 8]), events[schema.ADVERTISER_ID],
        tf.constant([[True, True]]), tf.zeros([1, 8])))
  candidate_gradients = tape.gradient(
      loss, model.candidate_tower.trainable_variables)
  assert all(g is None for g in candidate_gradients)


def test_repeat_vectors_are_refused_where_they_do_not_apply():
  with pytest.raises(ValueError, match="pooled objective"):
    dataclasses.replace(SPEC, objective="dense", num_user_vectors=1)
  with pytest.raises(ValueError, match="not be negative"):
    dataclasses.replace(SPEC, num_repeat_vectors=-1)


def test_an_item_models_repeat_vectors_point_at_the_recent_items(
    item_model_dir):
  trained = model_lib.load_trained(str(item_model_dir))
  items = [s.decode() for s in trained.candidate_ids().numpy()[:2]]
  # Oldest first: item 0, a signup (no item), item 1, item 0 again.
  history = {
      schema.ITEM_ID: tf.constant([[items[0], "", items[1], items[0]]]),
      schema.ADVERTISER_ID: tf.constant([["a", "a", "a", "a"]]),
      schema.EVENT_TYPE: tf.constant([["view", "signup", "view", "view"]]),
      schema.TIMESTAMP: tf.constant([[1, 2, 3, 4]], tf.int64)}
  vectors = trained.user_tower(history, training=False).numpy()[0]
  spec = trained.spec
  assert spec.num_repeat_vectors > 0
  assert vectors.shape == (spec.num_user_vectors + spec.num_repeat_vectors,
                           spec.embedding_dim)
  repeats = vectors[spec.num_user_vectors:]
  embedded = trained.embed_candidates(tf.constant(items)).numpy()
  unit = repeats[:2] / np.linalg.norm(repeats[:2], axis=1, keepdims=True)
  # Newest distinct first: item 0 (seen last), then item 1; the signup's
  # empty id is no candidate, so the other slots repeat the pooled vector.
  np.testing.assert_allclose(unit, embedded[[0, 1]], atol=1e-5)
  np.testing.assert_allclose(repeats[2:], np.broadcast_to(
      vectors[0], repeats[2:].shape), atol=1e-6)

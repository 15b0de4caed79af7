"""The user tower: event selection, time gaps, shapes, masking invariance."""

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema
from tfrs_adcg import user_tower
from tfrs_adcg.model_spec import ModelSpec
from tfrs_adcg.embedding import IdEmbedding

DIM = 16
MAX_SEQ_LEN = 4


def events(rows):
  """A [B, T] batch from per-row lists of (timestamp, advertiser, item, type).

  Rows are padded to the longest with the schema's padding values.
  """
  length = max(len(row) for row in rows)
  padded = [list(row) + [(schema.INT_PAD, schema.STRING_PAD,
                          schema.STRING_PAD, schema.STRING_PAD)] *
            (length - len(row)) for row in rows]
  columns = (schema.TIMESTAMP, schema.ADVERTISER_ID, schema.ITEM_ID,
             schema.EVENT_TYPE)
  batch = {}
  for i, name in enumerate(columns):
    values = [[event[i] for event in row] for row in padded]
    dtype = tf.int64 if name == schema.TIMESTAMP else tf.string
    batch[name] = tf.constant(values, dtype=dtype, shape=[len(rows), length])
  return batch


PAD = (schema.INT_PAD, schema.STRING_PAD, schema.STRING_PAD, schema.STRING_PAD)
HISTORY = [(100, "a", "a1", "view"), (700, "b", "b1", "view"),
           (4000, "b", "b1", "checkout"), (90000, "c", "", "signup"),
           (90060, "a", "a2", "view")]


def make_tower(vocabularies, pooling="cls", **overrides):
  spec = ModelSpec(max_seq_len=MAX_SEQ_LEN, embedding_dim=DIM, num_heads=2,
                   num_layers=2, pooling=pooling, **overrides)
  tf.keras.utils.set_random_seed(1)
  advertisers = IdEmbedding(vocabularies.candidate_ids(),
                            spec.num_oov_buckets, DIM)
  return user_tower.UserTower(spec, vocabularies, advertisers)


def test_select_recent_events_sorts_truncates_and_pads():
  shuffled = [HISTORY[3], PAD, HISTORY[0], HISTORY[4], PAD, HISTORY[2],
              HISTORY[1]]
  selected, mask = user_tower.select_recent_events(
      events([shuffled, [HISTORY[1]], []]), MAX_SEQ_LEN)
  assert selected[schema.TIMESTAMP].numpy().tolist() == [
      [700, 4000, 90000, 90060], [700, 0, 0, 0], [0, 0, 0, 0]]
  assert selected[schema.ADVERTISER_ID].numpy().tolist() == [
      [b"b", b"b", b"c", b"a"], [b"b", b"", b"", b""], [b"", b"", b"", b""]]
  assert mask.numpy().tolist() == [
      [True] * 4, [True, False, False, False], [False] * 4]


def test_select_recent_events_orders_events_within_one_second():
  second = 1767434400_000  # Epoch milliseconds.
  within = [(second + 700, "late", "", "view"),
            (second + 200, "early", "", "view")]
  selected, _ = user_tower.select_recent_events(events([within]), 2)
  assert selected[schema.ADVERTISER_ID].numpy().tolist() == [
      [b"early", b"late"]]


def test_select_recent_events_keeps_input_order_of_equal_timestamps():
  tied = [(50, "x", "", "view"), (50, "y", "", "view"), (50, "z", "", "view")]
  selected, _ = user_tower.select_recent_events(events([tied]), 2)
  assert selected[schema.ADVERTISER_ID].numpy().tolist() == [[b"y", b"z"]]


def test_time_gap_buckets_are_log_scale_ages_before_the_newest_event():
  minute = 60_000  # Epoch milliseconds.
  timestamps = tf.constant([[0, 60 * minute - minute, 60 * minute - 3 * minute,
                             60 * minute, 0]], tf.int64)
  mask = tf.constant([[True, True, True, True, False]])
  buckets = user_tower.time_gap_buckets(timestamps, mask, num_buckets=6)
  # Ages 60, 1, 3 and 0 minutes: 1 + floor(log2(1 + age)), capped at 5.
  assert buckets.numpy().tolist() == [[5, 2, 3, 1, 0]]


@pytest.mark.parametrize("pooling", ["cls", "mean", "last"])
def test_output_shape_and_unit_norm(tiny_vocabularies, pooling):
  tower = make_tower(tiny_vocabularies, pooling)
  output = tower(events([HISTORY, HISTORY[:2], [HISTORY[0]]]))
  assert output.shape == (3, DIM)
  np.testing.assert_allclose(tf.norm(output, axis=1).numpy(), 1.0, rtol=1e-5)


def test_several_user_vectors(tiny_vocabularies):
  tower = make_tower(tiny_vocabularies, "last", num_user_vectors=3)
  output = tower(events([HISTORY, HISTORY[:2], []]))
  assert output.shape == (3, 3, DIM)
  np.testing.assert_allclose(tf.norm(output, axis=-1).numpy(), 1.0,
                             rtol=1e-5)
  # The interest vectors are not copies of the pooled one.
  assert not np.allclose(output[0, 0], output[0, 1], atol=1e-3)


@pytest.mark.parametrize("pooling,num_user_vectors",
                         [("cls", 1), ("last", 1), ("cls", 3), ("last", 3)])
def test_inference_equals_the_full_encoder(tiny_vocabularies, pooling,
                                           num_user_vectors):
  # Without dropout, training runs the last block at every position;
  # inference only at the pooled ones.
  tower = make_tower(tiny_vocabularies, pooling, dropout=0.0,
                     num_user_vectors=num_user_vectors)
  batch = events([HISTORY, HISTORY[:2], [], [HISTORY[3]]])
  np.testing.assert_allclose(tower(batch, training=False).numpy(),
                             tower(batch, training=True).numpy(), atol=1e-6)


@pytest.mark.parametrize("pooling", ["cls", "mean", "last"])
def test_padding_and_input_order_do_not_change_the_embedding(
    tiny_vocabularies, pooling):
  tower = make_tower(tiny_vocabularies, pooling)
  short = HISTORY[1:3]
  reference = tower(events([short]))
  variants = [
      [short[0], PAD, short[1]],
      [PAD, PAD, short[1], PAD, short[0], PAD, PAD, PAD, PAD],
      short + [PAD] * 20,
  ]
  for variant in variants:
    np.testing.assert_allclose(tower(events([variant])).numpy(),
                               reference.numpy(), atol=1e-6)
  # Batched with a longer row, so padded to that row's length.
  batched = tower(events([HISTORY, short]))
  np.testing.assert_allclose(batched[1].numpy(), reference[0].numpy(),
                             atol=1e-6)


def test_only_the_most_recent_events_matter(tiny_vocabularies):
  tower = make_tower(tiny_vocabularies)
  recent = HISTORY[-MAX_SEQ_LEN:]
  older = [(10, "c", "c1", "checkout")] + HISTORY
  np.testing.assert_allclose(tower(events([older])).numpy(),
                             tower(events([recent])).numpy(), atol=1e-6)
  different = tower(events([HISTORY[:MAX_SEQ_LEN]]))
  assert not np.allclose(different.numpy(), tower(events([recent])).numpy())


@pytest.mark.parametrize("pooling", ["cls", "mean", "last"])
def test_empty_history_and_unknown_ids_give_finite_vectors(tiny_vocabularies,
                                                           pooling):
  tower = make_tower(tiny_vocabularies, pooling)
  output = tower(events([[PAD, PAD], [(5, "never-seen", "nope", "teleport"),
                                      PAD]]))
  assert np.isfinite(output.numpy()).all()
  empty = tower({name: tf.zeros([2, 0], value.dtype)
                 for name, value in events([[PAD]]).items()})
  assert empty.shape == (2, DIM)
  assert np.isfinite(empty.numpy()).all()


def test_traces_with_unknown_length_and_core_ops_only(tiny_vocabularies):
  tower = make_tower(tiny_vocabularies)
  signature = {name: tf.TensorSpec([None, None],
                                   tf.int64 if name == schema.TIMESTAMP
                                   else tf.string)
               for name in schema.SEQUENCE_FEATURES}
  serve = tf.function(lambda features: tower(features, training=False))
  concrete = serve.get_concrete_function(signature)
  op_types = {op.type for op in concrete.graph.get_operations()}
  assert not op_types & {"EagerPyFunc", "PyFunc", "PyFuncStateless"}
  batch = events([HISTORY, HISTORY[:1]])
  np.testing.assert_allclose(concrete(batch).numpy(), tower(batch).numpy(),
                             atol=1e-6)


def test_dropout_only_in_training(tiny_vocabularies):
  tower = make_tower(tiny_vocabularies, dropout=0.5)
  batch = events([HISTORY])
  np.testing.assert_allclose(tower(batch).numpy(), tower(batch).numpy())
  assert not np.allclose(tower(batch, training=True).numpy(),
                         tower(batch).numpy())


def test_dense_tower_is_causal_and_ends_in_its_pooled_vector(
    tiny_vocabularies):
  tower = make_tower(tiny_vocabularies, "last", objective="dense")
  recent = HISTORY[-MAX_SEQ_LEN:]
  changed_newest = recent[:-1] + [(90060, "b", "b1", "checkout")]
  vectors = tower.sequence_embeddings(events([recent, changed_newest]))
  assert vectors.shape == (2, MAX_SEQ_LEN, DIM)
  # Positions before the newest do not see it.
  np.testing.assert_allclose(vectors[0, :-1].numpy(), vectors[1, :-1].numpy(),
                             atol=1e-6)
  assert not np.allclose(vectors[0, -1], vectors[1, -1], atol=1e-4)
  np.testing.assert_allclose(tower(events([recent])).numpy()[0],
                             vectors[0, -1].numpy(), atol=1e-6)


def test_gaps_since_the_previous_event():
  timestamps = tf.constant([[0, 60_000, 240_000, 240_000, 0]], tf.int64)
  mask = tf.constant([[True, True, True, True, False]])
  buckets = user_tower.time_gap_buckets(timestamps, mask, num_buckets=6,
                                        since_previous=True)
  # Gaps 0, 1, 3 and 0 minutes.
  assert buckets.numpy().tolist() == [[1, 2, 3, 1, 0]]


def test_without_history_item_ids_items_do_not_matter(tiny_vocabularies):
  tower = make_tower(tiny_vocabularies, "last", history_item_ids=False)
  assert tower.item_embedding is None
  other_items = [(t, a, "a2" if item else "", kind)
                 for t, a, item, kind in HISTORY]
  np.testing.assert_allclose(tower(events([HISTORY])).numpy(),
                             tower(events([other_items])).numpy(), atol=1e-6)

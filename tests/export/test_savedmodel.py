"""The exported SavedModel: layout, answers, and raw-input edge cases."""

import glob
import logging
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from export import export_info
from export import savedmodel
from export import serving_module
from export import warmup
from tfrs_adcg import schema
from tfrs_adcg import user_vectors

EVAL_USERS = 16


def eval_batch(data_dir: pathlib.Path, count: int = EVAL_USERS) -> dict:
  """The histories of ``count`` eval examples as a padded raw-event batch."""
  files = sorted(glob.glob(schema.split_pattern(str(data_dir), schema.EVAL)))
  records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
  parsed = tf.io.parse_example(
      tf.stack(list(records)), schema.feature_spec())
  batch = {name: parsed[name].to_tensor(schema.STRING_PAD)
           for name in schema.STRING_SEQUENCE_FEATURES}
  batch[schema.TIMESTAMP] = parsed[schema.TIMESTAMP].to_tensor(schema.INT_PAD)
  return batch


def row(batch: dict, index: int) -> dict:
  """One user's real events (padding removed) as a batch of one."""
  length = int(tf.reduce_sum(tf.cast(
      batch[schema.ADVERTISER_ID][index] != schema.STRING_PAD, tf.int32)))
  return {name: value[index:index + 1, :length]
          for name, value in batch.items()}


def serve(version_dir: pathlib.Path, batch: dict,
          signature: str = serving_module.SERVING_DEFAULT) -> dict:
  loaded = tf.saved_model.load(str(version_dir))
  return {k: v.numpy() for k, v in loaded.signatures[signature](**batch).items()}


def test_version_layout(exported_versions):
  for kind, version_dir in exported_versions.items():
    assert version_dir.name.isdigit()
    assert (version_dir / "saved_model.pb").exists()
    assert (version_dir / "variables").is_dir()
    assert pathlib.Path(warmup.warmup_path(str(version_dir))).stat().st_size
    info = export_info.ExportInfo.read(str(version_dir))
    assert info.index == kind
    assert info.version == int(version_dir.name)
    assert not [p for p in version_dir.parent.iterdir()
                if p.name.startswith(".staging")]


def test_export_again_adds_a_higher_version_and_keeps_the_old(
    trained_model_dir, exported_versions):
  first = exported_versions["brute_force"]
  second = pathlib.Path(savedmodel.main([
      "--model_dir", str(trained_model_dir), "--export_dir",
      str(first.parent), "--index", "brute_force", "--k", "5"]))
  assert int(second.name) > int(first.name)
  assert first.exists() and (first / "saved_model.pb").exists()
  assert export_info.ExportInfo.read(str(second)).k == 5


def test_brute_force_equals_exact_scoring_of_the_trained_model(
    trained_model_dir, preprocessed_dir, exported_versions):
  from tfrs_adcg import model as model_lib  # pylint: disable=g-import-not-at-top
  from tfrs_adcg import user_vectors  # pylint: disable=g-import-not-at-top

  batch = eval_batch(preprocessed_dir)
  answer = serve(exported_versions["brute_force"], batch)
  trained = model_lib.load_trained(str(trained_model_dir))
  # The session model has several vectors per user: max-sim scores.
  scores = user_vectors.scores(trained.user_tower(batch, training=False),
                               trained.candidate_embeddings())
  k = answer[serving_module.CANDIDATE_IDS].shape[1]
  expected_scores, expected_index = tf.math.top_k(scores, k=k)
  expected_ids = tf.gather(trained.candidate_ids(), expected_index).numpy()
  np.testing.assert_allclose(answer[serving_module.SCORES],
                             expected_scores.numpy(), rtol=1e-4, atol=1e-5)
  # Ties aside, the same candidates in the same order.
  agreement = np.mean(answer[serving_module.CANDIDATE_IDS] == expected_ids)
  assert agreement > 0.99


def test_outputs_are_ranked_ids_of_the_corpus(trained_model_dir,
                                              preprocessed_dir,
                                              exported_versions):
  from tfrs_adcg import model as model_lib  # pylint: disable=g-import-not-at-top

  corpus = set(model_lib.load_trained(
      str(trained_model_dir)).candidate_ids().numpy())
  batch = eval_batch(preprocessed_dir)
  for version_dir in exported_versions.values():
    answer = serve(version_dir, batch)
    ids, scores = answer[serving_module.CANDIDATE_IDS], answer[
        serving_module.SCORES]
    k = export_info.ExportInfo.read(str(version_dir)).k
    assert ids.shape == scores.shape == (EVAL_USERS, k)
    assert set(ids.ravel()) <= corpus
    assert all(len(set(r)) == k for r in ids)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_scann_top_k_overlaps_exact_top_k(preprocessed_dir,
                                          exported_versions):
  batch = eval_batch(preprocessed_dir, 64)
  approximate = serve(exported_versions["scann"], batch)
  exact = serve(exported_versions["brute_force"], batch)
  overlap = np.mean([
      len(set(a) & set(e)) / len(e)
      for a, e in zip(approximate[serving_module.CANDIDATE_IDS],
                      exact[serving_module.CANDIDATE_IDS])])
  assert overlap >= 0.95


def test_padding_and_batch_mates_do_not_change_a_users_answer(
    preprocessed_dir, exported_versions):
  eval_users = eval_batch(preprocessed_dir)
  # Four users with histories of different lengths, padded into one batch.
  users = []
  for index, keep in enumerate((20, 13, 6, 1)):
    user = row(eval_users, index)
    users.append({name: value[:, -keep:] for name, value in user.items()})
  width = max(u[schema.ADVERTISER_ID].shape[1] for u in users)
  batch = {}
  for name in schema.SEQUENCE_FEATURES:
    pad = schema.INT_PAD if name == schema.TIMESTAMP else schema.STRING_PAD
    batch[name] = tf.concat([
        tf.pad(u[name], [[0, 0], [0, width - u[name].shape[1]]],
               constant_values=pad) for u in users], axis=0)
  version_dir = exported_versions["brute_force"]
  together = serve(version_dir, batch, serving_module.USER_EMBEDDING)
  for index, user in enumerate(users):
    alone = serve(version_dir, user, serving_module.USER_EMBEDDING)
    np.testing.assert_allclose(alone[serving_module.EMBEDDING][0],
                               together[serving_module.EMBEDDING][index],
                               atol=1e-5)


def test_history_longer_than_max_seq_len_keeps_the_most_recent(
    preprocessed_dir, exported_versions):
  version_dir = exported_versions["brute_force"]
  max_seq_len = export_info.ExportInfo.read(str(version_dir)).max_seq_len
  user = row(eval_batch(preprocessed_dir), 0)
  length = user[schema.ADVERTISER_ID].shape[1]
  older = {name: tf.repeat(value[:, :1], max_seq_len, axis=1)
           for name, value in user.items()}
  older[schema.TIMESTAMP] = older[schema.TIMESTAMP] - 10 ** 6
  older[schema.ADVERTISER_ID] = tf.fill(older[schema.ADVERTISER_ID].shape,
                                        "some-old-advertiser")
  longer = {name: tf.concat([older[name], user[name]], axis=1)
            for name in user}
  assert longer[schema.ADVERTISER_ID].shape[1] > max_seq_len >= length
  # Keep exactly the user's last max_seq_len events either way.
  expected = serve(version_dir, {
      name: value[:, -max_seq_len:] for name, value in longer.items()},
                   serving_module.USER_EMBEDDING)
  actual = serve(version_dir, longer, serving_module.USER_EMBEDDING)
  np.testing.assert_allclose(actual[serving_module.EMBEDDING],
                             expected[serving_module.EMBEDDING], atol=1e-5)


def test_unknown_ids_and_empty_histories_get_answers(exported_versions):
  unknown = {
      schema.ADVERTISER_ID: tf.constant([["never-seen", "also-new"]]),
      schema.ITEM_ID: tf.constant([["x", ""]]),
      schema.EVENT_TYPE: tf.constant([["teleport", "view"]]),
      schema.TIMESTAMP: tf.constant([[1_700_000_000, 1_700_000_100]],
                                    tf.int64),
  }
  no_events = {name: value[:, :0] for name, value in unknown.items()}
  all_padding = {
      name: tf.fill([2, 3], schema.STRING_PAD) for name in
      schema.STRING_SEQUENCE_FEATURES}
  all_padding[schema.TIMESTAMP] = tf.zeros([2, 3], tf.int64)
  for version_dir in exported_versions.values():
    k = export_info.ExportInfo.read(str(version_dir)).k
    for batch, size in ((unknown, 1), (no_events, 1), (all_padding, 2)):
      answer = serve(version_dir, batch)
      assert answer[serving_module.CANDIDATE_IDS].shape == (size, k)
      assert np.all(np.isfinite(answer[serving_module.SCORES]))
      assert np.all(answer[serving_module.CANDIDATE_IDS] != b"")


def test_inputs_of_different_shapes_are_refused_clearly(exported_versions):
  batch = {name: tf.fill([1, 2], "a") for name in
           schema.STRING_SEQUENCE_FEATURES}
  batch[schema.TIMESTAMP] = tf.zeros([1, 3], tf.int64)
  loaded = tf.saved_model.load(str(exported_versions["brute_force"]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="same"):
    loaded.signatures[serving_module.SERVING_DEFAULT](**batch)


def test_export_info_records_the_index_parameters(exported_versions):
  info = export_info.ExportInfo.read(str(exported_versions["scann"]))
  assert info.scann["num_leaves_to_search"] <= info.scann["num_leaves"]
  assert info.k == min(100, info.num_candidates)


def test_partitioned_export_searches_every_leaf_of_a_small_corpus(
    preprocessed_dir, exported_versions):
  info = export_info.ExportInfo.read(str(exported_versions["partitioned"]))
  leaves = info.partitioned
  assert leaves["leaves_to_search"] == leaves["num_leaves"] >= 1
  assert leaves["num_leaves"] * leaves["leaf_rows"] >= info.num_candidates
  assert info.scann is None
  batch = eval_batch(preprocessed_dir, 64)
  partitioned = serve(exported_versions["partitioned"], batch)
  exact = serve(exported_versions["brute_force"], batch)
  np.testing.assert_allclose(partitioned[serving_module.SCORES],
                             exact[serving_module.SCORES], atol=1e-5)
  assert np.mean(partitioned[serving_module.CANDIDATE_IDS] ==
                 exact[serving_module.CANDIDATE_IDS]) > 0.99


def test_partitioned_flags_set_the_leaves(trained_model_dir, tmp_path):
  version_dir = savedmodel.main([
      "--model_dir", str(trained_model_dir), "--export_dir",
      str(tmp_path / "serving"), "--index", "partitioned", "--k", "10",
      "--num_leaves", "8", "--leaves_to_search", "2"])
  info = export_info.ExportInfo.read(version_dir)
  assert info.index == "partitioned" and info.k == 10
  assert info.partitioned["num_leaves"] <= 8
  assert info.partitioned["leaves_to_search"] == 2
  outputs = serve(pathlib.Path(version_dir), {
      schema.ADVERTISER_ID: tf.constant([["adv_001"]]),
      schema.ITEM_ID: tf.constant([[""]]),
      schema.EVENT_TYPE: tf.constant([["view"]]),
      schema.TIMESTAMP: tf.constant([[1_700_000_000]], tf.int64)})
  assert outputs[serving_module.CANDIDATE_IDS].shape == (1, 10)


@pytest.mark.parametrize("flags,message", [
    (["--index", "brute_force", "--num_leaves", "4"], "brute_force has no"),
    (["--index", "partitioned", "--num_reordering_candidates", "50"],
     "is for --index scann"),
])
def test_flags_the_index_has_no_use_for_are_refused(trained_model_dir,
                                                    tmp_path, flags, message):
  with pytest.raises(ValueError, match=message):
    savedmodel.main(["--model_dir", str(trained_model_dir), "--export_dir",
                     str(tmp_path)] + flags)
  assert not os.listdir(tmp_path)


def test_cli_rejects_a_missing_model_dir(tmp_path):
  with pytest.raises(SystemExit):
    savedmodel.main(["--model_dir", str(tmp_path / "nope"), "--export_dir",
                     str(tmp_path / "out")])
  assert not os.path.exists(tmp_path / "out")


def staging_dir(export_dir: pathlib.Path, host: str, pid: int
                ) -> pathlib.Path:
  """A half-written version as an export process leaves it."""
  path = export_dir / f".staging-7-{host}-{pid}-{'0' * 32}"
  (path / "variables").mkdir(parents=True)
  (path / "saved_model.pb").write_bytes(b"\x08")
  return path


def ended_process() -> int:
  process = subprocess.Popen([sys.executable, "-c", "pass"])
  process.wait()
  return process.pid


def test_the_next_export_removes_what_killed_exports_left(
    trained_model_dir, tmp_path, caplog):
  host = socket.gethostname()
  killed = staging_dir(tmp_path, host, ended_process())
  running = staging_dir(tmp_path, host, os.getpid())
  elsewhere = staging_dir(tmp_path, "another-host", ended_process())
  with caplog.at_level(logging.INFO):
    version = savedmodel.export(str(trained_model_dir), str(tmp_path),
                                index="brute_force")
  assert not killed.exists() and running.exists() and elsewhere.exists()
  assert sorted(os.listdir(tmp_path)) == sorted(
      [running.name, elsewhere.name, os.path.basename(version)])
  warned = [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and ".staging-" in r.getMessage()]
  assert len(warned) == 2
  assert any(m.startswith(f"{running}: ") for m in warned)
  assert any(m.startswith(f"{elsewhere}: ") for m in warned)


@pytest.fixture
def version_copy(exported_versions, tmp_path) -> pathlib.Path:
  copy = tmp_path / "adcg" / "1"
  shutil.copytree(exported_versions["brute_force"], copy)
  return copy


def cut_short(path: pathlib.Path, keep: float = 0.5) -> None:
  content = path.read_bytes()
  path.write_bytes(content[:int(len(content) * keep)])


def test_check_saved_model_accepts_an_export(version_copy):
  savedmodel.check_saved_model(str(version_copy))


@pytest.mark.parametrize("name,message", [
    ("saved_model.pb", "saved_model.pb' is truncated or corrupted"),
    ("variables/variables.index", "variables of .* are truncated"),
    ("variables/variables.data-00000-of-00001",
     "variables of .* are truncated"),
])
def test_check_saved_model_names_a_file_cut_short(version_copy, name,
                                                  message):
  cut_short(version_copy / name)
  with pytest.raises(ValueError, match=message):
    savedmodel.check_saved_model(str(version_copy))


def test_check_saved_model_names_a_missing_graph(version_copy):
  (version_copy / "saved_model.pb").unlink()
  with pytest.raises(ValueError, match="holds no saved_model.pb"):
    savedmodel.check_saved_model(str(version_copy))
  # The export dir instead of a version: its versions are named.
  with pytest.raises(ValueError, match=(
      "holds no saved_model.pb.* export dir: pass one of its versions, e.g. "
      f"'{version_copy}'")):
    savedmodel.check_saved_model(str(version_copy.parent))
  with pytest.raises(ValueError, match="is not a directory"):
    savedmodel.check_saved_model(str(version_copy / "nothing"))


# Item-level models (issue 7).


def _catalog_ids(item_synthetic_dir) -> list:
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  return pq.read_table(str(item_synthetic_dir / "items.parquet"),
                       columns=[schema.CATALOG_ITEM_ID]).column(0).to_pylist()


def test_item_export_indexes_the_whole_catalog(
    item_exported_versions, item_model_dir, item_preprocessed_dir,
    item_synthetic_dir):
  from tfrs_adcg import model as model_lib  # pylint: disable=g-import-not-at-top

  catalog = _catalog_ids(item_synthetic_dir)
  trained = model_lib.load_trained(str(item_model_dir))
  ids, embeddings = trained.corpus_embeddings()
  batch = eval_batch(item_preprocessed_dir)
  scores = user_vectors.scores(trained.user_tower(batch), embeddings)
  exact = tf.math.top_k(scores, k=50)
  exact_ids = tf.gather(ids, exact.indices).numpy()
  for kind, version_dir in item_exported_versions.items():
    info = export_info.ExportInfo.read(str(version_dir))
    assert info.task == schema.ITEM_TASK
    assert info.num_candidates == len(catalog) and info.k == 50
    outputs = serve(version_dir, batch)
    assert set(outputs["candidate_ids"].ravel()) <= {
        i.encode() for i in catalog}
    if kind == "brute_force":
      np.testing.assert_array_equal(outputs["candidate_ids"], exact_ids)
    # 200 items: ScaNN searches every leaf, then re-scores exactly.
    np.testing.assert_allclose(outputs["scores"], exact.values.numpy(),
                               atol=1e-4)


def test_item_export_passes_the_servability_check(item_exported_versions):
  from export import check  # pylint: disable=g-import-not-at-top

  for version_dir in item_exported_versions.values():
    assert check.main([str(version_dir)]).ok


def test_item_export_with_another_catalog(item_model_dir, item_synthetic_dir,
                                         tmp_path):
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  table = pq.read_table(str(item_synthetic_dir / "items.parquet"))
  half = table.slice(0, table.num_rows // 2)
  pq.write_table(half, str(tmp_path / "half.parquet"))
  version_dir = savedmodel.main([
      "--model_dir", str(item_model_dir), "--export_dir",
      str(tmp_path / "serving"), "--index", "brute_force", "--k", "100",
      "--item_catalog", str(tmp_path / "half.parquet")])
  info = export_info.ExportInfo.read(version_dir)
  assert info.num_candidates == half.num_rows == 100
  ids = set(half.column(schema.CATALOG_ITEM_ID).to_pylist())
  outputs = serve(pathlib.Path(version_dir), {
      schema.ADVERTISER_ID: tf.constant([["adv_01"]]),
      schema.ITEM_ID: tf.constant([[""]]),
      schema.EVENT_TYPE: tf.constant([["view"]]),
      schema.TIMESTAMP: tf.constant([[1_700_000_000]], tf.int64)})
  assert {i.decode() for i in outputs["candidate_ids"][0]} == ids


def test_item_catalog_flag_needs_an_item_model(trained_model_dir, tmp_path):
  with pytest.raises(ValueError, match="item-level models"):
    savedmodel.main(["--model_dir", str(trained_model_dir), "--export_dir",
                     str(tmp_path), "--item_catalog", "items.parquet"])


def test_task_flag_must_match_the_trained_model(trained_model_dir,
                                                tmp_path):
  with pytest.raises(ValueError, match="trained for the advertiser task"):
    savedmodel.main(["--model_dir", str(trained_model_dir), "--export_dir",
                     str(tmp_path), "--task", "item"])
  assert not os.listdir(tmp_path)

"""Session fixtures: one tiny end-to-end run of the flow, shared by all tests.

raw synthetic events -> preprocessed TFRecords -> one trained model ->
exported SavedModels. Each stage runs once per test session through the same
entry points the command line uses: the pipelines' ``run(argv)``, the other
commands' ``main(argv)``.
"""

import pathlib
from typing import Dict

import pytest

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)

TINY_SEQ_LEN = 20

# The session fixtures below: a test that uses any of them runs (its share
# of) the whole flow, and is an integration test.
END_TO_END_FIXTURES = frozenset({
    "synthetic_dir", "preprocessed_dir", "trained_model_dir",
    "exported_versions", "item_synthetic_dir", "item_preprocessed_dir",
    "item_model_dir", "item_exported_versions"})


def pytest_collection_modifyitems(items):
  """Marks the tests of the end-to-end fixtures ``integration``, so that
  ``pytest -m "not integration"`` runs the unit tests alone."""
  for item in items:
    if END_TO_END_FIXTURES.intersection(getattr(item, "fixturenames", ())):
      item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> pathlib.Path:
  """A small synthetic event log in CSV, with its advertiser and item catalogs."""
  from tfrs_adcg import synthetic  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("synthetic")
  synthetic.main([
      "--output", str(out), "--users", "600", "--advertisers", "40",
      "--items", "400", "--days", "42", "--seed", "7", "--format", "csv"])
  return out


@pytest.fixture(scope="session")
def preprocessed_dir(synthetic_dir, tmp_path_factory) -> pathlib.Path:
  """``synthetic_dir`` through beam.preprocess with the time split."""
  from beam import preprocess  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("data")
  preprocess.run([
      "--input", str(synthetic_dir / "events.csv"),
      "--advertiser_catalog", str(synthetic_dir / "advertisers.csv"),
      "--output", str(out), "--max_seq_len", str(TINY_SEQ_LEN),
      "--label_window_days", "7"])
  return out


@pytest.fixture(scope="session")
def trained_model_dir(preprocessed_dir, tmp_path_factory) -> pathlib.Path:
  """One small model trained on ``preprocessed_dir``; its metrics.json is in it."""
  from tfrs_adcg import train  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("model")
  train.main([
      "--data", str(preprocessed_dir), "--model_dir", str(out),
      "--epochs", "6", "--batch_size", "64", "--embedding_dim", "32",
      "--num_layers", "1", "--num_heads", "2",
      "--max_seq_len", str(TINY_SEQ_LEN)])
  return out


@pytest.fixture(scope="session")
def exported_versions(trained_model_dir, tmp_path_factory
                      ) -> Dict[str, pathlib.Path]:
  """``trained_model_dir`` exported once with each index kind.

  Returns {"scann": ..., "brute_force": ..., "partitioned": version_dir};
  each version lives in its own export_dir (TF Serving's --model_base_path).
  """
  from export import savedmodel  # pylint: disable=g-import-not-at-top

  base = tmp_path_factory.mktemp("serving")
  return {
      kind: pathlib.Path(savedmodel.export(
          str(trained_model_dir), str(base / kind), index=kind, k=100))
      for kind in ("scann", "brute_force", "partitioned")}


# Item-level model (issue 7): a tiny catalog with pretrained embeddings and
# cold-start items, preprocessed with --task item, trained for seconds.

ITEM_EMBEDDING_DIM = 8


@pytest.fixture(scope="session")
def item_synthetic_dir(tmp_path_factory) -> pathlib.Path:
  """A tiny log in Parquet with an item catalog of pretrained embeddings,
  a tenth of its items launched after the eval cutoff."""
  from tfrs_adcg import synthetic  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("item_synthetic")
  synthetic.main([
      "--output", str(out), "--users", "400", "--advertisers", "20",
      "--items", "200", "--days", "30", "--seed", "3", "--format", "parquet",
      "--item_embedding_dim", str(ITEM_EMBEDDING_DIM),
      "--cold_start_fraction", "0.1"])
  return out


@pytest.fixture(scope="session")
def item_preprocessed_dir(item_synthetic_dir, tmp_path_factory
                          ) -> pathlib.Path:
  """``item_synthetic_dir`` through beam.preprocess --task item."""
  from beam import preprocess  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("item_data")
  preprocess.run([
      "--input", str(item_synthetic_dir / "events.parquet"),
      "--output", str(out), "--max_seq_len", str(TINY_SEQ_LEN),
      "--task", "item"])
  return out


@pytest.fixture(scope="session")
def item_model_dir(item_synthetic_dir, item_preprocessed_dir,
                   trained_model_dir, tmp_path_factory) -> pathlib.Path:
  """A tiny item-level model; its metrics compare with ``trained_model_dir``
  (another log's advertisers: only the plumbing of the comparison counts)."""
  from tfrs_adcg import train  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("item_model")
  train.main([
      "--data", str(item_preprocessed_dir), "--model_dir", str(out),
      "--item_catalog", str(item_synthetic_dir / "items.parquet"),
      "--advertiser_model_dir", str(trained_model_dir),
      "--epochs", "3", "--steps_per_epoch", "25", "--batch_size", "64",
      "--embedding_dim", "16", "--num_heads", "2",
      "--max_seq_len", str(TINY_SEQ_LEN)])
  return out


@pytest.fixture(scope="session")
def item_exported_versions(item_model_dir, tmp_path_factory
                           ) -> Dict[str, pathlib.Path]:
  """``item_model_dir`` exported with each index kind, over its catalog."""
  from export import savedmodel  # pylint: disable=g-import-not-at-top

  base = tmp_path_factory.mktemp("item_serving")
  return {
      kind: pathlib.Path(savedmodel.export(
          str(item_model_dir), str(base / kind), index=kind, k=50))
      for kind in ("scann", "brute_force", "partitioned")}

"""Tests of benchmarks.serving_workloads: the trained and synthetic corpora."""

import numpy as np

from benchmarks import serving_workloads


def test_trained_item_embeddings_scale_the_catalog(item_model_dir, tmp_path):
  corpus = serving_workloads.trained_item_embeddings(str(item_model_dir),
                                                     700, str(tmp_path))
  assert corpus["ids"].shape == (700,)
  assert len(set(corpus["ids"])) == 700
  assert corpus["embeddings"].shape[0] == 700
  np.testing.assert_allclose(np.linalg.norm(corpus["embeddings"], axis=1), 1,
                             rtol=1e-4)


def test_clustered_unit_vectors_share_centres_across_seeds():
  corpus = serving_workloads.clustered_unit_vectors(400, 8, seed=1,
                                                    clusters=4, spread=0.1)
  assert corpus.shape == (400, 8) and corpus.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(corpus, axis=1), 1, rtol=1e-5)
  np.testing.assert_array_equal(
      corpus, serving_workloads.clustered_unit_vectors(400, 8, seed=1,
                                                       clusters=4,
                                                       spread=0.1))
  # Another seed draws other points around the same few centres: each is
  # close to some point of the first draw.
  queries = serving_workloads.clustered_unit_vectors(50, 8, seed=2,
                                                     clusters=4, spread=0.1)
  assert not np.allclose(queries, corpus[:50])
  assert (queries @ corpus.T).max(axis=1).min() > 0.9


def test_a_saved_workload_loads_as_it_was(tmp_path):
  workload = serving_workloads.Workload(
      source=serving_workloads.SYNTHETIC_CLUSTERS, model_dir="/models/x",
      ids=np.array([b"a", b"bb", b"ccc"], dtype=object),
      embeddings=serving_workloads.clustered_unit_vectors(3, 4, seed=0),
      queries=serving_workloads.clustered_unit_vectors(
          6, 4, seed=1).reshape(2, 3, 4),
      advertisers=["adv1", "adv2"])
  path = workload.save(str(tmp_path / "workload.npz"))
  loaded = serving_workloads.Workload.load(path)
  assert (loaded.source, loaded.model_dir, loaded.advertisers) == (
      workload.source, "/models/x", ["adv1", "adv2"])
  assert loaded.ids.tolist() == [b"a", b"bb", b"ccc"]
  np.testing.assert_array_equal(loaded.embeddings, workload.embeddings)
  np.testing.assert_array_equal(loaded.queries, workload.queries)

"""The recall/latency sweep of the serving benchmark: recall@k against
exact and search time per user, by leaves searched, of ScaNN and of the
partitioned index (brute force once), and their plot.

Search only, outside the serving signature: the points place each index's
default (``benchmarks.serving_bench``) on one curve of all three.
"""

from typing import List, Sequence

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from scann import scann_ops

from benchmarks import common
from benchmarks import index_recall
from benchmarks import serving_workloads
from export import index as index_lib

SWEEP_CHUNK = 25  # User vectors per partitioned search in the sweep.
SWEEP_VECTORS = 500  # User vectors of the recall/latency sweep.


def _search_point(search, exact: np.ndarray, users: int,
                  finish=lambda found: found, **point) -> dict:
  """Recall and ms per user of ``search()`` over ``users`` users, whose
  result ``finish`` turns into candidate ids [users, k] (untimed: the merge
  of a user's vectors)."""
  seconds = common.timings(search, repeats=5, warmup=1)
  point.update({
      "recall@100": round(index_recall.recall(finish(search()), exact), 4),
      "ms_per_user": round(1000 * common.median(seconds) / users, 3)})
  print(f"sweep {point}", flush=True)
  return point


def _leaves_searched(fractions: Sequence[float], num_leaves: int
                     ) -> List[int]:
  """The distinct numbers of leaves ``fractions`` of ``num_leaves`` make
  (at least 1), ascending."""
  return sorted({max(1, round(f * num_leaves)) for f in fractions})


def recall_sweep(workload_path: str, exact_path: str, k: int,
                 fractions: Sequence[float]) -> dict:
  """Stage 4: recall@k against exact and search time per user, by leaves
  searched.

  ScaNN (built with ``ScannParameters.for_corpus``) and the partitioned
  index (``PartitionedParameters.for_corpus``) each at ``fractions`` of
  their leaves; brute force once. Search only, over the first users whose
  vectors number at most ``SWEEP_VECTORS``, all in one batch but for the
  partitioned index (in chunks of ``SWEEP_CHUNK`` vectors: a search of many
  leaves holds [vectors x leaves, leaf rows] scores) and brute force
  (``index_recall.users_per_search`` users at a time).

  Returns:
    {"users": the users searched, "points": [{"index", "leaves_to_search",
    "num_leaves", "recall@100", "ms_per_user"}, ...]}.
  """
  workload = serving_workloads.Workload.load(workload_path)
  corpus, ids = workload.embeddings, workload.ids
  vectors = workload.queries.shape[1]
  users = max(1, SWEEP_VECTORS // vectors)
  queries = workload.queries[:users]
  exact = ids[np.load(exact_path)[:users]]
  flat = queries.reshape(-1, queries.shape[-1])
  params = index_lib.ScannParameters.for_corpus(len(corpus), k)
  searcher = scann_ops.builder(corpus, k, "dot_product").tree(
      num_leaves=params.num_leaves,
      num_leaves_to_search=params.num_leaves_to_search,
      training_iterations=12).score_ah(2).reorder(
          params.num_reordering_candidates).build()
  points = []
  for leaves in _leaves_searched(fractions, params.num_leaves):
    points.append(_search_point(
        lambda l=leaves: searcher.search_batched(  # noqa: E731
            flat, leaves_to_search=l),
        exact, users, index="scann", leaves_to_search=leaves,
        finish=lambda found: index_recall.merge_vectors(
            ids[np.asarray(found[0])], np.asarray(found[1]), vectors, k),
        num_leaves=params.num_leaves))
  del searcher
  partitioned = index_lib.build_index("partitioned", tf.constant(ids),
                                      tf.constant(corpus), k)
  query_tensor = tf.constant(queries)
  per_search = max(1, SWEEP_CHUNK // vectors)
  chunks = [query_tensor[start:start + per_search]
            for start in range(0, users, per_search)]
  num_leaves = partitioned.parameters.num_leaves
  for leaves in _leaves_searched(fractions, num_leaves):
    search = tf.function(lambda q, l=leaves: partitioned(
        q, k=k, leaves_to_search=l)[1])
    points.append(_search_point(
        lambda s=search: np.concatenate([s(chunk).numpy()
                                         for chunk in chunks]),
        exact, users, index="partitioned", leaves_to_search=leaves,
        num_leaves=num_leaves))
  del partitioned
  brute_force = index_lib.build_index("brute_force", tf.constant(ids),
                                      tf.constant(corpus), k)
  search = tf.function(lambda q: brute_force(q, k=k))
  per_search = vectors * index_recall.users_per_search(vectors, len(corpus))
  flat_chunks = [tf.constant(flat[start:start + per_search])
                 for start in range(0, len(flat), per_search)]

  def search_all():
    found = [search(chunk) for chunk in flat_chunks]
    return (np.concatenate([f[0].numpy() for f in found]),
            np.concatenate([f[1].numpy() for f in found]))

  points.append(_search_point(search_all, exact, users,
                              finish=lambda found: index_recall.merge_vectors(
                                  found[1], found[0], vectors, k),
                              index="brute_force",
                              leaves_to_search=None, num_leaves=None))
  return {"users": users, "points": points}


def plot_sweep(points: List[dict], title: str, path: str) -> None:
  """All three indexes on one recall/latency plot."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  figure, axes = plt.subplots(figsize=(7, 4.5))
  kinds = list(dict.fromkeys(point["index"] for point in points))
  for kind, marker in zip(kinds, ("o", "s", "*")):
    series = [p for p in points if p["index"] == kind]
    axes.plot([p["ms_per_user"] for p in series],
              [p["recall@100"] for p in series], marker=marker, label=kind,
              markersize=10 if kind == "brute_force" else 6)
    for p in series:
      if p["leaves_to_search"]:
        axes.annotate(str(p["leaves_to_search"]),
                      (p["ms_per_user"], p["recall@100"]), fontsize=7)
  axes.axhline(0.95, color="grey", linestyle=":", linewidth=1)
  axes.set_xscale("log")
  axes.set_xlabel("ms per user (users searched in batches, search only)")
  axes.set_ylabel("recall@100 vs exact max-sim top 100")
  axes.set_title(title, fontsize=9)
  axes.legend(title="index (labels: leaves searched)", fontsize=8)
  axes.grid(True, alpha=0.3)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)

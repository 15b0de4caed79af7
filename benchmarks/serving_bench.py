"""Serving benchmark: latency and recall of ScaNN, partitioned and brute force.

    python -m benchmarks.serving_bench --model_dir runs/x \
        [--item_model_dir runs/items] [--quick] [--sizes 100000,1000000]

The corpus of each size (default 100k and 1M candidates) is, when
``--item_model_dir`` is given, what a trained model really produces: a
synthetic item catalog of that size (``tfrs_adcg.synthetic``, the item
model's embedding width) through the trained item tower
(``benchmarks.serving_workloads``), searched by that model's user tower,
with queries from the eval histories of its data. Without it, clustered unit
vectors of ``--model_dir``'s width stand in, labelled "synthetic clusters"
(a fallback: recall there says little about trained embeddings).

For each size and index kind it builds the index, saves and reloads the
SavedModel exactly as ``export.savedmodel`` lays it out, and times
``serving_default`` in-process for batches of 1 and 32 users with 100
events each: p50 and p99, as ratios against brute force in the same run,
with the SavedModel's size and the index's recall@100 against exact top-100
for the eval queries (``benchmarks.index_recall``). On the largest corpus it
sweeps the leaves searched by ScaNN and by the partitioned index for one
recall/latency plot of all three indexes. Recall is also reported on
``--model_dir``'s own advertiser corpus, with queries from its eval
histories. Writes results/serving.{json,md,png}.
"""

import argparse
import dataclasses
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from scann import scann_ops

from benchmarks import common
from benchmarks import index_recall
from benchmarks import serving_workloads
from export import index as index_lib
from export import serving_module
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg.config import TrainConfig

K = 100
EVENTS = 100
KINDS = ("scann", "partitioned", "brute_force")
# Shares of each tree's leaves searched in the recall/latency sweep.
SWEEP_FRACTIONS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.4)
SWEEP_CHUNK = 25  # User vectors per partitioned search in the sweep.
BRUTE_FORCE_CHUNK = 500  # Query vectors per brute-force search.
SWEEP_VECTORS = 500  # User vectors of the recall/latency sweep.


def event_batch(batch_size: int, advertisers: List[str],
                seed: int) -> Dict[str, tf.Tensor]:
  """``batch_size`` users with ``EVENTS`` raw events each."""
  rng = np.random.default_rng(seed)
  shape = (batch_size, EVENTS)
  return {
      schema.ADVERTISER_ID: tf.constant(rng.choice(advertisers, size=shape)),
      schema.ITEM_ID: tf.fill(shape, schema.STRING_PAD),
      schema.EVENT_TYPE: tf.fill(shape, "view"),
      schema.TIMESTAMP: tf.constant(
          1_700_000_000_000 + np.sort(rng.integers(0, 10**9, size=shape)),
          tf.int64),
  }


def directory_mib(path: str) -> float:
  total = 0
  for root, _, files in os.walk(path):
    total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
  return total / 2**20


def bench_corpus(workload: serving_workloads.Workload, repeats: int,
                 work_dir: str) -> dict:
  """Build, save, reload, time and measure recall of every index kind."""
  size = len(workload.ids)
  ids = tf.constant(workload.ids)
  corpus = tf.constant(workload.embeddings)
  exact = workload.ids[index_recall.exact_top_k(workload.queries,
                                                workload.embeddings, K)]
  results, indexes = {}, {}
  for kind in KINDS:
    started = time.perf_counter()
    index = index_lib.build_index(kind, ids, corpus, K)
    build_seconds = time.perf_counter() - started
    indexes[kind] = index
    module = serving_module.ServingModule(workload.trained.user_tower, index,
                                          K)
    path = os.path.join(work_dir, f"{kind}-{size}")
    tf.saved_model.save(module, path, signatures=module.signatures(),
                        options=tf.saved_model.SaveOptions(
                            namespace_whitelist=["Scann"]))
    signature = tf.saved_model.load(path).signatures[
        serving_module.SERVING_DEFAULT]
    found = index_recall.search_users(index, workload.queries, K)
    row = {"index_build_s": round(build_seconds, 2),
           "savedmodel_mib": round(directory_mib(path), 1),
           "recall@100": round(index_recall.recall(found, exact), 4)}
    for batch_size in (1, 32):
      batch = event_batch(batch_size, workload.advertisers, seed=batch_size)
      seconds = common.timings(lambda b=batch: signature(**b), repeats)
      row[f"b{batch_size}_p50_ms"] = round(1000 * common.median(seconds), 2)
      row[f"b{batch_size}_p99_ms"] = round(
          1000 * common.percentile(seconds, 99), 2)
    if kind == "partitioned":
      row["partitioned"] = dict(dataclasses.asdict(index.parameters),
                                leaf_rows=index.leaf_rows)
    results[kind] = row
    print(f"{size:>9} {kind:<12} {row}", flush=True)
  results["indexes"] = indexes
  return results


def _search_point(search, queries: np.ndarray, exact: np.ndarray,
                  finish=lambda found: found, **point) -> dict:
  """Recall and ms per user of ``search()``, whose result ``finish`` turns
  into candidate ids [Q, K] (untimed: the merge of a user's vectors)."""
  seconds = common.timings(search, repeats=5, warmup=1)
  point.update({
      "recall@100": round(index_recall.recall(finish(search()), exact), 4),
      "ms_per_query": round(1000 * common.median(seconds) / len(queries), 3)})
  print(f"sweep {point}", flush=True)
  return point


def recall_sweep(workload: serving_workloads.Workload, partitioned,
                 fractions: Sequence[float]) -> List[dict]:
  """Recall@K against exact and search time per query, by leaves searched.

  ScaNN (built with ``ScannParameters.for_corpus``) and the partitioned
  index each at ``fractions`` of their leaves; brute force once. Search
  only, all queries in one batch (the partitioned index in chunks of
  ``SWEEP_CHUNK``), over the first users whose vectors number at most
  ``SWEEP_VECTORS`` (a search of every leaf holds all their scores).
  """
  corpus, ids = workload.embeddings, workload.ids
  vectors = workload.queries.shape[1]
  queries = workload.queries[:max(1, SWEEP_VECTORS // vectors)]
  exact = ids[index_recall.exact_top_k(queries, corpus, K)]
  flat = queries.reshape(-1, queries.shape[-1])
  params = index_lib.ScannParameters.for_corpus(len(corpus), K)
  searcher = scann_ops.builder(corpus, K, "dot_product").tree(
      num_leaves=params.num_leaves,
      num_leaves_to_search=params.num_leaves_to_search,
      training_iterations=12).score_ah(2).reorder(
          params.num_reordering_candidates).build()
  points = []
  for fraction in fractions:
    leaves = max(1, round(fraction * params.num_leaves))
    points.append(_search_point(
        lambda l=leaves: searcher.search_batched(  # noqa: E731
            flat, leaves_to_search=l),
        queries, exact, index="scann", leaves_to_search=leaves,
        finish=lambda found: index_recall.merge_vectors(
            ids[np.asarray(found[0])], np.asarray(found[1]), vectors, K),
        num_leaves=params.num_leaves))
  query_tensor = tf.constant(queries)
  # The partitioned search holds [queries x leaves, rows] scores (and the
  # sparse product's indices): in chunks of queries, or a sweep to many
  # leaves takes gigabytes.
  users = max(1, SWEEP_CHUNK // vectors)
  chunks = [query_tensor[start:start + users]
            for start in range(0, len(queries), users)]
  num_leaves = partitioned.parameters.num_leaves
  for fraction in fractions:
    leaves = max(1, round(fraction * num_leaves))
    search = tf.function(lambda q, l=leaves: partitioned(
        q, k=K, leaves_to_search=l)[1])
    points.append(_search_point(
        lambda s=search: np.concatenate([s(chunk).numpy()
                                         for chunk in chunks]),
        queries, exact, index="partitioned", leaves_to_search=leaves,
        num_leaves=num_leaves))
  brute_force = index_lib.build_index("brute_force", tf.constant(ids),
                                      tf.constant(corpus), K)
  search = tf.function(lambda q: brute_force(q, k=K))
  # Every vector against the whole corpus: [vectors, N] scores a chunk.
  flat_chunks = [tf.constant(flat[start:start + BRUTE_FORCE_CHUNK])
                 for start in range(0, len(flat), BRUTE_FORCE_CHUNK)]

  def search_all():
    found = [search(chunk) for chunk in flat_chunks]
    return (np.concatenate([f[0].numpy() for f in found]),
            np.concatenate([f[1].numpy() for f in found]))

  points.append(_search_point(search_all, queries, exact,
                              finish=lambda found: index_recall.merge_vectors(
                                  found[1], found[0], vectors, K),
                              index="brute_force",
                              leaves_to_search=None, num_leaves=None))
  return points


def plot_sweep(points: List[dict], title: str, path: str) -> None:
  """All three indexes on one recall/latency plot."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  figure, axes = plt.subplots(figsize=(7, 4.5))
  for kind, marker in zip(KINDS, ("o", "s", "*")):
    series = [p for p in points if p["index"] == kind]
    axes.plot([p["ms_per_query"] for p in series],
              [p["recall@100"] for p in series], marker=marker, label=kind,
              markersize=10 if kind == "brute_force" else 6)
    for p in series:
      if p["leaves_to_search"]:
        axes.annotate(str(p["leaves_to_search"]),
                      (p["ms_per_query"], p["recall@100"]), fontsize=7)
  axes.axhline(0.95, color="grey", linestyle=":", linewidth=1)
  axes.set_xscale("log")
  axes.set_xlabel("ms per query (one batch of all queries, search only)")
  axes.set_ylabel("recall@100 vs exact")
  axes.set_title(title, fontsize=9)
  axes.legend(title="index (labels: leaves searched)", fontsize=8)
  axes.grid(True, alpha=0.3)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def advertiser_corpus_recall(model_dir: str) -> dict:
  """Each index's recall@min(K, N) on the model's own advertiser corpus."""
  trained = model_lib.load_trained(model_dir)
  ids = trained.candidate_ids()
  embeddings = trained.candidate_embeddings()
  queries = serving_workloads.eval_queries(trained,
                                           TrainConfig.load(model_dir).data)
  k = min(K, int(ids.shape[0]))
  exact = ids.numpy()[index_recall.exact_top_k(queries, embeddings.numpy(), k)]
  result = {"candidates": int(ids.shape[0]), "k": k,
            "queries": len(queries)}
  for kind in KINDS:
    found = index_recall.search_users(
        index_lib.build_index(kind, ids, embeddings, k), queries, k)
    result[kind] = round(index_recall.recall(found, exact), 4)
  return result


def markdown(results: dict) -> str:
  """The latency table, the sweep and the advertiser-corpus recall."""
  rows = []
  for size, kinds in results["corpus"].items():
    brute = kinds["brute_force"]
    for kind in KINDS:
      row = kinds[kind]
      rows.append([f"{int(size):,}", kind, row["index_build_s"],
                   row["savedmodel_mib"],
                   f"{row['savedmodel_mib'] / brute['savedmodel_mib']:.2f}x",
                   row["b1_p50_ms"], row["b1_p99_ms"], row["b32_p50_ms"],
                   row["b32_p99_ms"],
                   f"{brute['b32_p50_ms'] / row['b32_p50_ms']:.1f}x",
                   row["recall@100"]])
  largest = results["corpus"][str(results["sweep_size"])]
  parameters = largest["partitioned"]["partitioned"]
  advertisers = results["advertiser_corpus"]
  return "\n\n".join([
      f"Serving, in-process `serving_default`, {EVENTS} events per user, "
      f"top-{K}, {results['repeats']} calls each "
      f"({common.machine_line(results['machine'])}). Corpus: "
      f"**{results['source']}**; recall@{K} against exact top-{K} for "
      f"{results['queries']} queries ({results['query_source']}):",
      common.markdown_table(
          ["candidates", "index", "build s", "SavedModel MiB",
           "size vs brute", "b1 p50 ms", "b1 p99 ms", "b32 p50 ms",
           "b32 p99 ms", "b32 p50 speed-up vs brute", "recall@100"],
          rows),
      f"Partitioned index at {int(results['sweep_size']):,} candidates: "
      f"{parameters['num_leaves']} leaves of at most "
      f"{parameters['leaf_rows']} rows, {parameters['leaves_to_search']} "
      "searched (`PartitionedParameters.for_corpus`).",
      f"Recall@{K} against exact by leaves searched, over "
      f"{int(results['sweep_size']):,} candidates ({results['source']}). "
      "Search only, all queries in one batch:",
      common.markdown_table(
          ["index", "leaves searched", "of", "recall@100", "ms/query"],
          [[p["index"], p["leaves_to_search"] or "all rows",
            p["num_leaves"] or "", p["recall@100"], p["ms_per_query"]]
           for p in results["sweep"]]),
      "![Recall vs latency of the three indexes](serving_recall_latency.png)",
      f"On the advertiser corpus of `--model_dir` ({advertisers['candidates']}"
      f" candidates, its eval histories as {advertisers['queries']} queries),"
      f" recall@{advertisers['k']} against exact: "
      + ", ".join(f"{kind} {advertisers[kind]}" for kind in KINDS) + "."])


def main(argv: Optional[Sequence[str]] = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", required=True,
                      help="A trained advertiser model: its user tower is "
                      "served over synthetic clusters unless "
                      "--item_model_dir is given, and its advertiser corpus "
                      "is measured for recall.")
  parser.add_argument("--item_model_dir",
                      help="A trained item model (--task item): its item "
                      "tower embeds a synthetic catalog of each size, its "
                      "user tower and eval histories give the queries.")
  parser.add_argument("--sizes", default="100000,1000000")
  parser.add_argument("--repeats", type=int, default=50)
  parser.add_argument("--quick", action="store_true",
                      help="10k and 50k candidates, fewer repeats.")
  common.add_results_dir_flag(parser)
  args = parser.parse_args(argv)
  sizes = [int(s) for s in args.sizes.split(",")]
  repeats = args.repeats
  if args.quick:
    sizes, repeats = [10_000, 50_000], 10
  results = {"machine": common.machine(), "k": K, "events_per_user": EVENTS,
             "repeats": repeats, "corpus": {}, "sweep_size": sizes[-1]}
  with tempfile.TemporaryDirectory() as work_dir:
    for size, workload in serving_workloads.workloads(
        args.model_dir, args.item_model_dir, work_dir, sizes):
      measured = bench_corpus(workload, repeats, work_dir)
      indexes = measured.pop("indexes")
      results["corpus"][str(size)] = measured
      if size == sizes[-1]:
        results["source"] = workload.source
        results["queries"] = len(workload.queries)
        results["query_source"] = (
            "eval histories through the trained user tower"
            if workload.source == serving_workloads.TRAINED_ITEMS
            else serving_workloads.SYNTHETIC_CLUSTERS)
        results["sweep"] = recall_sweep(workload, indexes["partitioned"],
                                        SWEEP_FRACTIONS)
  results["advertiser_corpus"] = advertiser_corpus_recall(args.model_dir)
  os.makedirs(args.results_dir, exist_ok=True)
  plot_sweep(results["sweep"],
             f"{int(sizes[-1]):,} candidates, {results['source']}",
             os.path.join(args.results_dir, "serving_recall_latency.png"))
  text = markdown(results)
  common.write_results(args.results_dir, "serving", results, text)
  print(text)
  return results


if __name__ == "__main__":
  main()

"""Serving benchmark: latency and recall of ScaNN, partitioned and brute force.

    python -m benchmarks.serving_bench --model_dir runs/x \
        [--item_model_dir runs/items] [--quick] [--sizes 100000,1000000] \
        [--b1_calls 1000] [--b32_calls 200] [--in_process]

The corpus of each size (default 100k and 1M candidates) is, when
``--item_model_dir`` is given, what a trained model really produces: a
synthetic item catalog of that size (``tfrs_adcg.synthetic``, the item
model's embedding width) through the trained item tower
(``benchmarks.serving_workloads``), searched by that model's user tower,
with queries from the eval histories of its data (users of H vectors: the
partitioned index searches a user's vectors as one set, ScaNN and brute
force each vector and merge). Without it, clustered unit vectors of
``--model_dir``'s width stand in, labelled "synthetic clusters" (a
fallback: recall there says little about trained embeddings).

Every stage runs in a process of its own (``benchmarks.fresh_process``;
``--in_process`` runs them in this one, for small corpora), so
that the peak memory is one stage's, not the sum of all: at 1M candidates a
stage holds a few GB where one process of them all outgrew 24 GB. Arrays
pass between them as files in a temporary directory. For each size:

1. the workload: the corpus, the queries and their exact top 100 by
   max-sim (``benchmarks.index_recall``);
2. one process per index kind: build it, save the SavedModel exactly as
   ``export.savedmodel`` lays it out, and measure its recall@100 against
   the exact top 100 (its size on disk too);
3. one process loads the three SavedModels and times ``serving_default``
   in-process for batches of 1 and 32 users with 100 events each, the
   indexes' calls interleaved (``benchmarks.serving_latency``): p50, p95
   and p99 of ``--b1_calls`` and ``--b32_calls`` calls, and ratios against
   brute force;
4. on the largest corpus only, the recall/latency sweep of the leaves
   searched by ScaNN and by the partitioned index, for one plot of all
   three indexes.

Recall is also reported on ``--model_dir``'s own advertiser corpus, with
queries from its eval histories. Writes results/serving.{json,md} and
results/serving_recall_latency.png, with each stage's peak resident memory.
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

from benchmarks import common
from benchmarks import fresh_process
from benchmarks import index_recall
from benchmarks import serving_latency
from benchmarks import serving_sweep
from benchmarks import serving_workloads
from export import index as index_lib
from export import serving_module
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg.config import TrainConfig

K = 100
EVENTS = 100
KINDS = ("scann", "partitioned", "brute_force")
BATCH_SIZES = (1, 32)
# Timed calls of an index in a row, and untimed calls before them, by batch
# size (serving_latency.interleaved_timings).
BLOCK_CALLS = {1: 100, 32: 20}
WARMUP_CALLS = {1: 5, 32: 2}
# Shares of each tree's leaves searched in the recall/latency sweep.
SWEEP_FRACTIONS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.4)


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


@dataclasses.dataclass(frozen=True)
class PreparedWorkload:
  """A workload's files, for the stages that measure it, and its shape."""
  workload: str  # Path of the saved serving_workloads.Workload.
  exact: str  # Path of its users' exact top K rows, int [Q, K] (.npy).
  source: str
  users: int
  vectors_per_user: int


def prepare_workload(model_dir: str, item_model_dir: Optional[str],
                     size: int, work_dir: str) -> PreparedWorkload:
  """Stage 1: the workload of ``size`` and its exact top K, into files in
  ``work_dir``."""
  workload = serving_workloads.workload(model_dir, item_model_dir, size,
                                        work_dir)
  exact = os.path.join(work_dir, f"exact-{size}.npy")
  np.save(exact, index_recall.exact_top_k(workload.queries,
                                          workload.embeddings, K))
  prepared = PreparedWorkload(
      workload=workload.save(os.path.join(work_dir, f"workload-{size}.npz")),
      exact=exact, source=workload.source,
      users=int(workload.queries.shape[0]),
      vectors_per_user=int(workload.queries.shape[1]))
  print(f"{size:>9} {prepared}", flush=True)
  return prepared


def build_and_measure(kind: str, files: PreparedWorkload,
                      work_dir: str) -> dict:
  """Stage 2: builds one index, saves its SavedModel, measures its recall.

  Args:
    kind: One of ``KINDS``.
    files: The workload.
    work_dir: The SavedModel goes to <work_dir>/<kind>-<size>.

  Returns:
    Build seconds, SavedModel MiB, recall@K, the SavedModel's path and,
    for the partitioned index, its parameters.
  """
  workload = serving_workloads.Workload.load(files.workload)
  size = len(workload.ids)
  exact = workload.ids[np.load(files.exact)]
  started = time.perf_counter()
  index = index_lib.build_index(kind, tf.constant(workload.ids),
                                tf.constant(workload.embeddings), K)
  build_seconds = time.perf_counter() - started
  module = serving_module.ServingModule(
      model_lib.load_trained(workload.model_dir).user_tower, index, K)
  path = os.path.join(work_dir, f"{kind}-{size}")
  tf.saved_model.save(module, path, signatures=module.signatures(),
                      options=tf.saved_model.SaveOptions(
                          namespace_whitelist=["Scann"]))
  found = index_recall.search_users(index, workload.queries, K, size)
  row = {"savedmodel": path, "index_build_s": round(build_seconds, 2),
         "savedmodel_mib": round(directory_mib(path), 1),
         "recall@100": round(index_recall.recall(found, exact), 4)}
  if kind == "partitioned":
    row["partitioned"] = dict(dataclasses.asdict(index.parameters),
                              leaf_rows=index.leaf_rows)
  print(f"{size:>9} {kind:<12} {row}", flush=True)
  return row


def time_signatures(savedmodels: Dict[str, str], files: PreparedWorkload,
                    calls: Dict[int, int]) -> dict:
  """Stage 3: ``serving_default`` of each SavedModel, timed interleaved.

  Args:
    savedmodels: The SavedModel directory of each index kind.
    files: The workload (its advertisers make the events).
    calls: Timed calls of each index by batch size.

  Returns:
    {kind: {"b1_p50_ms": ..., "b1_p95_ms": ..., ...}}.
  """
  with np.load(files.workload) as arrays:
    advertisers = arrays["advertisers"].tolist()
  signatures = {kind: tf.saved_model.load(path).signatures[
      serving_module.SERVING_DEFAULT] for kind, path in savedmodels.items()}
  results = {kind: {} for kind in savedmodels}
  for batch_size in BATCH_SIZES:
    batch = event_batch(batch_size, advertisers, seed=batch_size)
    seconds = serving_latency.interleaved_timings(
        {kind: lambda s=signature: s(**batch)
         for kind, signature in signatures.items()},
        calls[batch_size], BLOCK_CALLS[batch_size], WARMUP_CALLS[batch_size])
    for kind, values in seconds.items():
      results[kind].update(
          serving_latency.percentiles_ms(values, f"b{batch_size}"))
  for kind, row in results.items():
    print(f"{kind:<12} {row}", flush=True)
  return results


def advertiser_corpus_recall(model_dir: str) -> dict:
  """Each index's recall@min(K, N) on the model's own advertiser corpus."""
  trained = model_lib.load_trained(model_dir)
  ids = trained.candidate_ids()
  embeddings = trained.candidate_embeddings()
  queries = serving_workloads.eval_queries(trained,
                                           TrainConfig.load(model_dir).data)
  num_candidates = int(ids.shape[0])
  k = min(K, num_candidates)
  exact = ids.numpy()[index_recall.exact_top_k(queries, embeddings.numpy(), k)]
  result = {"candidates": num_candidates, "k": k, "queries": len(queries)}
  for kind in KINDS:
    found = index_recall.search_users(
        index_lib.build_index(kind, ids, embeddings, k), queries, k,
        num_candidates)
    result[kind] = round(index_recall.recall(found, exact), 4)
  return result


def markdown(results: dict) -> str:
  """The latency table, the sweep, the stages and the advertiser-corpus
  recall."""
  rows = []
  for size, kinds in results["corpus"].items():
    brute = kinds["brute_force"]
    for kind in KINDS:
      row = kinds[kind]
      rows.append(
          [f"{int(size):,}", kind, row["index_build_s"], row["savedmodel_mib"],
           f"{row['savedmodel_mib'] / brute['savedmodel_mib']:.2f}x"]
          + [row[f"b{b}_p{q}_ms"] for b in BATCH_SIZES
             for q in serving_latency.PERCENTILES]
          + [f"{brute['b32_p50_ms'] / row['b32_p50_ms']:.1f}x",
             row["recall@100"]])
  largest = results["corpus"][str(results["sweep_size"])]
  parameters = largest["partitioned"]["partitioned"]
  advertisers = results["advertiser_corpus"]
  calls = results["calls"]
  return "\n\n".join([
      f"Serving, in-process `serving_default`, {EVENTS} events per user, "
      f"top-{K} ({common.machine_line(results['machine'])}). Corpus: "
      f"**{results['source']}**; {results['users']} users of "
      f"{results['vectors_per_user']} vectors ({results['query_source']}), "
      f"recall@{K} per user against the exact top {K} by max-sim. Latency "
      f"over {calls['1']} calls of batch 1 and {calls['32']} of batch 32 "
      "per index, the three indexes' calls interleaved in blocks, each "
      "block after untimed warmup calls:",
      common.markdown_table(
          ["candidates", "index", "build s", "SavedModel MiB",
           "size vs brute"]
          + [f"b{b} p{q} ms" for b in BATCH_SIZES
             for q in serving_latency.PERCENTILES]
          + ["b32 p50 speed-up vs brute", "recall@100"], rows),
      f"Partitioned index at {int(results['sweep_size']):,} candidates: "
      f"{parameters['num_leaves']} leaves of at most "
      f"{parameters['leaf_rows']} rows, {parameters['leaves_to_search']} "
      "searched (`PartitionedParameters.for_corpus`).",
      f"Recall@{K} against exact by leaves searched, over "
      f"{int(results['sweep_size']):,} candidates ({results['source']}), "
      f"the first {results['sweep_users']} users. Search only, users in "
      "batches:",
      common.markdown_table(
          ["index", "leaves searched", "of", "recall@100", "ms per user"],
          [[p["index"], p["leaves_to_search"] or "all rows",
            p["num_leaves"] or "", p["recall@100"], p["ms_per_user"]]
           for p in results["sweep"]]),
      "![Recall vs latency of the three indexes](serving_recall_latency.png)",
      ("Each stage ran in this one process (seconds, the process's peak "
       "resident memory so far): " if results["in_process"] else
       "Each stage ran in a process of its own (seconds, peak resident "
       "memory): ") + "; ".join(
          f"{stage['stage']} at {stage['candidates']:,} "
          f"{stage['seconds']} s, {stage['peak_rss_mib']:,.0f} MiB"
          for stage in results["stages"]) + ".",
      f"On the advertiser corpus of `--model_dir` ({advertisers['candidates']}"
      f" candidates, its eval histories as {advertisers['queries']} queries),"
      f" recall@{advertisers['k']} against exact: "
      + ", ".join(f"{kind} {advertisers[kind]}" for kind in KINDS) + "."])


def _run_stage(results: dict, stage: str, size: int, function, *args):
  """``function(*args)`` in a fresh process (or, with
  ``results["in_process"]``, in this one); its seconds and peak memory (in
  this process: its peak so far) are recorded in ``results["stages"]``.
  Returns its result."""
  started = time.perf_counter()
  if results["in_process"]:
    result = function(*args)
    peak = round(common.memory_mib("VmHWM"), 1)
  else:
    result, peak = fresh_process.run(function, *args)
  results["stages"].append({
      "stage": stage, "candidates": size,
      "seconds": round(time.perf_counter() - started, 1),
      "peak_rss_mib": peak})
  print(f"{size:>9} {stage}: {results['stages'][-1]['seconds']} s, peak "
        f"{peak:,.0f} MiB", flush=True)
  return result


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
  parser.add_argument("--b1_calls", type=int, default=1000,
                      help="Timed batch-1 calls of each index.")
  parser.add_argument("--b32_calls", type=int, default=200,
                      help="Timed batch-32 calls of each index.")
  parser.add_argument("--quick", action="store_true",
                      help="10k and 50k candidates, fewer calls.")
  parser.add_argument("--in_process", action="store_true",
                      help="Run every stage in this process: quicker for "
                      "corpora of some 100k candidates; at 1M the stages' "
                      "memory adds up past 24 GB.")
  common.add_results_dir_flag(parser)
  args = parser.parse_args(argv)
  sizes = [int(s) for s in args.sizes.split(",")]
  calls = {1: args.b1_calls, 32: args.b32_calls}
  if args.quick:
    sizes, calls = [10_000, 50_000], {1: 100, 32: 20}
  results = {"machine": common.machine(), "k": K, "events_per_user": EVENTS,
             "calls": {str(b): n for b, n in calls.items()}, "corpus": {},
             "sweep_size": sizes[-1], "stages": [],
             "in_process": args.in_process}

  with tempfile.TemporaryDirectory() as work_dir:
    for size in sizes:
      files = _run_stage(results, "workload", size, prepare_workload,
                         args.model_dir, args.item_model_dir, size, work_dir)
      rows = {kind: _run_stage(results, kind, size, build_and_measure, kind,
                               files, work_dir) for kind in KINDS}
      latency = _run_stage(
          results, "timing", size, time_signatures,
          {kind: row.pop("savedmodel") for kind, row in rows.items()},
          files, calls)
      results["corpus"][str(size)] = {kind: {**rows[kind], **latency[kind]}
                                      for kind in KINDS}
      if size == sizes[-1]:
        results["source"] = files.source
        results["users"] = files.users
        results["vectors_per_user"] = files.vectors_per_user
        results["query_source"] = (
            "eval histories through the trained user tower"
            if files.source == serving_workloads.TRAINED_ITEMS
            else serving_workloads.SYNTHETIC_CLUSTERS)
        sweep = _run_stage(results, "sweep", size,
                           serving_sweep.recall_sweep, files.workload,
                           files.exact, K, SWEEP_FRACTIONS)
        results["sweep"], results["sweep_users"] = (sweep["points"],
                                                    sweep["users"])
  results["advertiser_corpus"] = advertiser_corpus_recall(args.model_dir)
  os.makedirs(args.results_dir, exist_ok=True)
  serving_sweep.plot_sweep(
      results["sweep"],
      f"{int(sizes[-1]):,} candidates, {results['source']}, users of "
      f"{results['vectors_per_user']} vectors",
      os.path.join(args.results_dir, "serving_recall_latency.png"))
  text = markdown(results)
  common.write_results(args.results_dir, "serving", results, text)
  print(text)
  return results


if __name__ == "__main__":
  main()

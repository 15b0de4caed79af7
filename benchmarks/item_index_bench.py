"""Item index benchmark: streamed ScaNN vs TFRS, and the partitioned index.

    python -m benchmarks.item_index_bench [--quick] [--sizes 100000,1000000]

For each catalog size it writes a synthetic item catalog (Parquet, pretrained
embeddings of ``--dim`` that cluster by category and advertiser) and, in a
fresh process per (size, method) so that memory peaks do not mix, indexes
``read_item_catalog(...).map(pretrained_item_embeddings)`` with the same
ScaNN parameters (``ScannParameters.for_corpus``):

* ``read``: streams the catalog and does nothing else (the floor);
* ``streamed``: ``export.catalog_index.StreamedScaNN.index_from_dataset``;
* ``tfrs``: ``tfrs.layers.factorized_top_k.ScaNN.index_from_dataset``,
  which lists the batches and concatenates them;
* ``partitioned``: ``export.partitioned_index.PartitionedIndex
  .index_from_dataset`` (core TensorFlow ops, balanced k-means leaves).

Each child reports its wall-clock time (reading included), its resident
memory before reading (TensorFlow loaded) and its peak (VmHWM) once the index
is built; each method runs ``--builds`` times, the fastest time is kept (the
machine is shared) and the largest peak. At the largest size the
``streamed`` and ``partitioned`` children then time searches of k=100
through a ``tf.function`` (p50/p99, batches of 1 and 32 queries) and measure
recall@100 against exact brute force. Queries are
catalog vectors plus noise, normalised, standing in for user embeddings.
Writes results/item_index.{json,md}.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
from benchmarks import common
from tfrs_adcg import item_catalog
from tfrs_adcg import schema
from tfrs_adcg import synthetic

K = 100
METHODS = ("read", "streamed", "tfrs", "partitioned")
SEARCHED = ("streamed", "partitioned")
_QUERIES = 1000


def write_catalog(directory: str, size: int, dim: int) -> str:
  """A synthetic item catalog of ``size`` items; returns its Parquet path."""
  summary = synthetic.generate(synthetic.SyntheticConfig(
      output=directory, users=100, advertisers=max(2, size // 500),
      items=size, days=2, seed=size, file_format="parquet",
      item_embedding_dim=dim))
  return summary["paths"][synthetic.ITEMS]


def _catalog_arrays(path: str) -> Tuple[np.ndarray, np.ndarray]:
  """The catalog's ids and normalised embeddings, whole (for exact search)."""
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

  table = pq.read_table(path, columns=[schema.CATALOG_ITEM_ID,
                                       schema.CATALOG_EMBEDDING])
  ids = table.column(schema.CATALOG_ITEM_ID).to_numpy(zero_copy_only=False)
  vectors = np.concatenate([
      chunk.flatten().to_numpy().reshape(len(chunk), -1)
      for chunk in table.column(schema.CATALOG_EMBEDDING).chunks])
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  return ids, vectors


def _search_and_recall(index, path: str, repeats: int) -> dict:
  """Latency of k=100 searches and recall@100 against exact, at this size."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from benchmarks import index_recall  # pylint: disable=g-import-not-at-top

  ids, corpus = _catalog_arrays(path)
  rng = np.random.default_rng(0)
  queries = corpus[rng.integers(len(corpus), size=_QUERIES)] + 0.3 * (
      rng.normal(size=(_QUERIES, corpus.shape[1])) / np.sqrt(corpus.shape[1]))
  queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(
      np.float32)
  search = tf.function(
      lambda q: index(q, k=K),
      input_signature=[tf.TensorSpec([None, corpus.shape[1]], tf.float32)])
  result = {}
  for batch_size in (1, 32):
    batch = tf.constant(queries[:batch_size])
    seconds = common.timings(lambda b=batch: search(b), repeats)
    result[f"b{batch_size}_p50_ms"] = round(1000 * common.median(seconds), 3)
    result[f"b{batch_size}_p99_ms"] = round(
        1000 * common.percentile(seconds, 99), 3)
  _, found = search(tf.constant(queries))
  found = found.numpy().astype(str)
  exact = ids[index_recall.exact_top_k(queries[:, np.newaxis], corpus, K)]
  result["recall_at_100"] = round(index_recall.recall(found, exact), 4)
  result["queries"] = _QUERIES
  return result


def run_child(method: str, path: str, search_repeats: int) -> dict:
  """Reads (and indexes) the catalog in this process; returns measurements."""
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  import tensorflow_recommenders as tfrs  # pylint: disable=g-import-not-at-top

  from export import catalog_index  # pylint: disable=g-import-not-at-top
  from export import index as index_lib  # pylint: disable=g-import-not-at-top
  from export import partitioned_index  # pylint: disable=g-import-not-at-top

  catalog = item_catalog.read_item_catalog(path).map(
      catalog_index.pretrained_item_embeddings)
  before = common.memory_mib("VmRSS")
  num_items = pq.ParquetFile(path).metadata.num_rows
  params = index_lib.ScannParameters.for_corpus(num_items, K)
  started = time.perf_counter()
  index = None
  if method == "read":
    assert num_items == sum(int(ids.shape[0]) for ids, _ in catalog)
  elif method == "streamed":
    index = catalog_index.StreamedScaNN(k=K).index_from_dataset(catalog)
    assert index.parameters == params
  elif method == "partitioned":
    index = partitioned_index.PartitionedIndex(k=K).index_from_dataset(
        catalog)
  else:
    index = tfrs.layers.factorized_top_k.ScaNN(
        k=K, num_leaves=params.num_leaves,
        num_leaves_to_search=params.num_leaves_to_search,
        num_reordering_candidates=params.num_reordering_candidates,
        name="scann").index_from_dataset(catalog)
  seconds = time.perf_counter() - started
  result = {"method": method, "items": num_items,
            "scann": dataclasses.asdict(params),
            "partitioned": (dataclasses.asdict(index.parameters)
                            if method == "partitioned" else None),
            "seconds": round(seconds, 2),
            "rss_before_mib": round(before, 1),
            "peak_rss_mib": round(common.memory_mib("VmHWM"), 1)}
  result["peak_over_before_mib"] = round(
      result["peak_rss_mib"] - result["rss_before_mib"], 1)
  if search_repeats and index is not None:
    result["search"] = _search_and_recall(index, path, search_repeats)
  return result


def _spawn(method: str, path: str, search_repeats: int) -> dict:
  """``run_child`` in a fresh Python process; its JSON, or why it failed."""
  command = [sys.executable, "-m", "benchmarks.item_index_bench", "--child",
             method, "--catalog", path,
             "--search_repeats", str(search_repeats)]
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  started = time.perf_counter()
  process = subprocess.run(command, cwd=root, capture_output=True, text=True,
                           check=False)
  if process.returncode != 0:
    return {"method": method, "failed": process.returncode,
            "after_seconds": round(time.perf_counter() - started, 1),
            "stderr_tail": process.stderr[-2000:]}
  return json.loads(process.stdout.strip().splitlines()[-1])


def _best_of(runs: Sequence[dict]) -> dict:
  """The first run, with the fastest time and the largest peak of all."""
  if any("failed" in run for run in runs):
    return next(run for run in runs if "failed" in run)
  best = dict(runs[0])
  best["seconds_all"] = [run["seconds"] for run in runs]
  best["seconds"] = min(best["seconds_all"])
  for name in ("peak_rss_mib", "peak_over_before_mib"):
    best[name] = max(run[name] for run in runs)
  return best


def _markdown(results: dict) -> str:
  rows = []
  for size, methods in results["sizes"].items():
    tfrs_run = methods.get("tfrs", {})
    for method, run in methods.items():
      if "failed" in run:
        rows.append([f"{int(size):,}", method, "failed", "", "", "", ""])
        continue
      vs_tfrs = ""
      if method == "streamed" and "failed" not in tfrs_run:
        time_ratio = run["seconds"] / tfrs_run["seconds"]
        memory_ratio = (run["peak_over_before_mib"] /
                        tfrs_run["peak_over_before_mib"])
        vs_tfrs = f"{time_ratio:.2f}x time, {memory_ratio:.2f}x memory"
      rows.append([f"{int(size):,}", method, run["seconds"],
                   run["rss_before_mib"], run["peak_rss_mib"],
                   run["peak_over_before_mib"], vs_tfrs])
  parts = [
      f"Item index build, D={results['dim']}, k={K}, catalog read from "
      f"Parquet in batches of 4096 and L2-normalised, one process per row "
      f"({common.machine_line(results['machine'])}):",
      common.markdown_table(
          ["items", "method", "seconds", "RSS before MiB", "peak RSS MiB",
           "peak - before MiB", "streamed vs tfrs"], rows)]
  parts.append("ScaNN parameters (`ScannParameters.for_corpus`): " + "; ".join(
      f"{int(size):,} items: {methods['streamed'].get('scann')}"
      for size, methods in results["sizes"].items()) + ".")
  for method, search in results.get("search", {}).items():
    parts.append(
        f"Search at {int(results['search_size']):,} items ({method} index, "
        f"`tf.function`, k={K}): batch 1 p50 {search['b1_p50_ms']} ms, p99 "
        f"{search['b1_p99_ms']} ms; batch 32 p50 {search['b32_p50_ms']} ms, "
        f"p99 {search['b32_p99_ms']} ms. Recall@{K} against exact brute "
        f"force over {search['queries']} queries: {search['recall_at_100']}.")
  return "\n\n".join(parts)


def main(argv: Optional[Sequence[str]] = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sizes", default="100000,1000000")
  parser.add_argument("--dim", type=int, default=32)
  parser.add_argument("--search_repeats", type=int, default=200)
  parser.add_argument("--builds", type=int, default=3,
                      help="Runs per size and method.")
  parser.add_argument("--quick", action="store_true",
                      help="One catalog of 50k items, fewer searches.")
  common.add_results_dir_flag(parser)
  parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
  parser.add_argument("--catalog", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    result = run_child(args.child, args.catalog, args.search_repeats)
    print(json.dumps(result), flush=True)
    return result

  sizes = [int(s) for s in args.sizes.split(",")]
  repeats = args.search_repeats
  if args.quick:
    sizes, repeats = [50_000], 50
  results: Dict[str, object] = {"machine": common.machine(), "dim": args.dim,
                                "k": K, "sizes": {}}
  with tempfile.TemporaryDirectory() as work_dir:
    for size in sizes:
      path = write_catalog(os.path.join(work_dir, str(size)), size, args.dim)
      runs = {}
      for method in METHODS:
        search = repeats if (size == sizes[-1] and method in SEARCHED) else 0
        runs[method] = _best_of(
            [_spawn(method, path, search if build == 0 else 0)
             for build in range(args.builds)])
        print(f"{size:>9} {json.dumps(runs[method])}", flush=True)
      searched = {method: runs[method].pop("search") for method in SEARCHED
                  if "search" in runs[method]}
      if searched:
        results["search"] = searched
        results["search_size"] = size
      results["sizes"][str(size)] = runs
  markdown = _markdown(results)
  print(markdown)
  common.write_results(args.results_dir, "item_index", results, markdown)
  return results


if __name__ == "__main__":
  main()

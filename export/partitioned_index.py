"""A partitioned (inverted-file) top-k index searched with core TF ops only.

A stock ``tensorflow_model_server`` has no ScaNN ops; this index needs none.
Building it (``PartitionedIndex.index``) trains balanced leaves with
``export.partitioned_kmeans`` and stores the corpus leaf by leaf, each leaf
one block of ``leaf_rows`` rows (the largest leaf; leaves are capped near
the mean size, so padding stays about a tenth of the corpus). A query:

1. scores the leaf centroids: [B, D] x [L, D] -> [B, L];
2. keeps its ``leaves_to_search`` best leaves: [B, P];
3. gathers their blocks: [B, P, leaf_rows, D];
4. scores those candidates exactly (padding rows score the lowest float);
5. returns the top k: (scores [B, k], ids [B, k]), best first.

Every op is a stock TensorFlow kernel (MatMul, TopKV2, ResourceGather,
BatchMatMulV2, ...), so the SavedModel loads in any TF Serving. Searching
every leaf is exact: it scores the whole corpus.

    index = PartitionedIndex(k=100).index(embeddings, ids)
    scores, ids = index(user_embeddings)  # [B, 100] each, best first.

``index_from_dataset`` builds from a stream of (ids [b], embeddings [b, D])
batches (an item catalog through the item tower), gathering them into one
buffer first: the same index as ``index`` over their concatenation.
"""

import dataclasses
import logging
import math
from typing import Optional, Tuple

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import tensorflow_recommenders as tfrs

from export import partitioned_kmeans
from export import row_buffer

# Up to this many candidates every leaf is searched: the index is exact.
SEARCH_ALL_LEAVES_UP_TO = 20_000
# A leaf holds at most this many times the mean leaf size: the blocks hold
# at most this many times the corpus.
LEAF_CAPACITY_SLACK = 1.1
# Leaves per square root of the corpus size.
LEAVES_PER_SQRT_N = 2
# Beyond SEARCH_ALL_LEAVES_UP_TO, leaves searched per square root of the
# leaves, for recall@100 against exact top-100 of at least 0.95. On a
# trained item model's embeddings of 1M catalog items (D=64, queries from
# eval histories) 59 of 2000 leaves gave 0.93 and 100 gave 0.957: 2.3 x
# sqrt(L) searches 103 of 2000, 57k rows per query. (The raw synthetic
# vectors needed only about sqrt(L): trained embeddings spread wider.)
SEARCHED_PER_SQRT_LEAVES = 2.3
# Searched leaves hold at least this many times k rows.
MIN_ROWS_PER_RESULT = 4


@dataclasses.dataclass(frozen=True)
class PartitionedParameters:
  """How the leaves are built and searched."""
  num_leaves: int
  leaves_to_search: int

  @classmethod
  def for_corpus(cls, num_candidates: int, k: int,
                 num_leaves: Optional[int] = None,
                 leaves_to_search: Optional[int] = None
                 ) -> "PartitionedParameters":
    """Parameters for a corpus size; each given value overrides its default.

    L = ``LEAVES_PER_SQRT_N`` x sqrt(N) leaves (at most N); all searched up
    to ``SEARCH_ALL_LEAVES_UP_TO`` candidates (exact), beyond that
    ``SEARCHED_PER_SQRT_LEAVES`` x sqrt(L) of them (the recall target), and
    never fewer than hold ``MIN_ROWS_PER_RESULT`` x k candidates.
    """
    if num_candidates < 1:
      raise ValueError("The candidate corpus is empty: nothing to index.")
    leaves = num_leaves or max(1, min(
        num_candidates, round(LEAVES_PER_SQRT_N * math.sqrt(num_candidates))))
    if leaves_to_search is None:
      if num_candidates <= SEARCH_ALL_LEAVES_UP_TO:
        leaves_to_search = leaves
      else:
        mean_leaf = num_candidates / leaves
        leaves_to_search = max(math.ceil(SEARCHED_PER_SQRT_LEAVES *
                                         math.sqrt(leaves)),
                               math.ceil(MIN_ROWS_PER_RESULT * k / mean_leaf))
    if leaves < 1 or leaves_to_search < 1:
      raise ValueError(f"num_leaves ({leaves}) and leaves_to_search "
                       f"({leaves_to_search}) must be positive.")
    return cls(num_leaves=min(leaves, num_candidates),
               leaves_to_search=min(leaves_to_search, leaves))


class PartitionedIndex(tfrs.layers.factorized_top_k.TopK):
  """Inverted-file top-k retrieval by dot product, in core TensorFlow ops.

  Call: queries float32 [B, D] -> (scores float32 [B, k'], ids [B, k']),
  best first, with k' = min(k, leaves searched x ``leaf_rows``); ids are the
  candidates' identifiers (string) or, indexed without them, row numbers
  (int32). Should the searched leaves hold fewer than k candidates, the
  remaining results are padding: id "" (or -1) with the lowest float32
  score.

  Attributes (once indexed):
    parameters: The leaves built (empty ones dropped) and searched.
    leaf_rows: Rows of each leaf's block, its largest leaf.
    num_candidates: N.
  """

  def __init__(self, k: int = 100,
               parameters: Optional[PartitionedParameters] = None,
               kmeans_iterations: int = 10, kmeans_sample_size: int = 100_000,
               seed: int = 0, name: Optional[str] = None):
    """Initializes an empty index.

    Args:
      k: The default number of results.
      parameters: Leaves to build and search; by default
        ``PartitionedParameters.for_corpus`` of the indexed corpus and k.
      kmeans_iterations: Lloyd iterations of the k-means.
      kmeans_sample_size: Rows the k-means trains on, at most.
      seed: Seeds the k-means.
      name: Layer name.
    """
    super().__init__(k=k, name=name)
    self._requested = parameters
    self._kmeans_iterations = kmeans_iterations
    self._kmeans_sample_size = kmeans_sample_size
    self._seed = seed
    self._centroids = None
    self._blocks = None
    self._leaf_sizes = None
    self._identifiers = None
    self.parameters: Optional[PartitionedParameters] = None
    self.leaf_rows = 0
    self.num_candidates = 0

  def index(self, candidates: tf.Tensor,
            identifiers: Optional[tf.Tensor] = None) -> "PartitionedIndex":
    """Indexes a whole corpus at once: embeddings [N, D], ids [N]."""
    row_buffer.check_corpus(candidates, identifiers)
    buffer = row_buffer.RowBuffer()
    if candidates.shape[0]:
      buffer.append(np.asarray(candidates, np.float32))
    return self._build(buffer, identifiers)

  def index_from_dataset(self,
                         candidates: tf.data.Dataset) -> "PartitionedIndex":
    """Indexes a dataset of (ids [b], embeddings [b, D]) or embeddings [b, D].

    Batches are copied into one buffer as they arrive; the index equals
    ``index`` over their concatenation.
    """
    buffer, identifiers = row_buffer.read_batches(candidates)
    return self._build(buffer, identifiers)

  def call(self, queries: tf.Tensor, k: Optional[int] = None,
           leaves_to_search: Optional[int] = None
           ) -> Tuple[tf.Tensor, tf.Tensor]:
    """Top-k of queries [B, D]; ``leaves_to_search`` overrides the built one."""
    if self._blocks is None:
      raise ValueError("Index candidates first: call index() or "
                       "index_from_dataset().")
    if len(queries.shape) != 2:
      raise ValueError(
          f"Queries must be [batch, dim] embeddings, got {queries.shape}.")
    k = self._k if k is None else k
    probed = min(leaves_to_search or self.parameters.leaves_to_search,
                 self.parameters.num_leaves)
    rows = self.leaf_rows
    queries = tf.cast(queries, tf.float32)
    batch = tf.shape(queries)[0]
    centroid_scores = tf.linalg.matmul(queries, self._centroids,
                                       transpose_b=True)           # [B, L]
    _, leaves = tf.math.top_k(centroid_scores, k=probed, sorted=False)
    blocks = tf.gather(self._blocks, leaves)                       # [B, P, R, D]
    scores = tf.linalg.matvec(
        tf.reshape(blocks, [batch, probed * rows, -1]), queries)   # [B, P * R]
    filled = tf.sequence_mask(tf.gather(self._leaf_sizes, leaves), rows)
    scores = tf.where(tf.reshape(filled, [batch, probed * rows]), scores,
                      scores.dtype.min)
    top_scores, positions = tf.math.top_k(scores, k=min(k, probed * rows))
    slots = (tf.gather(leaves, positions // rows, batch_dims=1) * rows
             + positions % rows)                                   # [B, k']
    return top_scores, tf.gather(self._identifiers, slots)

  def is_exact(self) -> bool:
    return False

  def _build(self, buffer: row_buffer.RowBuffer,
             identifiers: Optional[tf.Tensor]) -> "PartitionedIndex":
    """Trains the leaves over the buffer's rows and stores them as blocks."""
    num_candidates = buffer.rows
    if num_candidates == 0:
      raise ValueError("The candidate corpus is empty: nothing to index.")
    if self._k > num_candidates:
      raise ValueError(f"k={self._k} exceeds the {num_candidates} "
                       "candidates.")
    embeddings = buffer.as_array()
    requested = self._requested or PartitionedParameters.for_corpus(
        num_candidates, self._k)
    num_leaves = min(requested.num_leaves, num_candidates)
    capacity = math.ceil(LEAF_CAPACITY_SLACK * num_candidates / num_leaves)
    logging.info("Building a partitioned index of %d candidates (%d dims): "
                 "%d leaves of at most %d.", num_candidates,
                 embeddings.shape[1], num_leaves, capacity)
    partitions = partitioned_kmeans.train_partitions(
        embeddings, num_leaves, capacity, self._kmeans_iterations,
        self._kmeans_sample_size, self._seed)
    sizes = partitions.leaf_sizes()
    rows = int(sizes.max())
    # Candidates leaf by leaf; slot = leaf * rows + position in its leaf.
    order = np.argsort(partitions.assignment, kind="stable")
    leaf_of_row = partitions.assignment[order].astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slots = leaf_of_row * rows + np.arange(num_candidates) - starts[
        leaf_of_row]
    source = np.full(partitions.num_leaves * rows, num_candidates, np.int64)
    source[slots] = order  # Padding slots point one past the last row.
    blocks = np.zeros((partitions.num_leaves * rows, embeddings.shape[1]),
                      np.float32)
    blocks[slots] = embeddings[order]
    if identifiers is None:
      identifiers = tf.range(num_candidates)
      padding_id = tf.constant([-1], identifiers.dtype)
    else:
      padding_id = tf.zeros([1], identifiers.dtype)
    self._centroids = tf.Variable(partitions.centroids, trainable=False,
                                  name="centroids")
    self._blocks = tf.Variable(
        blocks.reshape(partitions.num_leaves, rows, -1), trainable=False,
        name="blocks")
    self._leaf_sizes = tf.Variable(sizes.astype(np.int32), trainable=False,
                                   name="leaf_sizes")
    self._identifiers = tf.Variable(
        tf.gather(tf.concat([identifiers, padding_id], 0), source),
        trainable=False, name="identifiers")
    self.parameters = PartitionedParameters(
        num_leaves=partitions.num_leaves,
        leaves_to_search=min(requested.leaves_to_search,
                             partitions.num_leaves))
    self.leaf_rows = rows
    self.num_candidates = num_candidates
    self._reset_tf_function_cache()
    return self

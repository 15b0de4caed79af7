"""A partitioned (inverted-file) top-k index searched with core TF ops only.

A stock ``tensorflow_model_server`` has no ScaNN ops; this index needs none.
Building it (``PartitionedIndex.index``) trains balanced leaves with
``export.partitioned_kmeans`` and stores the corpus leaf by leaf: each leaf
one contiguous block of D + 1 rows of ``leaf_rows`` floats, dimension by
dimension (row d holds coordinate d of the leaf's candidates, the last row
0 for a candidate and the lowest float for a padding slot). A query:

1. estimates each leaf's best score from its centroid and two numbers
   (``Partitions.estimate_best_scores``): [B, D] x [L, D] -> [B, L];
2. keeps its ``leaves_to_search`` best leaves: [B, P];
3. scores the candidates of every (query, leaf) pair exactly, as one sparse
   [B * P, L * (D + 1)] by dense [L * (D + 1), leaf_rows] product whose
   pair row holds the query's coordinates (and 1) at its leaf's rows: each
   leaf block is read where it lies, never copied, and pairs are ordered
   by leaf so that queries of a batch sharing a leaf read it once from
   memory: [B * P, leaf_rows];
4. keeps the best k of each query in two exact steps: the k best chunks of
   ``SCORE_CHUNK_ROWS`` scores by their maximum hold the k best scores;
5. returns the top k: (scores [B, k], ids [B, k]), best first.

Every op is a stock TensorFlow kernel (MatMul, TopKV2,
SparseTensorDenseMatMul, GatherV2, ...), so the SavedModel loads in any TF
Serving. Searching every leaf is exact: it scores the whole corpus.

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
# leaves, for recall@100 against exact top-100 of at least 0.95 with a
# margin on the embeddings of more than one trained model (the serving
# benchmark's recall/latency sweep shows where it sits).
SEARCHED_PER_SQRT_LEAVES = 2.7
# Searched leaves hold at least this many times k rows.
MIN_ROWS_PER_RESULT = 4
# Scores are ranked in chunks of this many rows of a leaf (step 4); leaf
# blocks are a whole number of chunks wide.
SCORE_CHUNK_ROWS = 8
# The (query, leaf) pairs of a search are scored in this many sparse
# products: one product runs on one core, TensorFlow runs several at once.
SCAN_SHARDS = 4


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
    leaf_rows: Candidate slots of each leaf's block: its largest leaf,
      rounded up to a whole number of ``SCORE_CHUNK_ROWS``.
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
    self._alignments = None
    self._spreads = None
    self._blocks = None
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
    """Top-k of queries [B, D], or of query sets [B, H, D] by max-sim.

    A query set is one user's H vectors, whose score for a candidate is the
    best of its H dot products (``tfrs_adcg.user_vectors``). Its vectors
    share the leaves searched: the ``leaves_to_search`` leaves of the best
    estimated score of any of them. Vectors that point the same way (a
    user's interests are seldom far apart) then read each leaf once, and a
    candidate is ranked once, by its best score. ``leaves_to_search``
    overrides the built number.
    """
    if self._blocks is None:
      raise ValueError("Index candidates first: call index() or "
                       "index_from_dataset().")
    if len(queries.shape) not in (2, 3):
      raise ValueError("Queries must be [batch, dim] embeddings or [batch, "
                       f"vectors, dim] sets of them, got {queries.shape}.")
    k = self._k if k is None else k
    probed = min(leaves_to_search or self.parameters.leaves_to_search,
                 self.parameters.num_leaves)
    queries = tf.cast(queries, tf.float32)
    if len(queries.shape) == 2:
      queries = queries[:, tf.newaxis]
    leaves = self._best_leaves(queries, probed)                    # [B, P]
    scores, rank = self._pair_scores(queries, leaves)
    top_scores, slots = self._top_k(scores, rank, leaves, k)
    return top_scores, tf.gather(self._identifiers, slots)

  def is_exact(self) -> bool:
    return False

  def _best_leaves(self, queries: tf.Tensor, probed: int) -> tf.Tensor:
    """int32 [B, P]: the leaves of the best estimated scores of query sets
    [B, H, D] (the best over a set's vectors), unordered."""
    along = tf.reshape(tf.linalg.matmul(
        tf.reshape(queries, [-1, queries.shape[-1]]), self._centroids,
        transpose_b=True), [tf.shape(queries)[0], tf.shape(queries)[1],
                            -1])                                   # [B, H, L]
    across = tf.sqrt(tf.maximum(
        tf.reduce_sum(tf.square(queries), axis=2, keepdims=True)
        - tf.square(along), 0.0))
    estimates = tf.reduce_max(along * self._alignments
                              + across * self._spreads, axis=1)   # [B, L]
    return tf.math.top_k(estimates, k=probed, sorted=False)[1]

  def _pair_scores(self, queries: tf.Tensor,
                   leaves: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Exact max-sim scores of the candidates of every (query set, leaf) pair.

    Each vector of a set scores the set's leaves: one scan row per (vector,
    pair), rows ordered by leaf so that the rows sharing a leaf read it once
    from memory. A stable order keeps a pair's H rows adjacent (a set
    searches a leaf once), so their best is a reduction over H neighbours.

    Args:
      queries: float32 [B, H, D].
      leaves: int32 [B, P], pair i = b * P + p searches leaves[b, p].

    Returns:
      (scores float32 [B * P, leaf_rows], rank int32 [B * P]): pair i's best
      scores over its set's H vectors are row rank[i]; rows are in leaf
      order.
    """
    batch, vectors = tf.shape(queries)[0], tf.shape(queries)[1]
    probed = tf.shape(leaves)[1]
    # Row j = (b * H + h) * P + p scores leaves[b, p] for vector h of set b.
    row_leaves = tf.reshape(tf.repeat(leaves, vectors, axis=0), [-1])
    order = tf.argsort(row_leaves, stable=True)               # [B * H * P]
    extended = tf.reshape(tf.concat(
        [queries, tf.ones([batch, vectors, 1])], axis=2),
        [-1, queries.shape[-1] + 1])                           # [B * H, W]
    num_rows = tf.size(order)
    cuts = [num_rows * shard // SCAN_SHARDS
            for shard in range(SCAN_SHARDS + 1)]
    scores = tf.concat([
        self._scan(tf.gather(extended, order[start:end] // probed),
                   tf.gather(row_leaves, order[start:end]))
        for start, end in zip(cuts, cuts[1:])], axis=0)        # [B*H*P, R]
    first_rows = order[::vectors]                              # [B * P]
    pairs = (first_rows // (vectors * probed)) * probed + first_rows % probed
    if queries.shape[1] != 1:
      scores = tf.reduce_max(
          tf.reshape(scores, [-1, vectors, self.leaf_rows]), axis=1)
    return scores, tf.math.invert_permutation(pairs)

  def _scan(self, queries: tf.Tensor, leaves: tf.Tensor) -> tf.Tensor:
    """float32 [n, R]: scores of leaves[i]'s slots for queries[i] [n, W]."""
    width = queries.shape[1]
    count = tf.shape(leaves, out_type=tf.int64)[0]
    # Row i of the sparse matrix holds queries[i] at its leaf's W rows.
    first = tf.stack([tf.range(count),
                      tf.cast(leaves, tf.int64) * width], axis=1)  # [n, 2]
    columns = tf.stack([tf.zeros([width], tf.int64),
                        tf.range(width, dtype=tf.int64)], axis=1)  # [W, 2]
    pairs = tf.sparse.SparseTensor(
        indices=tf.reshape(first[:, tf.newaxis] + columns, [-1, 2]),
        values=tf.reshape(queries, [-1]),
        dense_shape=tf.stack([count,
                              tf.shape(self._blocks, out_type=tf.int64)[0]]))
    return tf.sparse.sparse_dense_matmul(pairs, self._blocks)

  def _top_k(self, scores: tf.Tensor, rank: tf.Tensor, leaves: tf.Tensor,
             k: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """Each query's k best of its pairs' scores, exactly, best first.

    A leaf's R slots form R / C chunks of C = ``SCORE_CHUNK_ROWS``, chunk j
    holding slots j, j + R / C, j + 2R / C, ... The k best scores lie in
    the k chunks of highest maximum (a chunk whose maximum reaches the k-th
    best score holds one of the k best), so ranking chunk maxima, then the
    scores of the chosen chunks, spares a heap sort of every score.

    Args:
      scores: float32 [B * P, R], pair i's scores in row rank[i].
      rank: int32 [B * P].
      leaves: int32 [B, P].
      k: Results wanted.

    Returns:
      (scores float32 [B, k'], slots int32 [B, k']), a slot being
      leaf x R + row.
    """
    batch, probed = tf.shape(leaves)[0], leaves.shape[1]
    rows = self.leaf_rows
    per_leaf = rows // SCORE_CHUNK_ROWS
    maxima = tf.reduce_max(
        tf.reshape(scores, [-1, SCORE_CHUNK_ROWS, per_leaf]), axis=1)
    maxima = tf.reshape(tf.gather(maxima, rank), [batch, probed * per_leaf])
    _, chunks = tf.math.top_k(maxima, k=min(k, probed * per_leaf),
                              sorted=False)                        # [B, c]
    probe, chunk = chunks // per_leaf, chunks % per_leaf
    chunk_rows = (chunk[:, :, tf.newaxis] +
                  per_leaf * tf.range(SCORE_CHUNK_ROWS))           # [B, c, C]
    score_rows = tf.gather(rank, probe + probed * tf.range(batch)[:, tf.newaxis])
    candidates = tf.gather(tf.reshape(scores, [-1]),
                           score_rows[:, :, tf.newaxis] * rows + chunk_rows)
    slots = (tf.gather(leaves, probe, batch_dims=1)[:, :, tf.newaxis] * rows
             + chunk_rows)                                         # [B, c, C]
    top_scores, positions = tf.math.top_k(
        tf.reshape(candidates, [batch, -1]), k=min(k, probed * rows))
    return top_scores, tf.gather(tf.reshape(slots, [batch, -1]), positions,
                                 batch_dims=1)

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
    dim = embeddings.shape[1]
    requested = self._requested or PartitionedParameters.for_corpus(
        num_candidates, self._k)
    num_leaves = min(requested.num_leaves, num_candidates)
    capacity = math.ceil(LEAF_CAPACITY_SLACK * num_candidates / num_leaves)
    logging.info("Building a partitioned index of %d candidates (%d dims): "
                 "%d leaves of at most %d.", num_candidates, dim, num_leaves,
                 capacity)
    partitions = partitioned_kmeans.train_partitions(
        embeddings, num_leaves, capacity, self._kmeans_iterations,
        self._kmeans_sample_size, self._seed)
    sizes = partitions.leaf_sizes()
    rows = SCORE_CHUNK_ROWS * math.ceil(sizes.max() / SCORE_CHUNK_ROWS)
    # Candidates leaf by leaf; slot = leaf * rows + position in its leaf.
    order = np.argsort(partitions.assignment, kind="stable")
    leaf_of_row = partitions.assignment[order].astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(num_candidates) - starts[leaf_of_row]
    source = np.full(partitions.num_leaves * rows, num_candidates, np.int64)
    source[leaf_of_row * rows + position] = order  # Padding: one past the end.
    blocks = np.zeros((partitions.num_leaves, dim + 1, rows), np.float32)
    blocks[leaf_of_row, :dim, position] = embeddings[order]
    blocks[:, dim, :] = np.where(np.arange(rows) < sizes[:, np.newaxis], 0,
                                 np.finfo(np.float32).min)
    if identifiers is None:
      identifiers = tf.range(num_candidates)
      padding_id = tf.constant([-1], identifiers.dtype)
    else:
      padding_id = tf.zeros([1], identifiers.dtype)
    self._centroids = tf.Variable(partitions.centroids, trainable=False,
                                  name="centroids")
    self._alignments = tf.Variable(partitions.alignments, trainable=False,
                                   name="alignments")
    self._spreads = tf.Variable(partitions.spreads, trainable=False,
                                name="spreads")
    self._blocks = tf.Variable(blocks.reshape(-1, rows), trainable=False,
                               name="blocks")
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

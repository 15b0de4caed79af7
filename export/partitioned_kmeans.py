"""Balanced spherical k-means: the leaves of the partitioned index.

A query of the partitioned index (``export.partitioned_index``) scores the
leaf centroids, then scans the candidates of its best leaves; every leaf is
stored as one fixed-size block of ``capacity`` rows, so a leaf larger than
the rest would pad every other block. ``train_partitions`` therefore caps
each leaf at ``capacity`` candidates:

1. Spherical k-means (centroids of unit length, assignment by the largest
   dot product, as queries will pick leaves) on a seeded sample of at most
   ``sample_size`` rows, ``iterations`` Lloyd steps. A centroid left
   without points restarts at the sample point its centroid serves worst.
2. Every candidate proposes its best leaf that still has room; a leaf takes
   the proposals with the highest scores up to its remaining capacity, the
   rest propose their next best open leaf, until every candidate is placed.
   Only candidates on the border of a crowded leaf move, to a neighbour.
3. Each centroid becomes the normalised mean of the candidates it was given,
   so it describes the leaf a query will scan; leaves given nothing are
   dropped.
4. Two numbers per leaf let a query estimate the best score the leaf holds
   without scanning it (``Partitions.estimate_best_scores``): a candidate x
   of a leaf with centroid c scores q.x = (q.c)(x.c) + q'.x' with q', x'
   the parts orthogonal to c. ``alignments`` is the leaf's mean x.c;
   ``spreads`` bounds the best q'.x' of its n candidates per unit of |q'|,
   as the expected maximum of n Gaussian draws: sqrt(2 ln n) times the
   spread of x' along one direction, rms|x'| / sqrt(D - 1). A wide leaf far
   from the query can hold better candidates than a tight one nearer to it;
   ranking leaves by the estimate rather than by q.c reaches the same
   recall with fewer of them.

The same embeddings and seed give the same partitions.
"""

import dataclasses

import numpy as np

_ASSIGN_CHUNK_ROWS = 32_768


@dataclasses.dataclass(frozen=True)
class Partitions:
  """Leaves of a corpus of N candidates.

  Attributes:
    centroids: float32 [L, D], unit length (zero for an all-zero leaf).
    assignment: int32 [N], the leaf of each candidate, in [0, L).
    alignments: float32 [L], each leaf's mean x.c over its candidates x.
    spreads: float32 [L], each leaf's expected best score orthogonal to its
      centroid per unit of the query's orthogonal norm.
  """
  centroids: np.ndarray
  assignment: np.ndarray
  alignments: np.ndarray
  spreads: np.ndarray

  @property
  def num_leaves(self) -> int:
    return len(self.centroids)

  def leaf_sizes(self) -> np.ndarray:
    """int64 [L]: how many candidates each leaf holds."""
    return np.bincount(self.assignment, minlength=self.num_leaves)

  def estimate_best_scores(self, queries: np.ndarray) -> np.ndarray:
    """float32 [B, L]: each leaf's estimated best score for queries [B, D].

    (q.c) x alignment + |q'| x spread, with |q'|^2 = |q|^2 - (q.c)^2; the
    partitioned index computes the same in TensorFlow.
    """
    along = queries @ self.centroids.T
    across = np.sqrt(np.maximum(
        np.sum(queries**2, axis=1, keepdims=True) - along**2, 0))
    return along * self.alignments + across * self.spreads


def _normalized(vectors: np.ndarray) -> np.ndarray:
  norms = np.linalg.norm(vectors, axis=1, keepdims=True)
  return vectors / np.where(norms > 0, norms, 1)


def _leaf_sums(vectors: np.ndarray, leaves: np.ndarray,
               num_leaves: int) -> np.ndarray:
  """float32 [L, D]: the sum of the rows of ``vectors`` [n, D] in each leaf."""
  return np.stack([np.bincount(leaves, weights=column, minlength=num_leaves)
                   for column in vectors.T], axis=1).astype(np.float32)


def _best_leaves(embeddings: np.ndarray, centroids: np.ndarray,
                 open_leaves: np.ndarray) -> tuple:
  """Each row's best open leaf and its score: (int64 [n], float32 [n])."""
  leaves = np.empty(len(embeddings), np.int64)
  scores = np.empty(len(embeddings), np.float32)
  penalty = np.where(open_leaves, 0, -np.inf).astype(np.float32)
  for start in range(0, len(embeddings), _ASSIGN_CHUNK_ROWS):
    chunk = embeddings[start:start + _ASSIGN_CHUNK_ROWS] @ centroids.T
    chunk += penalty
    best = np.argmax(chunk, axis=1)
    leaves[start:start + len(best)] = best
    scores[start:start + len(best)] = chunk[np.arange(len(best)), best]
  return leaves, scores


def _leaf_statistics(embeddings: np.ndarray, centroids: np.ndarray,
                     assignment: np.ndarray) -> tuple:
  """(alignments [L], spreads [L]) float32 of the leaves; see the module."""
  num_leaves, dim = centroids.shape
  sizes = np.bincount(assignment, minlength=num_leaves)
  along = np.concatenate([
      np.einsum("nd,nd->n", embeddings[start:start + _ASSIGN_CHUNK_ROWS],
                centroids[assignment[start:start + _ASSIGN_CHUNK_ROWS]])
      for start in range(0, len(embeddings), _ASSIGN_CHUNK_ROWS)])
  across_squared = np.maximum(np.einsum("nd,nd->n", embeddings, embeddings)
                              - along**2, 0)
  alignments = np.bincount(assignment, weights=along,
                           minlength=num_leaves) / sizes
  rms_across = np.sqrt(np.bincount(assignment, weights=across_squared,
                                   minlength=num_leaves) / sizes)
  extreme = np.sqrt(2 * np.log(np.maximum(sizes, 2)))
  spreads = extreme * rms_across / np.sqrt(max(dim - 1, 1))
  return alignments.astype(np.float32), spreads.astype(np.float32)


def _kmeans(sample: np.ndarray, num_leaves: int, iterations: int,
            rng: np.random.Generator) -> np.ndarray:
  """Spherical k-means centroids float32 [L, D] of ``sample`` [n, D]."""
  centroids = _normalized(sample[rng.choice(len(sample), num_leaves,
                                            replace=False)])
  every_leaf = np.ones(num_leaves, bool)
  for _ in range(iterations):
    leaves, scores = _best_leaves(sample, centroids, every_leaf)
    sums = _leaf_sums(sample, leaves, num_leaves)
    empty = np.flatnonzero(np.bincount(leaves, minlength=num_leaves) == 0)
    if len(empty):
      worst = np.argsort(scores, kind="stable")[:len(empty)]
      sums[empty] = sample[worst]
    centroids = _normalized(sums)
  return centroids


def _balanced_assignment(embeddings: np.ndarray, centroids: np.ndarray,
                         capacity: int) -> np.ndarray:
  """int32 [N]: each row's leaf, at most ``capacity`` rows a leaf."""
  num_leaves = len(centroids)
  assignment = np.full(len(embeddings), -1, np.int32)
  room = np.full(num_leaves, capacity, np.int64)
  waiting = np.arange(len(embeddings))
  while len(waiting):
    leaves, scores = _best_leaves(embeddings[waiting], centroids, room > 0)
    # Within each leaf, the proposals with the highest scores come first.
    order = np.lexsort((-scores, leaves))
    leaves, proposers = leaves[order], waiting[order]
    first_of_leaf = np.searchsorted(leaves, leaves, side="left")
    rank = np.arange(len(leaves)) - first_of_leaf
    accepted = rank < room[leaves]
    assignment[proposers[accepted]] = leaves[accepted]
    room -= np.bincount(leaves[accepted], minlength=num_leaves)
    waiting = np.sort(proposers[~accepted])
  return assignment


def train_partitions(embeddings: np.ndarray, num_leaves: int, capacity: int,
                     iterations: int = 10, sample_size: int = 100_000,
                     seed: int = 0) -> Partitions:
  """Partitions ``embeddings`` into leaves of at most ``capacity`` rows.

  Args:
    embeddings: float32 [N, D], N >= 1.
    num_leaves: Leaves to train, 1 <= num_leaves <= N.
    capacity: Most candidates a leaf may hold; num_leaves * capacity >= N.
    iterations: Lloyd iterations of the k-means on the sample.
    sample_size: Rows of the k-means sample (the whole corpus if smaller;
      at least ``num_leaves``).
    seed: Seeds the sample and the initial centroids.

  Returns:
    The non-empty leaves: at most ``num_leaves`` centroids and each row's
    leaf among them.
  """
  embeddings = np.asarray(embeddings, np.float32)
  num_rows = len(embeddings)
  if not 1 <= num_leaves <= num_rows:
    raise ValueError(f"num_leaves must be in [1, {num_rows}] for {num_rows} "
                     f"candidates, got {num_leaves}.")
  if num_leaves * capacity < num_rows:
    raise ValueError(f"{num_leaves} leaves of {capacity} rows cannot hold "
                     f"{num_rows} candidates.")
  rng = np.random.default_rng(seed)
  sample = embeddings
  sample_size = max(sample_size, num_leaves)
  if num_rows > sample_size:
    sample = embeddings[np.sort(rng.choice(num_rows, sample_size,
                                           replace=False))]
  centroids = _kmeans(sample, num_leaves, iterations, rng)
  assignment = _balanced_assignment(embeddings, centroids, capacity)
  sizes = np.bincount(assignment, minlength=num_leaves)
  kept = np.flatnonzero(sizes > 0)
  sums = _leaf_sums(embeddings, assignment, num_leaves)
  renumbered = np.full(num_leaves, -1, np.int32)
  renumbered[kept] = np.arange(len(kept), dtype=np.int32)
  centroids = _normalized(sums[kept])
  assignment = renumbered[assignment]
  alignments, spreads = _leaf_statistics(embeddings, centroids, assignment)
  return Partitions(centroids=centroids, assignment=assignment,
                    alignments=alignments, spreads=spreads)

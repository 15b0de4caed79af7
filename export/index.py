"""The retrieval index over the candidate corpus.

* ``scann``: TFRS's ScaNN layer; needs a server with ScaNN's ops.
* ``partitioned``: an inverted-file index in core TensorFlow ops
  (``export.partitioned_index``); loads in a stock TF Serving.
* ``brute_force``: exact scoring of the whole corpus, core ops too.

All are TFRS ``factorized_top_k`` layers, so a serving graph calls each the
same way: ``scores, ids = index(query_embeddings, k=k)``. The tree and
reordering parameters follow from the corpus size unless given.
"""

import dataclasses
import math
from typing import Optional

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import tensorflow_recommenders as tfrs

from export import partitioned_index

INDEX_KINDS = ("scann", "brute_force", "partitioned")

# Up to this many candidates ScaNN searches every leaf: exact up to its
# quantization, which the reordering pass then removes.
_SEARCH_ALL_LEAVES_UP_TO = 20_000


@dataclasses.dataclass(frozen=True)
class ScannParameters:
  """How the ScaNN tree is built and searched."""
  num_leaves: int
  num_leaves_to_search: int
  num_reordering_candidates: int

  @classmethod
  def for_corpus(cls, num_candidates: int, k: int,
                 num_leaves: Optional[int] = None,
                 num_leaves_to_search: Optional[int] = None,
                 num_reordering_candidates: Optional[int] = None
                 ) -> "ScannParameters":
    """Parameters for a corpus size; each given value overrides its default.

    About sqrt(N) leaves; all of them searched for small corpora, a fifth
    (at least 64) for large ones; then an exact re-scoring of the best
    max(25k, 2500) partial results. At 1M candidates, D=64, k=100 that is
    200 of 1000 leaves and 2500 re-scored: the asymmetric-hashing scores
    are coarse enough that the re-scored pool, more than the leaves, sets
    recall (the serving benchmark measures it, docs/benchmarks.md).
    """
    leaves = num_leaves or max(1, min(4000, round(math.sqrt(num_candidates))))
    if num_leaves_to_search is None:
      if num_candidates <= _SEARCH_ALL_LEAVES_UP_TO:
        num_leaves_to_search = leaves
      else:
        num_leaves_to_search = min(leaves, max(64, math.ceil(leaves / 5)))
    reorder = num_reordering_candidates or max(25 * k, 2500)
    return cls(num_leaves=leaves,
               num_leaves_to_search=min(num_leaves_to_search, leaves),
               num_reordering_candidates=min(reorder, num_candidates))


def build_index(
    kind: str, candidate_ids: tf.Tensor, candidate_embeddings: tf.Tensor,
    k: int, scann: Optional[ScannParameters] = None,
    partitioned: Optional[partitioned_index.PartitionedParameters] = None
) -> tfrs.layers.factorized_top_k.TopK:
  """Indexes the corpus for top-k retrieval.

  Args:
    kind: One of ``INDEX_KINDS``.
    candidate_ids: String ids, shape [N].
    candidate_embeddings: Float embeddings, shape [N, D], row i for id i.
    k: The default number of results; at most N.
    scann: ScaNN parameters; by default chosen from N and k.
    partitioned: Partitioned-index parameters; by default chosen from N
      and k.

  Returns:
    A layer mapping query embeddings [B, D] to (scores [B, k], ids [B, k]).
  """
  if kind not in INDEX_KINDS:
    raise ValueError(f"Unknown index {kind!r}; choose one of {INDEX_KINDS}.")
  num_candidates = int(candidate_embeddings.shape[0])
  if num_candidates == 0:
    raise ValueError("The candidate corpus is empty: nothing to index.")
  if k > num_candidates:
    raise ValueError(f"k={k} exceeds the {num_candidates} candidates.")
  if kind == "partitioned":
    return partitioned_index.PartitionedIndex(
        k=k, parameters=partitioned, name="partitioned").index(
            candidate_embeddings, candidate_ids)
  if kind == "brute_force":
    index = tfrs.layers.factorized_top_k.BruteForce(k=k, name="brute_force")
  else:
    scann = scann or ScannParameters.for_corpus(num_candidates, k)
    index = tfrs.layers.factorized_top_k.ScaNN(
        k=k,
        num_leaves=scann.num_leaves,
        num_leaves_to_search=scann.num_leaves_to_search,
        num_reordering_candidates=scann.num_reordering_candidates,
        name="scann")
  return index.index(candidate_embeddings, candidate_ids)

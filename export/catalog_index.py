"""A ScaNN index built from a stream of batches, up to a large item catalog.

``export.savedmodel`` builds every ScaNN index here, from the model's corpus
streamed through its candidate tower.

``tfrs.layers.factorized_top_k.ScaNN.index_from_dataset`` lists every batch
of the dataset, then concatenates them: at its peak it holds the corpus twice
before ScaNN makes its own copy. ``StreamedScaNN`` copies each batch into one
growing float32 buffer instead (64-byte aligned: TensorFlow borrows only
aligned memory), lends that buffer to ScaNN without a copy, frees it once
ScaNN has built its searcher, and searches and saves exactly as TFRS's layer
does (the same ``Scann`` ops and state). benchmarks/item_index_bench.py
measures both.

    catalog = item_catalog.read_item_catalog("items.parquet").map(
        pretrained_item_embeddings)
    index = StreamedScaNN(k=100).index_from_dataset(catalog)
    scores, item_ids = index(user_embeddings)  # [B, 100] each, best first.

The layer drops into ``export.serving_module.ServingModule``; a SavedModel
holding it is saved with ``namespace_whitelist=["Scann"]``.

The catalog, Parquet or TFRecord, is streamed a batch at a time by
``tfrs_adcg.item_catalog.read_item_catalog`` (see that module for why
Parquet goes through pyarrow rather than tensorflow-io).

Toward a billion items. An index of N items of D dims holds N * D * 4 bytes
of float32 vectors (for the exact reordering pass) plus the asymmetric-
hashing codes (N * D / (2 * dimensions_per_block) bytes, 4 bits a block)
plus the ids; a served one holds vectors and codes twice (the SavedModel's
variables and the searcher ScaNN recreates from them), and building one
peaks at about four times the vectors (the buffer, ScaNN's copy, its
training scratch). At 10^9 items of D = 64 the vectors alone are 256 GB, so
the corpus is sharded: partitions of the catalog (by advertiser group, so
that a catalog update rebuilds one shard and an advertiser filter skips
shards; or by hash of the item id, for even sizes) each get their own index,
built by this module from their own Parquet files and served as their own
model on their own servers. A query fans out to every shard with the same
user embedding; dot products against one query compare across shards, so a
merger keeps the K best of the S * K results. Int8 reordering
(``reorder(..., quantize=INT8)``) quarters the vectors' memory for a little
recall.
"""

import dataclasses
import logging
import uuid
from typing import Any, Dict, Optional, Tuple

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
import tensorflow_recommenders as tfrs
from scann import scann_ops

from export import index as index_lib
from export import row_buffer
from tfrs_adcg import schema


def pretrained_item_embeddings(features: Dict[str, tf.Tensor]
                               ) -> Tuple[tf.Tensor, tf.Tensor]:
  """(ids [b], L2-normalised pretrained embeddings [b, D]) of a catalog batch.

  Pretrained vectors as they are, without an item tower: a catalog indexed
  before (or instead of) training an item model, as the index benchmark does.
  """
  return (features[schema.CATALOG_ITEM_ID],
          tf.math.l2_normalize(features[schema.CATALOG_EMBEDDING], axis=1))



class StreamedScaNN(tfrs.layers.factorized_top_k.TopK):
  """ScaNN top-k retrieval whose index is built from a stream of batches.

  Call: queries float32 [B, D] -> (scores float32 [B, k], ids [B, k]), best
  first; ids are the candidates' identifiers (string) or, indexed without
  them, row numbers (int32). An approximate search may return fewer than k
  columns.

  Tree, asymmetric hashing and reordering follow
  ``export.index.ScannParameters.for_corpus`` for the indexed corpus size,
  unless ``scann`` gives them; with the same parameters the index equals
  ``export.index.build_index("scann", ...)`` over the same corpus.
  """

  def __init__(self, k: int = 100,
               scann: Optional[index_lib.ScannParameters] = None,
               dimensions_per_block: int = 2, training_iterations: int = 12,
               name: Optional[str] = None):
    """Initializes an empty index.

    Args:
      k: The default number of results.
      scann: Tree and reordering parameters; by default chosen from the
        corpus size and k when indexing.
      dimensions_per_block: Dimensions per asymmetric-hashing block.
      training_iterations: k-means iterations of the tree.
      name: Layer name.
    """
    super().__init__(k=k, name=name)
    self._scann = scann
    self._dimensions_per_block = dimensions_per_block
    self._training_iterations = training_iterations
    self._searcher_state = None
    self._identifiers = None
    self.parameters: Optional[index_lib.ScannParameters] = None
    self.num_candidates = 0

  def get_config(self) -> Dict[str, Any]:
    """The constructor's arguments, JSON-serialisable (the index is state)."""
    return {"k": self._k,
            "scann": dataclasses.asdict(self._scann) if self._scann else None,
            "dimensions_per_block": self._dimensions_per_block,
            "training_iterations": self._training_iterations,
            "name": self.name}

  @classmethod
  def from_config(cls, config: Dict[str, Any]) -> "StreamedScaNN":
    scann = config.get("scann")
    return cls(**dict(config, scann=index_lib.ScannParameters(**scann)
                      if scann else None))

  def index(self, candidates: tf.Tensor,
            identifiers: Optional[tf.Tensor] = None) -> "StreamedScaNN":
    """Indexes a whole corpus at once: embeddings [N, D], ids [N]."""
    row_buffer.check_corpus(candidates, identifiers)
    searcher = self._build_searcher(tf.convert_to_tensor(candidates,
                                                         tf.float32))
    return self._adopt(searcher, identifiers)

  def index_from_dataset(self,
                         candidates: tf.data.Dataset) -> "StreamedScaNN":
    """Indexes a dataset of (ids [b], embeddings [b, D]) or embeddings [b, D].

    Each batch is copied into one growing buffer as it arrives; ScaNN builds
    from that buffer in place, which is freed before the searcher is saved.
    """
    buffer, identifiers = row_buffer.read_batches(candidates)
    # The tensor lent to ScaNN dies with the call; then the buffer can go.
    searcher = self._build_searcher(buffer.as_tensor())
    del buffer
    return self._adopt(searcher, identifiers)

  def call(self, queries: tf.Tensor,
           k: Optional[int] = None) -> Tuple[tf.Tensor, tf.Tensor]:
    if self._searcher_state is None:
      raise ValueError("Index candidates first: call index() or "
                       "index_from_dataset().")
    if len(queries.shape) != 2:
      raise ValueError(
          f"Queries must be [batch, dim] embeddings, got {queries.shape}.")
    searcher = scann_ops.searcher_from_module(self._searcher_state)
    result = searcher.search_batched_parallel(
        queries, final_num_neighbors=k if k is not None else self._k)
    if self._identifiers is None:
      return result.distances, result.indices
    return result.distances, tf.gather(self._identifiers, result.indices)

  def is_exact(self) -> bool:
    return False

  def _build_searcher(self, embeddings: tf.Tensor):
    """ScaNN's searcher over embeddings [N, D]; sets ``parameters``."""
    num_candidates = int(embeddings.shape[0])
    if num_candidates == 0:
      raise ValueError("The candidate catalog is empty: nothing to index.")
    if self._k > num_candidates:
      raise ValueError(f"k={self._k} exceeds the {num_candidates} "
                       "candidates.")
    self.parameters = self._scann or index_lib.ScannParameters.for_corpus(
        num_candidates, self._k)
    self.num_candidates = num_candidates
    logging.debug("Building a ScaNN index of %d candidates (%d dims): %s.",
                 num_candidates, embeddings.shape[1], self.parameters)
    builder = scann_ops.builder(embeddings, self._k, "dot_product").tree(
        num_leaves=self.parameters.num_leaves,
        num_leaves_to_search=self.parameters.num_leaves_to_search,
        training_iterations=self._training_iterations).score_ah(
            self._dimensions_per_block).reorder(
                self.parameters.num_reordering_candidates)
    return builder.build(shared_name=f"{self.name}/{uuid.uuid4()}")

  def _adopt(self, searcher,
             identifiers: Optional[tf.Tensor]) -> "StreamedScaNN":
    """Keeps the searcher's saveable state and the ids; frees the searcher.

    Calls search a searcher recreated from the state, as a reloaded
    SavedModel does; the built one would otherwise stay in TensorFlow's
    resource manager under its unique name, a copy of the corpus for good.
    """
    self._searcher_state = searcher.serialize_to_module()
    tf.raw_ops.DestroyResourceOp(resource=searcher.searcher_handle)
    self._identifiers = None if identifiers is None else tf.Variable(
        identifiers, trainable=False, name="identifiers")
    self._reset_tf_function_cache()
    return self


def index_catalog(candidates: tf.data.Dataset, k: int,
                  scann: Optional[index_lib.ScannParameters] = None
                  ) -> StreamedScaNN:
  """``StreamedScaNN`` over a dataset of (ids [b], embeddings [b, D])."""
  return StreamedScaNN(k=k, scann=scann,
                       name="scann").index_from_dataset(candidates)

"""Candidate embeddings gathered batch by batch into one aligned float32 array.

Both streamed indexes (``catalog_index.StreamedScaNN`` and
``partitioned_index.PartitionedIndex``) read an item catalog as a dataset of
(ids [b], embeddings [b, D]) batches. Listing the batches and concatenating
them would hold the corpus twice; ``RowBuffer`` copies each batch into one
growing array instead, 64-byte aligned so that TensorFlow can borrow it
without a copy (``as_tensor``).
"""

import logging
from typing import Optional, Tuple

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

# TensorFlow refuses (aborts on) borrowed buffers not aligned to this (Eigen).
_ALIGNMENT_BYTES = 64
_LOG_EVERY_ROWS = 250_000


def _aligned_empty(rows: int, dim: int) -> np.ndarray:
  """An uninitialised float32 [rows, dim] array on a 64-byte boundary.

  Untouched pages of a large allocation take no memory until written, so a
  generous capacity costs address space only.
  """
  raw = np.empty(rows * dim * 4 + _ALIGNMENT_BYTES, dtype=np.uint8)
  start = -raw.ctypes.data % _ALIGNMENT_BYTES
  return raw[start:start + rows * dim * 4].view(np.float32).reshape(rows, dim)


class RowBuffer:
  """Float32 embedding rows appended batch by batch into one aligned array.

  Capacity doubles when full; ``as_tensor`` lends the rows to TensorFlow
  without copying them.
  """

  def __init__(self):
    self._array = None
    self.rows = 0

  def append(self, batch: np.ndarray) -> None:
    """Appends float [b, D] rows; refuses other dims, NaN and infinity."""
    if batch.ndim != 2 or not np.issubdtype(batch.dtype, np.floating):
      raise ValueError("Candidate embeddings must come as float [batch, dim] "
                       f"batches; got {batch.dtype} of shape {batch.shape}.")
    if self._array is None:
      self._array = _aligned_empty(2 * len(batch), batch.shape[1])
    elif batch.shape[1] != self._array.shape[1]:
      raise ValueError(
          f"Inconsistent embedding dims: the candidates from row {self.rows} "
          f"on have {batch.shape[1]} dims, those before "
          f"{self._array.shape[1]}.")
    if not np.isfinite(batch).all():
      row = self.rows + int(np.flatnonzero(~np.isfinite(batch).all(1))[0])
      raise ValueError(f"Candidate embedding {row} holds NaN or infinity.")
    end = self.rows + len(batch)
    if end > len(self._array):
      grown = _aligned_empty(max(end, 2 * len(self._array)),
                             self._array.shape[1])
      grown[:self.rows] = self._array[:self.rows]
      self._array = grown
    self._array[self.rows:end] = batch
    self.rows = end

  def as_array(self) -> np.ndarray:
    """The rows so far, float32 [rows, dim], a view of this memory."""
    return self._array[:self.rows]

  def as_tensor(self) -> tf.Tensor:
    """The rows so far as a float32 [rows, dim] tensor sharing this memory."""
    return tf.experimental.dlpack.from_dlpack(self.as_array().__dlpack__())


def check_corpus(candidates: tf.Tensor,
                 identifiers: Optional[tf.Tensor]) -> None:
  """Raises ValueError unless candidates are [N, D] with N identifiers."""
  if len(candidates.shape) != 2:
    raise ValueError(
        f"Candidates must be [N, dim] embeddings, got {candidates.shape}.")
  if identifiers is not None and (identifiers.shape[0] !=
                                  candidates.shape[0]):
    raise ValueError(f"{identifiers.shape[0]} identifiers for "
                     f"{candidates.shape[0]} candidates.")


def read_batches(candidates: tf.data.Dataset
                 ) -> Tuple[RowBuffer, Optional[tf.Tensor]]:
  """Reads (ids [b], embeddings [b, D]) or embeddings [b, D] batches.

  Returns:
    The embeddings in one buffer, and the ids concatenated, tf.string [N]
    (None for a dataset of embeddings alone).

  Raises:
    ValueError: for other elements, ids that do not match their batch, or
      no rows at all.
  """
  spec = candidates.element_spec
  with_ids = isinstance(spec, tuple)
  if with_ids and len(spec) != 2:
    raise ValueError("Candidates must be (ids, embeddings) pairs or "
                     f"embeddings alone; got elements of {spec}.")
  buffer = RowBuffer()
  id_batches = []
  logged = 0
  for element in candidates:
    ids, embeddings = element if with_ids else (None, element)
    buffer.append(embeddings.numpy())
    if with_ids:
      if ids.shape != embeddings.shape[:1]:
        raise ValueError(f"A batch of {embeddings.shape[0]} embeddings "
                         f"came with ids of shape {ids.shape}.")
      id_batches.append(ids)
    if buffer.rows - logged >= _LOG_EVERY_ROWS:
      logged = buffer.rows
      logging.info("Read %d candidates.", buffer.rows)
  if not buffer.rows:
    raise ValueError("The candidate catalog is empty: nothing to index.")
  return buffer, tf.concat(id_batches, axis=0) if with_ids else None

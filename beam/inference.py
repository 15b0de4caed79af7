"""An exported candidate SavedModel as a model handler of Beam's RunInference.

Beam's ``TFModelHandlerTensor`` loads Keras models and stacks equally shaped
tensors; the exported model (``export.savedmodel``) is a ``tf.Module`` whose
``serving_default`` signature takes four ``[batch, events]`` tensors padded
to one length. ``CandidateModelHandler`` bridges the two: RunInference loads
the model once per worker through its shared handle and hands over batches of
user histories, which the handler pads into one signature call.

    handler = CandidateModelHandler(ModelInfo.read(version_dir), top_k=100)
    (user_id, history) pairs | RunInference(KeyedModelHandler(handler))
      -> (user_id, PredictionResult(history, Candidates(ids, scores), version))
"""

import atexit
import dataclasses
import logging
import time
import weakref
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence

from apache_beam.ml.inference import base

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from beam import events
from export import export_info
from export import savedmodel
from export import serving_module
from tfrs_adcg import schema
from tfrs_adcg import timestamps

_LOGGER = logging.getLogger(__name__)

SCANN = "scann"

# A user's history: events oldest first, as ``event_log.ReadEvents`` gives them.
History = Sequence[events.Event]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What the pipeline needs to know about an exported version.

  Attributes:
    path: The version directory (local or any filesystem TF knows, gs://).
    version: Its version number.
    index: ``scann`` or ``brute_force``.
    k: Candidates the model returns per user.
    max_seq_len: Events the user tower looks at (the latest ones).
    task: What the candidates are: ``schema.ADVERTISER_TASK`` or
      ``schema.ITEM_TASK``.
  """
  path: str
  version: int
  index: str
  k: int
  max_seq_len: int
  task: str = schema.ADVERTISER_TASK

  @classmethod
  def read(cls, version_dir: str) -> "ModelInfo":
    """Reads ``export_info.json`` of a version exported by export.savedmodel,
    having checked that its SavedModel is complete.

    Raises:
      ValueError: if ``version_dir`` is no such version, or its SavedModel
        is incomplete (``savedmodel.check_saved_model``).
      FileNotFoundError: if it is a SavedModel without export info.
    """
    savedmodel.check_saved_model(version_dir)
    info = export_info.ExportInfo.read(version_dir)
    return cls(path=version_dir, version=info.version, index=info.index,
               k=info.k, max_seq_len=info.max_seq_len, task=info.task)


class Candidates(NamedTuple):
  """One user's top candidates, best first."""
  ids: List[str]
  scores: List[float]


def model_inputs(histories: Sequence[History]) -> Dict[str, tf.Tensor]:
  """The ``serving_default`` inputs of a batch of histories.

  Args:
    histories: B histories, each a sequence of ``events.Event`` tuples
      (their times epoch seconds or ``timestamps.Instant``).

  Returns:
    The four sequence features as [B, T] tensors, T the longest history,
    shorter histories padded after their events with ``schema.STRING_PAD``
    and ``schema.INT_PAD``; times in epoch milliseconds.
  """
  length = max((len(history) for history in histories), default=0)
  columns: Dict[str, List[List[Any]]] = {
      name: [] for name in schema.SEQUENCE_FEATURES}
  string_padding = [schema.STRING_PAD] * length
  for history in histories:
    missing = length - len(history)
    if history:
      times, event_types, item_ids, advertiser_ids = zip(*history)
    else:
      times = event_types = item_ids = advertiser_ids = ()
    columns[schema.TIMESTAMP].append(
        list(map(timestamps.milliseconds, times)) + [schema.INT_PAD] * missing)
    columns[schema.EVENT_TYPE].append(
        list(event_types) + string_padding[:missing])
    columns[schema.ITEM_ID].append(list(item_ids) + string_padding[:missing])
    columns[schema.ADVERTISER_ID].append(
        list(advertiser_ids) + string_padding[:missing])
  batch = len(histories)
  tensors = {name: tf.constant(columns[name], dtype=tf.string,
                               shape=[batch, length])
             for name in schema.STRING_SEQUENCE_FEATURES}
  tensors[schema.TIMESTAMP] = tf.constant(columns[schema.TIMESTAMP],
                                          dtype=tf.int64, shape=[batch, length])
  return tensors


def _release_at_exit(model_ref: "weakref.ReferenceType[LoadedModel]") -> None:
  model = model_ref()
  if model is not None:
    model.release()


class LoadedModel:
  """A loaded SavedModel and its ``serving_default`` function.

  Holds the loaded object: its signature functions need it alive. Beam's
  shared handle may keep the model until the interpreter shuts down, when
  TensorFlow can no longer free functions cleanly; so it is released at
  exit, while TensorFlow is still whole.
  """

  def __init__(self, info: ModelInfo):
    if info.index == SCANN:
      # Registers ScaNN's TF ops, which the graph's index uses.
      from scann.scann_ops.py import scann_ops  # pylint: disable=g-import-not-at-top,unused-import

    started = time.time()
    self.saved_model = tf.saved_model.load(info.path)
    self.serving_default = self.saved_model.signatures[
        serving_module.SERVING_DEFAULT]
    _LOGGER.info("Loaded model version %d (%s, k=%d) from %s in %.1fs.",
                 info.version, info.index, info.k, info.path,
                 time.time() - started)
    atexit.register(_release_at_exit, weakref.ref(self))

  def release(self) -> None:
    """Drops the SavedModel; the model cannot be called afterwards."""
    self.saved_model = None
    self.serving_default = None

  def __call__(self, histories: Sequence[History]
               ) -> Dict[str, tf.Tensor]:
    return self.serving_default(**model_inputs(histories))


class CandidateModelHandler(base.ModelHandler[History, base.PredictionResult,
                                              LoadedModel]):
  """Runs batches of user histories through an exported version.

  Each prediction is a ``PredictionResult`` whose inference is the user's
  ``Candidates``: the model's top ``top_k``, without the empty ids an
  approximate index pads with when it finds fewer than k.

  Args:
    info: The exported version.
    top_k: Candidates kept per user, at most ``info.k``.
    batch_size: Users per model call.
  """

  def __init__(self, info: ModelInfo, top_k: int, batch_size: int):
    super().__init__()
    if not 1 <= top_k <= info.k:
      raise ValueError(f"top_k must be between 1 and the model's k={info.k} "
                       f"({info.path}), got {top_k}.")
    if batch_size < 1:
      raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    self._info = info
    self._top_k = top_k
    self._batch_size = batch_size

  def load_model(self) -> LoadedModel:
    return LoadedModel(self._info)

  def run_inference(
      self, batch: Sequence[History], model: LoadedModel,
      inference_args: Optional[Dict[str, Any]] = None
  ) -> Iterable[base.PredictionResult]:
    outputs = model(batch)
    # Python lists at once: bytes ids, and the float32 scores as floats.
    ids = outputs[serving_module.CANDIDATE_IDS][:, :self._top_k].numpy()
    scores = outputs[serving_module.SCORES][:, :self._top_k].numpy()
    model_id = str(self._info.version)
    for history, user_ids, user_scores in zip(batch, ids.tolist(),
                                              scores.tolist()):
      if b"" in user_ids:
        user_scores = [score for candidate, score
                       in zip(user_ids, user_scores) if candidate]
        user_ids = [candidate for candidate in user_ids if candidate]
      candidates = Candidates(ids=list(map(bytes.decode, user_ids)),
                              scores=user_scores)
      yield base.PredictionResult(history, candidates, model_id)

  def get_metrics_namespace(self) -> str:
    return "BatchCandidates"

  def batch_elements_kwargs(self) -> Dict[str, int]:
    return {"min_batch_size": self._batch_size,
            "max_batch_size": self._batch_size}

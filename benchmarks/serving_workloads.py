"""The corpora and queries the serving benchmark measures indexes on.

A ``Workload`` is one corpus size: candidate ids and embeddings, the user
vectors that query them, the directory of the trained model whose user
tower is served and the advertisers its timed requests are made of. With a
trained item model the corpus is what that model really produces (a
synthetic catalog of the size through its item tower) and the queries are
its eval histories through its user tower; without one, clustered unit
vectors stand in for both, a fallback whose recall says little about
trained embeddings. The benchmark makes each workload in one process and
measures it in others: a workload is saved to and loaded from one file.
"""

import dataclasses
import glob
import os
from typing import Dict, List, Optional

import numpy as np

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order

from benchmarks import item_index_bench
from tfrs_adcg import item_catalog
from tfrs_adcg import model as model_lib
from tfrs_adcg import schema
from tfrs_adcg import vocabulary
from tfrs_adcg.config import TrainConfig

EVAL_QUERIES = 500
SYNTHETIC_CLUSTERS = "synthetic clusters"
# Blurred enough that searching fewer leaves costs recall (at 0.6 a few
# leaves find everything); 2 is close to uniform.
SYNTHETIC_SPREAD = 1.0
TRAINED_ITEMS = "trained item tower over the synthetic catalog"


def clustered_unit_vectors(size: int, dim: int, seed: int,
                           clusters: int = 256,
                           spread: float = 0.6) -> np.ndarray:
  """Unit vectors float32 [size, dim] scattered around fixed random centres
  (embeddings cluster).

  The centres are the same for every call with the same ``dim``; ``seed``
  draws the points, so corpus and queries share one distribution. A larger
  ``spread`` blurs the clusters (about 2: nearly uniform, the hard case).
  """
  centres = np.random.default_rng(dim).normal(
      size=(clusters, dim)).astype(np.float32)
  rng = np.random.default_rng(seed)
  points = centres[rng.integers(clusters, size=size)]
  points += spread * rng.normal(size=(size, dim)).astype(np.float32)
  points /= np.linalg.norm(points, axis=1, keepdims=True)
  return points


def eval_queries(trained, data_dir: str,
                 count: int = EVAL_QUERIES) -> np.ndarray:
  """User vectors float32 [count, H, D] of the eval histories of
  ``data_dir``, the model's data (H = 1 for a model of one vector per
  user)."""
  files = sorted(glob.glob(schema.split_pattern(data_dir, schema.EVAL)))
  if not files:
    raise FileNotFoundError(f"No eval split in {data_dir!r}, the "
                            "data the model was trained on.")
  records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(
      count).batch(count)
  parsed = tf.io.parse_example(next(iter(records)), schema.feature_spec())
  batch = {name: parsed[name].to_tensor(schema.STRING_PAD)
           for name in schema.STRING_SEQUENCE_FEATURES}
  batch[schema.TIMESTAMP] = parsed[schema.TIMESTAMP].to_tensor(
      schema.INT_PAD)
  embeddings = trained.user_tower(batch, training=False).numpy()
  return embeddings if embeddings.ndim == 3 else embeddings[:, np.newaxis]


def trained_item_embeddings(item_model_dir: str, size: int, work_dir: str
                            ) -> Dict[str, np.ndarray]:
  """A trained item model's embeddings of a synthetic catalog of ``size``.

  Writes a synthetic catalog of ``size`` items (pretrained vectors of the
  model's width) into ``work_dir`` and streams it through the model's item
  tower, as ``export.savedmodel`` indexes a catalog.

  Returns:
    {"ids": bytes [size], "embeddings": float32 [size, D]}.
  """
  trained = model_lib.load_trained(item_model_dir)
  if not trained.spec.item_task:
    raise ValueError(f"{item_model_dir!r} holds an advertiser-level model; "
                     "--item_model_dir needs one trained with --task item.")
  dim = 0
  if trained.spec.pretrained:
    dim = int(item_catalog.read_item_catalog(
        trained.candidates.path).element_spec[
            schema.CATALOG_EMBEDDING].shape[1])
  path = item_index_bench.write_catalog(
      os.path.join(work_dir, f"catalog-{size}"), size, dim)
  ids, embeddings = trained.corpus_embeddings(path)
  return {"ids": ids.numpy(), "embeddings": embeddings.numpy()}


@dataclasses.dataclass
class Workload:
  """What one corpus size is measured on.

  It goes from the process that makes it to the processes that measure it
  as one ``.npz`` file (``save``, ``load``).
  """
  source: str  # TRAINED_ITEMS or SYNTHETIC_CLUSTERS.
  model_dir: str  # The model whose user tower is served.
  ids: np.ndarray  # bytes [N].
  embeddings: np.ndarray  # float32 [N, D].
  queries: np.ndarray  # User vectors float32 [Q, H, D].
  advertisers: List[str]  # What the timed requests' events are made of.

  def save(self, path: str) -> str:
    """Writes the workload to ``path`` (an uncompressed .npz); returns it."""
    with open(path, "wb") as f:
      np.savez(f, source=np.array(self.source),
               model_dir=np.array(self.model_dir),
               ids=self.ids.astype(bytes), embeddings=self.embeddings,
               queries=self.queries, advertisers=np.array(self.advertisers))
    return path

  @classmethod
  def load(cls, path: str) -> "Workload":
    """The workload ``save`` wrote to ``path``."""
    with np.load(path) as arrays:
      return cls(source=str(arrays["source"]),
                 model_dir=str(arrays["model_dir"]), ids=arrays["ids"],
                 embeddings=arrays["embeddings"], queries=arrays["queries"],
                 advertisers=arrays["advertisers"].tolist())


def workload(model_dir: str, item_model_dir: Optional[str], size: int,
             work_dir: str) -> Workload:
  """The workload of ``size`` candidates: trained item embeddings of a
  synthetic catalog (written into ``work_dir``) and eval queries with
  ``item_model_dir``, synthetic clusters served by ``model_dir``'s user
  tower without."""
  if item_model_dir:
    trained = model_lib.load_trained(item_model_dir)
    advertisers = vocabulary.read_vocabularies(os.path.join(
        item_model_dir, model_lib.ASSETS_DIR)).advertiser_ids[:50]
    corpus = trained_item_embeddings(item_model_dir, size, work_dir)
    return Workload(
        TRAINED_ITEMS, item_model_dir, corpus["ids"], corpus["embeddings"],
        eval_queries(trained, TrainConfig.load(item_model_dir).data),
        advertisers)
  trained = model_lib.load_trained(model_dir)
  dim = int(trained.candidate_embeddings().shape[1])
  return Workload(
      SYNTHETIC_CLUSTERS, model_dir,
      np.array([f"c{i}".encode() for i in range(size)]),
      clustered_unit_vectors(size, dim, seed=size, spread=SYNTHETIC_SPREAD),
      clustered_unit_vectors(EVAL_QUERIES, dim, seed=size + 1,
                             spread=SYNTHETIC_SPREAD)[:, np.newaxis],
      [s.decode() for s in trained.candidate_ids().numpy()])

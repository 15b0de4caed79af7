"""The two-tower retrieval model and its log-Q corrected in-batch softmax.

Each training pair is (a user's history, one advertiser they converted with
next). The task scores every user of a batch against every pair's positive
advertiser; the other positives of the batch are the negatives. Popular
advertisers show up as negatives more often than rare ones, which would push
the model towards rare advertisers; the log-Q correction subtracts
``log(probability of being sampled)`` from each candidate's logit, so a more
popular candidate's logit goes down by more, and the softmax approximates one
over the whole corpus.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrs_adcg import schema
from tfrs_adcg import checkpoints
from tfrs_adcg.candidate_tower import CandidateTower
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.user_tower import UserTower
from tfrs_adcg.vocabulary import Vocabularies, read_vocabularies

ASSETS_DIR = "assets"


class RetrievalModel(tfrs.Model):
  """A user tower and a candidate tower trained with ``tfrs.tasks.Retrieval``.

  Attributes:
    config: The ``TrainConfig`` the model was built from.
    user_tower: Raw padded event tensors [B, T] -> [B, D] (see ``UserTower``).
    candidate_tower: Advertiser ids [N] -> [N, D] (see ``CandidateTower``).

  Training input: ``(history, positive_ids)`` with history a dict of [B, L]
  ``SEQUENCE_FEATURES`` and positive_ids tf.string [B].
  """

  def __init__(self, config: TrainConfig, vocabularies: Vocabularies):
    super().__init__()
    self.config = config
    self._candidate_ids = vocabularies.candidate_ids()
    self.advertiser_embedding = IdEmbedding(
        self._candidate_ids, config.num_oov_buckets, config.embedding_dim,
        name="advertiser_embedding")
    self.user_tower = UserTower(config, vocabularies,
                                self.advertiser_embedding, name="user_tower")
    self.candidate_tower = CandidateTower(config, vocabularies,
                                          self.advertiser_embedding,
                                          name="candidate_tower")
    self.sampling_probabilities = self.add_weight(
        name="sampling_probabilities",
        shape=[self.advertiser_embedding.num_rows],
        initializer=tf.constant_initializer(
            _sampling_probabilities(vocabularies, self.advertiser_embedding)),
        trainable=False)
    self.task = tfrs.tasks.Retrieval(
        temperature=config.temperature, remove_accidental_hits=True)

  def candidate_ids(self) -> tf.Tensor:
    """The candidate corpus, tf.string [N]."""
    return tf.constant(self._candidate_ids)

  def candidate_embeddings(self) -> tf.Tensor:
    """The corpus through the candidate tower, float32 [N, D]."""
    return self.candidate_tower(self.candidate_ids(), training=False)

  def sampling_probability(self, advertiser_ids: tf.Tensor) -> tf.Tensor:
    """Each id's probability of being a training positive: [N] -> [N]."""
    return tf.gather(self.sampling_probabilities,
                     self.advertiser_embedding.lookup(advertiser_ids))

  def retrieval_loss(self, user_embeddings: tf.Tensor,
                     positive_embeddings: tf.Tensor,
                     positive_ids: tf.Tensor,
                     sample_weight: tf.Tensor = None) -> tf.Tensor:
    """The in-batch softmax loss, summed over the batch.

    Args:
      user_embeddings: [B, D] queries.
      positive_embeddings: [B, D]; row i is the positive of query i and a
        negative of every other query.
      positive_ids: tf.string [B] ids of the positives: a negative with the
        same id as the row's positive is removed (accidental hit), and with
        ``config.logq`` its sampling probability corrects its logit.
      sample_weight: Optional [B] weights of the rows.

    Returns:
      The scalar loss.
    """
    probability = (self.sampling_probability(positive_ids)
                   if self.config.logq else None)
    return self.task(
        user_embeddings, positive_embeddings,
        sample_weight=sample_weight,
        candidate_sampling_probability=probability,
        candidate_ids=positive_ids,
        compute_metrics=False,
        compute_batch_metrics=False)

  def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
    history, positive_ids = inputs
    return self.retrieval_loss(
        self.user_tower(history, training=training),
        self.candidate_tower(positive_ids, training=training),
        positive_ids)

  def build_towers(self) -> None:
    """Creates every variable by running both towers once."""
    empty_history = {
        name: tf.fill([1, 1], schema.INT_PAD if name == schema.TIMESTAMP
                      else schema.STRING_PAD)
        for name in schema.SEQUENCE_FEATURES
    }
    empty_history[schema.TIMESTAMP] = tf.cast(empty_history[schema.TIMESTAMP],
                                              tf.int64)
    self.user_tower(empty_history)
    self.candidate_embeddings()


def _sampling_probabilities(vocabularies: Vocabularies,
                            advertiser_embedding: IdEmbedding) -> np.ndarray:
  """[R] probabilities aligned with the advertiser lookup's rows.

  Rows without training positives (padding, hash buckets, advertisers never
  converted with) get the smallest observed probability.
  """
  floor = min(p for p in vocabularies.probabilities.values() if p > 0)
  table = np.full([advertiser_embedding.num_rows], floor, np.float32)
  first = advertiser_embedding.first_vocabulary_index
  for i, id_ in enumerate(vocabularies.candidate_ids()):
    table[first + i] = max(vocabularies.probabilities.get(id_, floor), floor)
  return table


def load_trained(model_dir: str) -> RetrievalModel:
  """Rebuilds a trained model from its model directory.

  Reads ``model_dir/config.json`` and the vocabulary files in
  ``model_dir/assets/``, and restores the weights of the best validation
  epoch (the last epoch's if none was validated).

  Raises:
    FileNotFoundError: if the directory holds no trained model.
  """
  config = TrainConfig.load(model_dir)
  model = RetrievalModel(
      config, read_vocabularies(os.path.join(model_dir, ASSETS_DIR)))
  model.build_towers()
  checkpoints.restore_weights(model, model_dir)
  return model

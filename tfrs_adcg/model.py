"""The two-tower retrieval model and its log-Q corrected sampled softmax.

Each training pair is (a user's history, one candidate they converted with
next): an advertiser, or with ``config.task == "item"`` an item, embedded by
the ``ItemTower`` from its catalog content. The task scores every user of a
batch against the batch's candidate columns (``negatives``): every pair's
positive, and with mixed negatives uniform corpus samples, or with full
negatives the whole corpus. Popular candidates show up as in-batch
negatives more often than rare ones, which would push the model towards
rare candidates; the log-Q correction subtracts ``log(probability of being
sampled)`` from each column's logit, so a more popular candidate's logit
goes down by more, and the softmax approximates one over the whole corpus.
"""

import os
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrs_adcg import schema
from tfrs_adcg import checkpoints
from tfrs_adcg import item_catalog
from tfrs_adcg import item_content as item_content_lib
from tfrs_adcg import negatives
from tfrs_adcg.candidate_tower import CandidateTower
from tfrs_adcg.config import DENSE, TrainConfig
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.item_tower import HistoryItemEmbedding
from tfrs_adcg.item_tower import ItemTower
from tfrs_adcg.user_tower import UserTower
from tfrs_adcg.vocabulary import Vocabularies, read_vocabularies

ASSETS_DIR = "assets"


class RetrievalModel(tfrs.Model):
  """A user tower and a candidate tower trained with ``tfrs.tasks.Retrieval``.

  Attributes:
    config: The ``TrainConfig`` the model was built from.
    user_tower: Raw padded event tensors [B, T] -> [B, D] (see ``UserTower``).
    candidate_tower: Advertiser ids [N] -> [N, D] (see ``CandidateTower``);
      for the item task, item content -> [N, D] (see ``ItemTower``).
    item_content: Item task only: training item ids [N] -> their content,
      the input of the item tower (see ``item_content.ItemContentLookup``).

  Training input: ``(history, positive_ids, example_labels)`` with history a
  dict of [B, L] ``SEQUENCE_FEATURES``, positive_ids tf.string [B] and
  example_labels tf.string [B, W], every label of the pair's example padded
  with "" (see ``data.training_dataset``). The negatives are
  ``config.negatives`` (see ``negatives``).
  """

  def __init__(self, config: TrainConfig, vocabularies: Vocabularies,
               item_content: Optional[ItemContent] = None):
    """Builds the towers.

    Args:
      config: The configuration.
      vocabularies: The data's (or the model dir's) vocabularies.
      item_content: Item task only: the content of the model's items (see
        ``item_content.model_item_ids``): the items with training positives,
        and the items of the histories, which the user tower embeds with the
        item tower.
    """
    super().__init__()
    self.config = config
    if config.item_task and item_content is None:
      raise ValueError("An item-level model needs its items' content.")
    self._candidate_ids = (vocabularies.trained_candidates()
                           if config.item_task
                           else vocabularies.candidate_ids())
    self.advertiser_embedding = IdEmbedding(
        vocabularies.advertiser_corpus() if config.item_task
        else self._candidate_ids, config.num_oov_buckets,
        config.embedding_dim, name="advertiser_embedding")
    history_items = None
    if config.item_task:
      self.item_content = item_content_lib.ItemContentLookup(
          item_content, name="item_content")
      self.candidate_tower = ItemTower(
          config, item_content.select(self._candidate_ids),
          self.advertiser_embedding, name="candidate_tower")
      self._candidate_lookup = self.candidate_tower.id_lookup
      first_row = 1
      if config.history_item_ids is not False:
        history_items = HistoryItemEmbedding(
            self.item_content, self.candidate_tower, name="history_items")
    else:
      self.candidate_tower = CandidateTower(config, vocabularies,
                                            self.advertiser_embedding,
                                            name="candidate_tower")
      self._candidate_lookup = self.advertiser_embedding.lookup
      first_row = self.advertiser_embedding.first_vocabulary_index
    self.user_tower = UserTower(
        config, vocabularies, self.advertiser_embedding, history_items,
        candidate_tower=None if config.item_task else self.candidate_tower,
        name="user_tower")
    self.sampling_probabilities = self.add_weight(
        name="sampling_probabilities",
        shape=[self._candidate_lookup.vocabulary_size()],
        initializer=tf.constant_initializer(_sampling_probabilities(
            vocabularies, self._candidate_ids,
            self._candidate_lookup.vocabulary_size(), first_row)),
        trainable=False)
    self.task = tfrs.tasks.Retrieval(
        temperature=config.temperature, remove_accidental_hits=True)

  def candidate_ids(self) -> tf.Tensor:
    """The candidates of the training data, tf.string [N].

    An advertiser model's whole corpus; an item model's training items (its
    corpus is the catalog: see ``corpus``).
    """
    return tf.constant(self._candidate_ids)

  def candidate_embeddings(self) -> tf.Tensor:
    """``candidate_ids()`` through the candidate tower, float32 [N, D]."""
    return self.embed_candidates(self.candidate_ids())

  def embed_candidates(self, ids: tf.Tensor,
                       training: bool = False) -> tf.Tensor:
    """Candidate ids [N] -> [N, D]; items by their training-item content."""
    if self.config.item_task:
      return self.candidate_tower(self.item_content(ids), training=training)
    return self.candidate_tower(ids, training=training)

  def corpus(self, item_catalog_path: Optional[str] = None,
             batch_size: int = item_catalog.DEFAULT_BATCH_SIZE
             ) -> tf.data.Dataset:
    """The retrieval corpus as batches of (ids [b], embeddings [b, D]).

    An advertiser model's corpus is ``candidate_ids()``, in one batch. An
    item model's is every item of the catalog (``config.item_catalog``
    unless ``item_catalog_path`` is given), streamed through the item tower:
    items never seen in training are embedded from their content.
    """
    if not self.config.item_task:
      return tf.data.Dataset.from_tensors(
          (self.candidate_ids(), self.candidate_embeddings()))
    embed = tf.function(
        lambda features: self.candidate_tower(features, training=False),
        autograph=False)
    return item_catalog.read_item_content(
        item_catalog_path or self.config.item_catalog,
        self.config.pretrained, batch_size).map(
            lambda features: (features[schema.CATALOG_ITEM_ID],
                              embed(features)))

  def corpus_embeddings(self, item_catalog_path: Optional[str] = None
                        ) -> Tuple[tf.Tensor, tf.Tensor]:
    """The whole ``corpus``: ids tf.string [N], embeddings float32 [N, D]."""
    ids, embeddings = [], []
    for batch_ids, batch_embeddings in self.corpus(item_catalog_path):
      ids.append(batch_ids)
      embeddings.append(batch_embeddings)
    return tf.concat(ids, axis=0), tf.concat(embeddings, axis=0)

  def sampling_probability(self, candidate_ids: tf.Tensor) -> tf.Tensor:
    """Each id's probability of being a training positive: [N] -> [N]."""
    return tf.gather(self.sampling_probabilities,
                     self._candidate_lookup(candidate_ids))

  def column_ids(self, positive_ids: tf.Tensor) -> tf.Tensor:
    """The candidate columns of a batch (see ``negatives``): [B] -> [C].

    The batch's positives, then for ``negatives="mixed"`` the uniform
    corpus samples, for ``"full"`` the whole corpus.
    """
    kind = self.config.negatives
    if kind == negatives.MIXED:
      return tf.concat([positive_ids, negatives.uniform_sample(
          self.candidate_ids(), self.config.num_sampled_negatives)], axis=0)
    if kind == negatives.FULL:
      return tf.concat([positive_ids, self.candidate_ids()], axis=0)
    return positive_ids

  def retrieval_loss(self, user_embeddings: tf.Tensor,
                     column_embeddings: tf.Tensor,
                     column_ids: tf.Tensor,
                     example_labels: Optional[tf.Tensor] = None,
                     sample_weight: Optional[tf.Tensor] = None) -> tf.Tensor:
    """The sampled softmax loss of a batch, summed over its queries.

    Args:
      user_embeddings: [B, D] queries, or [B, H, D] for several vectors per
        user (a column scores its best dot product with any of the H).
      column_embeddings: [C, D], the embeddings of ``column_ids``.
      column_ids: tf.string [C] from ``column_ids``: column i < B is the
        positive of query i. A column with the same id as the row's positive
        is removed (accidental hit); with ``config.logq`` (in-batch and
        mixed negatives) each column's sampling probability corrects its
        logit.
      example_labels: Optional tf.string [B, W], all labels of each query's
        example padded with "": those columns are masked for the query.
      sample_weight: Optional [B] weights of the rows.

    Returns:
      The scalar loss.
    """
    batch_size = tf.shape(user_embeddings)[0]
    num_columns = tf.shape(column_ids)[0]
    probability = None
    if self.config.logq and self.config.negatives != negatives.FULL:
      probability = self.sampling_probability(column_ids)
      if self.config.negatives == negatives.MIXED:
        probability = negatives.mixed_sampling_probability(
            probability, tf.cast(batch_size, tf.float32),
            tf.cast(num_columns - batch_size, tf.float32),
            float(len(self._candidate_ids)))
    mask = None
    if example_labels is not None:
      mask = negatives.other_positives_mask(example_labels, column_ids)
    if self.config.negatives == negatives.FULL:
      own = negatives.own_positive_only_mask(batch_size, num_columns)
      mask = own if mask is None else tf.logical_and(mask, own)
    return self.task(
        user_embeddings, column_embeddings,
        sample_weight=sample_weight,
        candidate_sampling_probability=probability,
        candidate_ids=column_ids,
        compute_metrics=False,
        compute_batch_metrics=False,
        score_mask=mask)

  def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
    """The loss of a batch of ``data.training_dataset`` (pooled objective)
    or ``data.dense_training_dataset`` (dense)."""
    if self.config.objective == DENSE:
      queries, positive_ids, example_labels = self._dense_queries(
          *inputs, training=training)
    else:
      history, positive_ids, example_labels = inputs
      queries = self.user_tower(history, training=training)
    column_ids = self.column_ids(positive_ids)
    return self.retrieval_loss(
        queries, self.embed_candidates(column_ids, training=training),
        column_ids, example_labels)

  def _dense_queries(self, history: Dict[str, tf.Tensor],
                     positives: tf.Tensor, conversions: tf.Tensor,
                     training: bool
                     ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The positions of a dense batch that are scored, at most B of them.

    Args:
      history: [B, L] features, oldest first.
      positives: tf.string [B, L], each position's positive or "".
      conversions: tf.string [B, W], each history's conversions and labels.

    Returns:
      ``(queries [Q, D], positive ids [Q], labels to mask [Q, W])``, for Q
      positions with a positive drawn at random, Q <= B.
    """
    vectors = self.user_tower.sequence_embeddings(history, training=training)
    where = tf.random.shuffle(tf.where(positives != schema.STRING_PAD))
    where = where[:tf.shape(positives)[0]]  # [Q, 2]: (history, position).
    return (tf.gather_nd(vectors, where), tf.gather_nd(positives, where),
            tf.gather(conversions, where[:, 0]))

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
    self.embed_candidates(self.candidate_ids()[:1])


def _sampling_probabilities(vocabularies: Vocabularies,
                            candidate_ids, num_rows: int,
                            first_row: int) -> np.ndarray:
  """[R] probabilities aligned with the candidate lookup's rows.

  ``candidate_ids[i]`` is row ``first_row + i``. Rows without training
  positives (padding, hash buckets, candidates never converted with) get
  the smallest observed probability.
  """
  floor = min(p for p in vocabularies.probabilities.values() if p > 0)
  table = np.full([num_rows], floor, np.float32)
  for i, id_ in enumerate(candidate_ids):
    table[first_row + i] = max(vocabularies.probabilities.get(id_, floor),
                               floor)
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
  assets = os.path.join(model_dir, ASSETS_DIR)
  vocabularies = read_vocabularies(assets)
  item_content = None
  if config.item_task:
    item_content = item_content_lib.read_training_items(
        os.path.join(assets, item_content_lib.TRAINING_ITEMS),
        item_content_lib.model_item_ids(vocabularies.trained_candidates(),
                                        vocabularies.item_ids),
        config.pretrained)
  model = RetrievalModel(config, vocabularies, item_content)
  model.build_towers()
  checkpoints.restore_weights(model, model_dir)
  return model

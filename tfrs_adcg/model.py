"""The two-tower retrieval model and its log-Q corrected sampled softmax.

Each training pair is (a user's history, one candidate they converted with
next). ``RetrievalModel`` is one model for every task: as in TFRS and
keras-rs, it is given its towers and its candidates, and ``build`` is the one
place that picks them for ``spec.task``: advertiser ids through the
``CandidateTower``, or items through the ``ItemTower`` from their catalog
content. The task scores every user of a batch against the batch's
candidate columns (``negatives``): every pair's positive, and with mixed
negatives uniform corpus samples, or with full negatives the whole
corpus. Popular candidates show up as in-batch negatives more often than
rare ones, which would push the model towards rare candidates; the log-Q
correction subtracts ``log(probability of being sampled)`` from each
column's logit, so a more popular candidate's logit goes down by more, and
the softmax approximates one over the whole corpus.
"""

import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrs_adcg import checkpoints
from tfrs_adcg import corpus as corpus_lib
from tfrs_adcg import item_catalog
from tfrs_adcg import item_content as item_content_lib
from tfrs_adcg import negatives
from tfrs_adcg import schema
from tfrs_adcg.candidate_tower import CandidateTower
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.embedding import IdEmbedding
from tfrs_adcg.item_content import ItemContent
from tfrs_adcg.item_tower import HistoryItemEmbedding
from tfrs_adcg.item_tower import ItemTower
from tfrs_adcg.model_spec import DENSE, ModelSpec
from tfrs_adcg.user_tower import UserTower
from tfrs_adcg.vocabulary import Vocabularies, read_vocabularies

ASSETS_DIR = "assets"


class RetrievalModel(tfrs.Model):
  """A user tower and a candidate tower trained with ``tfrs.tasks.Retrieval``.

  Attributes:
    spec: The ``ModelSpec`` the model was built from.
    user_tower: Raw padded event tensors [B, T] -> [B, D] (see ``UserTower``).
    candidate_tower: The candidates' tower input -> [N, D]: advertiser ids
      (see ``CandidateTower``), or item content (see ``ItemTower``).
    candidate_features: Candidate ids [N] -> the candidate tower's input
      (for items, ``item_content.ItemContentLookup``); None when the tower
      takes ids.

  Training input: ``(history, positive_ids, example_labels)`` with history a
  dict of [B, L] ``SEQUENCE_FEATURES``, positive_ids tf.string [B] and
  example_labels tf.string [B, W], every label of the pair's example padded
  with "" (see ``data.training_dataset``). The negatives are
  ``spec.negatives`` (see ``negatives``).
  """

  def __init__(self, spec: ModelSpec, user_tower: tf.keras.Model,
               candidate_tower: tf.keras.Model,
               corpus: corpus_lib.Corpus,
               probabilities: Dict[str, float],
               candidate_features: Optional[tf.keras.layers.Layer] = None):
    """Puts the towers together.

    Args:
      spec: The architecture and the objective.
      user_tower: The user tower.
      candidate_tower: The candidate tower; its ``id_lookup`` maps candidate
        ids to the rows of the sampling probabilities.
      corpus: The candidates: the training candidates, the ids of negatives
        and, but for an item catalog, the corpus ranked.
      probabilities: Each candidate's probability of being a training
        positive, the log-Q correction (``Vocabularies.probabilities``).
      candidate_features: Candidate ids [N] -> the candidate tower's input;
        None when the tower takes ids.
    """
    super().__init__()
    self.spec = spec
    self.candidate_features = candidate_features
    self.candidate_tower = candidate_tower
    self.user_tower = user_tower
    self._corpus = corpus
    self.sampling_probabilities = self.add_weight(
        name="sampling_probabilities",
        shape=[candidate_tower.id_lookup.vocabulary_size()],
        initializer=tf.constant_initializer(_sampling_probabilities(
            probabilities, corpus.ids, candidate_tower.id_lookup)),
        trainable=False)
    self.task = tfrs.tasks.Retrieval(
        temperature=spec.temperature, remove_accidental_hits=True)

  @property
  def candidates(self) -> corpus_lib.Corpus:
    """What the model trains against and ranks (see ``corpus``)."""
    return self._corpus

  def candidate_ids(self) -> tf.Tensor:
    """The training candidates, tf.string [N].

    An advertiser model's whole corpus; an item model's training items (its
    corpus is the catalog: see ``corpus``).
    """
    return tf.constant(list(self._corpus.ids))

  def candidate_embeddings(self) -> tf.Tensor:
    """``candidate_ids()`` through the candidate tower, float32 [N, D]."""
    return self.embed_candidates(self.candidate_ids())

  def embed_candidates(self, ids: tf.Tensor,
                       training: bool = False) -> tf.Tensor:
    """Candidate ids [N] -> [N, D], through their tower input."""
    if self.candidate_features is not None:
      ids = self.candidate_features(ids)
    return self.candidate_tower(ids, training=training)

  def corpus(self, item_catalog_path: Optional[str] = None,
             batch_size: int = item_catalog.DEFAULT_BATCH_SIZE
             ) -> tf.data.Dataset:
    """The retrieval corpus as batches of (ids [b], embeddings [b, D]).

    An advertiser model's corpus is ``candidate_ids()``, in one batch. An
    item model's is every item of its catalog (or of ``item_catalog_path``),
    streamed through the item tower: items never seen in training are
    embedded from their content.
    """
    embed = tf.function(
        lambda features: self.candidate_tower(features, training=False),
        autograph=False)
    return self._corpus.batches(item_catalog_path, batch_size).map(
        lambda ids, features: (ids, embed(features)))

  def corpus_size(self, item_catalog_path: Optional[str] = None) -> int:
    """The number of candidates ``corpus`` holds."""
    return self._corpus.size(item_catalog_path)

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
                     self.candidate_tower.id_lookup(candidate_ids))

  def column_ids(self, positive_ids: tf.Tensor) -> tf.Tensor:
    """The candidate columns of a batch (see ``negatives``): [B] -> [C].

    The batch's positives, then for ``negatives="mixed"`` the uniform
    corpus samples, for ``"full"`` the whole corpus.
    """
    kind = self.spec.negatives
    if kind == negatives.MIXED:
      return tf.concat([positive_ids, negatives.uniform_sample(
          self.candidate_ids(), self.spec.num_sampled_negatives)], axis=0)
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
        is removed (accidental hit); with ``spec.logq`` (in-batch and
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
    if self.spec.logq and self.spec.negatives != negatives.FULL:
      probability = self.sampling_probability(column_ids)
      if self.spec.negatives == negatives.MIXED:
        probability = negatives.mixed_sampling_probability(
            probability, tf.cast(batch_size, tf.float32),
            tf.cast(num_columns - batch_size, tf.float32),
            float(len(self._corpus.ids)))
    mask = None
    if example_labels is not None:
      mask = negatives.other_positives_mask(example_labels, column_ids)
    if self.spec.negatives == negatives.FULL:
      own = negatives.own_positive_only_mask(batch_size, num_columns)
      mask = own if mask is None else tf.logical_and(mask, own)
    # Accidental hits compare ids B x C times: as int32 slots, not strings.
    return self.task(
        user_embeddings, column_embeddings,
        sample_weight=sample_weight,
        candidate_sampling_probability=probability,
        candidate_ids=tf.unique(column_ids).idx,
        compute_metrics=False,
        compute_batch_metrics=False,
        score_mask=mask)

  def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
    """The loss of a batch of ``data.training_dataset`` (pooled objective)
    or ``data.dense_training_dataset`` (dense)."""
    if self.spec.objective == DENSE:
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


def _sampling_probabilities(probabilities: Dict[str, float],
                            candidate_ids: Sequence[str],
                            lookup: tf.keras.layers.StringLookup
                            ) -> np.ndarray:
  """[R] probabilities aligned with the rows of the candidate lookup.

  Rows without training positives (padding, hash buckets, candidates never
  converted with) get the smallest observed probability.
  """
  floor = min(p for p in probabilities.values() if p > 0)
  table = np.full([lookup.vocabulary_size()], floor, np.float32)
  rows = lookup(tf.constant(list(candidate_ids), tf.string)).numpy()
  for row, id_ in zip(rows, candidate_ids):
    table[row] = max(probabilities.get(id_, floor), floor)
  return table


def build(spec: ModelSpec, vocabularies: Vocabularies,
          item_content: Optional[ItemContent] = None,
          item_catalog_path: Optional[str] = None) -> RetrievalModel:
  """The model of ``spec.task``, its towers and candidates picked here.

  Advertiser task: the ``CandidateTower`` of the vocabularies' advertisers,
  which are the corpus; it also gives the user tower's repeat vectors.
  Item task: the ``ItemTower``, trained against the items with training
  positives, ranking the catalog at ``item_catalog_path``; the user tower
  embeds the history's items through it. Both share the advertiser id
  embedding with the user tower.

  Args:
    spec: The model spec.
    vocabularies: The data's (or the model dir's) vocabularies.
    item_content: Item task only: the content of the model's items (see
      ``item_content.model_item_ids``): the items with training positives,
      and the items of the histories, which the user tower embeds with the
      item tower.
    item_catalog_path: Item task only: the catalog the model ranks.

  Raises:
    ValueError: for the item task without its items' content or catalog.
  """
  if not spec.item_task:
    corpus = corpus_lib.IdCorpus(vocabularies.candidate_ids())
    advertiser_embedding = IdEmbedding(
        corpus.ids, spec.num_oov_buckets, spec.embedding_dim,
        name="advertiser_embedding")
    candidate_tower = CandidateTower(spec, vocabularies, advertiser_embedding,
                                     name="candidate_tower")
    user_tower = UserTower(spec, vocabularies, advertiser_embedding,
                           candidate_tower=candidate_tower,
                           name="user_tower")
    return RetrievalModel(spec, user_tower, candidate_tower, corpus,
                          vocabularies.probabilities)
  if item_content is None or not item_catalog_path:
    raise ValueError("An item-level model needs its items' content and its "
                     "item catalog.")
  corpus = corpus_lib.CatalogCorpus(vocabularies.trained_candidates(),
                                    item_catalog_path, spec.pretrained)
  advertiser_embedding = IdEmbedding(
      vocabularies.advertiser_corpus(), spec.num_oov_buckets,
      spec.embedding_dim, name="advertiser_embedding")
  content = item_content_lib.ItemContentLookup(item_content,
                                               name="item_content")
  candidate_tower = ItemTower(spec, item_content.select(corpus.ids),
                              advertiser_embedding, name="candidate_tower")
  history_items = HistoryItemEmbedding(content, candidate_tower,
                                       name="history_items")
  user_tower = UserTower(
      spec, vocabularies, advertiser_embedding,
      history_items if spec.history_item_ids is not False else None,
      candidate_tower=history_items, candidate_feature=schema.ITEM_ID,
      name="user_tower")
  return RetrievalModel(spec, user_tower, candidate_tower, corpus,
                        vocabularies.probabilities, candidate_features=content)


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
  model = build(config.model_spec(), vocabularies,
                read_training_items(assets, config.model_spec(), vocabularies),
                config.item_catalog)
  model.build_towers()
  checkpoints.restore_weights(model, model_dir)
  return model


def read_training_items(assets: str, spec: ModelSpec,
                        vocabularies: Vocabularies) -> Optional[ItemContent]:
  """An item model's items' content, as its model dir's ``assets`` hold it
  (None for an advertiser model)."""
  if not spec.item_task:
    return None
  return item_content_lib.read_training_items(
      os.path.join(assets, item_content_lib.TRAINING_ITEMS),
      item_content_lib.model_item_ids(vocabularies.trained_candidates(),
                                      vocabularies.item_ids),
      spec.pretrained)

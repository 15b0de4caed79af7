"""Id embeddings: the index layout of the lookup and the vocabulary."""

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema
from tfrs_adcg.embedding import IdEmbedding


def test_vocabulary_follows_padding_and_hash_buckets():
  embedding = IdEmbedding(["b", "a", "c"], num_oov_buckets=3, dim=4)
  assert embedding.vocabulary == ["b", "a", "c"]
  assert embedding.num_rows == 1 + 3 + 3
  assert embedding.first_vocabulary_index == 4
  rows = embedding.lookup(tf.constant([schema.STRING_PAD, "b", "c"]))
  assert rows.numpy().tolist() == [0, 4, 6]
  assert embedding(tf.constant([["a", "unknown"]])).shape == (1, 2, 4)

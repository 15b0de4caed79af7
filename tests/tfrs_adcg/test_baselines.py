"""The baselines of each task: their rankings, cold-start items, and the
one place that picks them."""

import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import baselines
from tfrs_adcg import data
from tfrs_adcg import evaluation
from tfrs_adcg import item_catalog
from tfrs_adcg import metrics
from tfrs_adcg import schema
from tfrs_adcg.model import build
from tfrs_adcg.model_spec import ModelSpec


def histories(*rows):
  """An eval batch's advertiser histories, oldest first, padded with ""."""
  width = max(len(row) for row in rows)
  return {schema.ADVERTISER_ID: tf.constant(
      [list(row) + [schema.STRING_PAD] * (width - len(row)) for row in rows])}


def item_model():
  """What ``for_model`` reads of an item-level model: its spec."""
  return types.SimpleNamespace(spec=ModelSpec(task=schema.ITEM_TASK))


GROUPED = item_catalog.AdvertiserItems(
    items_of={"a": ["a1", "a2"], "b": ["b1"], "c": ["c1", "c2"]},
    positives={"a": 5, "b": 1, "c": 3})


def test_advertiser_baselines():
  rankers = baselines.AdvertiserBaselines(["a", "b", "c", "d"]).rankers()
  assert list(rankers) == [baselines.POPULARITY, baselines.LAST_ADVERTISER]
  batch = histories(["c", "b", "c"], ["d"])
  assert rankers[baselines.POPULARITY](batch) == [["a", "b", "c", "d"]] * 2
  assert rankers[baselines.LAST_ADVERTISER](batch) == [
      ["c", "b", "a", "d"], ["d", "a", "b", "c"]]
  assert baselines.AdvertiserBaselines.is_cold is None


def test_item_baselines_expand_advertiser_rankings_to_items():
  popular_items = ["a1", "c1", "b1"]
  item_baselines = baselines.ItemBaselines(popular_items, GROUPED)
  rankers = item_baselines.rankers()
  assert list(rankers) == [baselines.POPULARITY,
                           baselines.LAST_ADVERTISER_EXPANDED]
  batch = histories(["b", "", ""], ["c", "b"])
  assert rankers[baselines.POPULARITY](batch) == [popular_items] * 2
  # The history's advertisers newest first, then the others by popularity
  # (a, c), each expanded to its items.
  assert rankers[baselines.LAST_ADVERTISER_EXPANDED](batch) == [
      ["b1", "a1", "a2", "c1", "c2"], ["b1", "c1", "c2", "a1", "a2"]]
  assert item_baselines.is_cold("a2") and not item_baselines.is_cold("a1")
  popularity_alone = baselines.ItemBaselines(popular_items).rankers()
  assert list(popularity_alone) == [baselines.POPULARITY]


def test_item_baselines_refuse_an_advertiser_model_they_cannot_expand():
  with pytest.raises(ValueError, match="needs the catalog by advertiser"):
    baselines.ItemBaselines(["a1"], None,
                            types.SimpleNamespace(spec=ModelSpec()))
  with pytest.raises(ValueError, match="advertiser-level model; got an item"):
    baselines.ItemBaselines(["a1"], GROUPED, item_model())


def test_for_model_picks_the_baselines_of_the_task(tiny_vocabularies,
                                                   tiny_data_dir, tmp_path):
  tf.keras.utils.set_random_seed(5)
  advertiser_model = build(
      ModelSpec(max_seq_len=4, embedding_dim=8, num_heads=2, num_layers=1),
      tiny_vocabularies)
  picked = baselines.for_model(advertiser_model, tiny_vocabularies)
  assert isinstance(picked, baselines.AdvertiserBaselines)
  assert picked.rankers()[baselines.POPULARITY](histories(["a"])) == [
      tiny_vocabularies.popularity_ranking()]
  with pytest.raises(ValueError, match="for evaluating item-level models"):
    baselines.for_model(advertiser_model, tiny_vocabularies, "items.parquet")

  picked = baselines.for_model(item_model(), tiny_vocabularies)
  assert isinstance(picked, baselines.ItemBaselines)
  assert list(picked.rankers()) == [baselines.POPULARITY]
  assert picked.is_cold("d") and not picked.is_cold("a")
  catalog = str(tmp_path / "items.parquet")
  pq.write_table(pa.table({
      schema.CATALOG_ITEM_ID: ["a1", "b1"],
      schema.CATALOG_ADVERTISER_ID: ["a", "b"]}), catalog)
  picked = baselines.for_model(item_model(), tiny_vocabularies, catalog,
                               advertiser_model).rankers()
  assert list(picked) == [baselines.POPULARITY,
                          baselines.LAST_ADVERTISER_EXPANDED,
                          baselines.ADVERTISER_MODEL_EXPANDED]
  # No item of the catalog was a training positive: advertisers a, b tie.
  assert picked[baselines.LAST_ADVERTISER_EXPANDED](histories(["b"])) == [
      ["b1", "a1", "a", "b", "c"]]
  # The advertiser model's own ranking, each advertiser expanded to its item
  # and the training items after.
  batch = next(iter(data.evaluation_dataset(
      data.shard_paths(str(tiny_data_dir), schema.EVAL), max_seq_len=4)))
  advertisers = evaluation.ModelRanker(advertiser_model).embed_corpus()(batch)
  expected = [metrics.expand_to_items(ranking, {"a": ["a1"], "b": ["b1"]},
                                      tiny_vocabularies.trained_candidates())
              for ranking in advertisers]
  assert picked[baselines.ADVERTISER_MODEL_EXPANDED](batch) == expected

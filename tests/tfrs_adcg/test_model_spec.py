"""The model spec: what the towers and the model are built from."""

import dataclasses

import pytest

from tfrs_adcg import schema
from tfrs_adcg.config import RESUME_FIELDS
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model_spec import ModelSpec


def test_a_train_config_is_its_model_spec_and_more():
  config = TrainConfig(data="d", model_dir="m", max_seq_len=7, dropout=0.1,
                       num_user_vectors=2, epochs=3)
  spec = config.model_spec()
  assert type(spec) is ModelSpec  # pylint: disable=unidiomatic-typecheck
  assert (spec.max_seq_len, spec.dropout, spec.num_user_vectors) == (7, 0.1,
                                                                     2)
  assert not hasattr(spec, "data") and not hasattr(spec, "epochs")
  assert spec == ModelSpec(max_seq_len=7, dropout=0.1, num_user_vectors=2)


def test_a_run_resumes_only_with_the_same_spec():
  spec_fields = {field.name for field in dataclasses.fields(ModelSpec)}
  assert spec_fields <= set(RESUME_FIELDS)
  assert "epochs" not in RESUME_FIELDS and "model_dir" not in RESUME_FIELDS


def test_every_field_is_documented_in_its_own_class():
  spec_fields = [field.name for field in dataclasses.fields(ModelSpec)]
  config_fields = [field.name for field in dataclasses.fields(TrainConfig)
                   if field.name not in spec_fields]
  for cls, names in ((ModelSpec, spec_fields), (TrainConfig, config_fields)):
    attributes = cls.__doc__.split("Attributes:")[1]
    for name in names:
      assert f"\n    {name}: " in attributes, (cls.__name__, name)


def test_derived_values():
  assert ModelSpec(embedding_dim=8).hidden_dim == 32
  assert ModelSpec(feed_forward_dim=5).hidden_dim == 5
  assert ModelSpec(task=schema.ITEM_TASK).item_task
  assert not ModelSpec().item_task and not ModelSpec(task=None).item_task


@pytest.mark.parametrize("overrides, message", [
    ({"pooling": "max"}, "pooling"),
    ({"negatives": "hard"}, "negatives"),
    ({"num_sampled_negatives": 0}, "num_sampled_negatives"),
    ({"objective": "causal"}, "objective"),
    ({"objective": "dense", "pooling": "cls"}, "dense objective"),
    ({"embedding_dim": 30, "num_heads": 4}, "multiple of num_heads"),
    ({"num_user_vectors": 0}, "num_user_vectors"),
    ({"num_repeat_vectors": -1}, "num_repeat_vectors"),
    ({"max_seq_len": 0}, "max_seq_len"),
    ({"num_time_buckets": 1}, "num_time_buckets"),
    ({"task": "shop"}, "task must be one of"),
    ({"num_price_buckets": 1}, "num_price_buckets"),
    ({"item_id_dropout": 1.0}, "item_id_dropout"),
    ({"temperature": 0.0}, "temperature"),
])
def test_invalid_specs_are_refused(overrides, message):
  with pytest.raises(ValueError, match=message):
    ModelSpec(**overrides)


def test_the_item_task_needs_no_catalog_in_a_spec():
  # The catalog is the config's (a path); a spec of the item task is whole.
  assert ModelSpec(task=schema.ITEM_TASK).task == schema.ITEM_TASK
  with pytest.raises(ValueError, match="--item_catalog"):
    TrainConfig(data="d", model_dir="m", task=schema.ITEM_TASK)

"""A tiny hand-written data dir for the training package's unit tests.

Three training examples, one valid and two eval examples, four advertisers (``d`` only in
the catalog), written through the shared schema module as beam.preprocess
would. The session fixtures of ``tests/conftest.py`` cover real data.
"""

import json
import pathlib

import pytest

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema

T0 = 1_700_000_000

# (user, cutoff, [(timestamp, advertiser, item, event type)], labels)
TRAIN_EXAMPLES = [
    ("u1", T0 + 100, [(T0, "a", "a1", "view"), (T0 + 10, "b", "b1", "view"),
                      (T0 + 20, "b", "b1", "checkout")], ["a", "c"]),
    ("u2", T0 + 100, [(T0 + 5, "c", "", "signup")], ["a"]),
    ("u3", T0 + 100, [(T0 + 1, "a", "a2", "view")], ["b"]),
]
VALID_EXAMPLES = [
    ("u2", T0 + 150, [(T0 + 5, "c", "", "signup"),
                      (T0 + 120, "a", "a1", "view")], ["b"]),
]
EVAL_EXAMPLES = [
    ("u1", T0 + 200, [(T0 + 20, "b", "b1", "checkout"),
                      (T0 + 150, "c", "c1", "view")], ["c", "b"]),
    ("u4", T0 + 200, [(T0 + 120, "a", "a1", "view")], []),  # No positives.
]


def write_split(data_dir: pathlib.Path, split: str, examples) -> None:
  path = data_dir / f"{split}-00000-of-00001{schema.TFRECORD_SUFFIX}"
  with tf.io.TFRecordWriter(str(path), "GZIP") as writer:
    for user, cutoff, events, labels in examples:
      history = {
          schema.TIMESTAMP: [e[0] for e in events],
          schema.ADVERTISER_ID: [e[1] for e in events],
          schema.ITEM_ID: [e[2] for e in events],
          schema.EVENT_TYPE: [e[3] for e in events],
      }
      # Item labels: one item of each label advertiser.
      writer.write(schema.encode_example(user, cutoff, history, labels,
                                         [f"item-{a}" for a in labels]))


def write_tsv(path: pathlib.Path, rows) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))


@pytest.fixture
def tiny_data_dir(tmp_path) -> pathlib.Path:
  """A complete data dir with manifest, vocabularies, frequencies, catalog."""
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  write_split(data_dir, schema.TRAIN, TRAIN_EXAMPLES)
  write_split(data_dir, schema.VALID, VALID_EXAMPLES)
  write_split(data_dir, schema.EVAL, EVAL_EXAMPLES)
  write_tsv(pathlib.Path(schema.vocab_path(str(data_dir), schema.ADVERTISER_ID)),
            [("a", 3), ("b", 2), ("c", 1)])
  write_tsv(pathlib.Path(schema.vocab_path(str(data_dir), schema.ITEM_ID)),
            [("b1", 2), ("a1", 1), ("a2", 1), ("", 1)])
  write_tsv(pathlib.Path(schema.vocab_path(str(data_dir), schema.EVENT_TYPE)),
            [("view", 2), ("checkout", 1), ("signup", 1)])
  write_tsv(pathlib.Path(schema.vocab_path(str(data_dir),
                                           schema.CATALOG_CATEGORY)),
            [("shoes", 2), ("travel", 2)])
  write_tsv(data_dir / schema.CANDIDATE_FREQUENCIES,
            [("a", 2, 0.5), ("b", 1, 0.25), ("c", 1, 0.25)])
  write_tsv(data_dir / schema.ADVERTISER_CATALOG,
            [(schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY, "budget",
              "rating"),
             ("a", "shoes", 10.0, 4.5), ("b", "travel", 30.0, ""),
             ("d", "travel", 20.0, 3.5)])
  (data_dir / schema.MANIFEST).write_text(json.dumps({
      "schema_version": schema.SCHEMA_VERSION,
      "config": {"max_seq_len": 4, "label_window_days": 7},
      "counts": {},
  }))
  return data_dir


@pytest.fixture
def tiny_vocabularies(tiny_data_dir):
  from tfrs_adcg import vocabulary  # pylint: disable=g-import-not-at-top

  return vocabulary.read_vocabularies(str(tiny_data_dir))

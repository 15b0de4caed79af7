"""The hand-written tf.train.Example bytes parse to the protobuf's message."""

import random

import tfrs_adcg  # noqa: F401
from tensorflow.core.example import example_pb2  # pylint: disable=g-bad-import-order
from tfrs_adcg import example_proto
from tfrs_adcg import schema


def _reference(strings, ints):
  """The example built through the protobuf runtime."""
  example = example_pb2.Example()
  for name, values in strings:
    feature = example.features.feature[name]
    feature.bytes_list.SetInParent()
    feature.bytes_list.value.extend([v.encode() for v in values])
  for name, values in ints:
    feature = example.features.feature[name]
    feature.int64_list.SetInParent()
    feature.int64_list.value.extend(values)
  return example


def _parsed(data):
  return example_pb2.Example.FromString(data)


def test_values_of_every_size_and_sign():
  encoder = example_proto.ExampleEncoder(cache_size=4)  # Caches refill.
  strings = [("empty", []), ("one", ["x"]), ("pad", ["", "a", ""]),
             ("unicode", ["ünï€", "日本"]), ("long", ["y" * 200, "z" * 20000])]
  ints = [("none", []), ("small", [0, 1, 127, 128, 300]),
          ("negative", [-1, -2**63]), ("large", [2**31, 2**63 - 1])]
  for _ in range(2):
    assert _parsed(encoder.encode(strings, ints)) == _reference(strings, ints)


def test_encoded_values_match_plain_values():
  encoder = example_proto.ExampleEncoder()
  rng = random.Random(0)
  words = [f"w{rng.randrange(50)}" for _ in range(40)]
  times = [rng.randrange(2**40) for _ in range(40)]
  pieces = encoder.serialize(words, int64=False)
  time_pieces = encoder.serialize(times, int64=True)
  for start, end in ((0, 0), (0, 40), (7, 19)):
    window = [("w", example_proto.EncodedValues(
        b"".join(pieces[start:end]), end - start))]
    time_window = [("t", example_proto.EncodedValues(
        b"".join(time_pieces[start:end]), end - start))]
    assert (_parsed(encoder.encode(window, time_window))
            == _reference([("w", words[start:end])],
                          [("t", times[start:end])]))


def test_schema_examples_equal_the_protobuf_built_ones():
  history = {schema.ADVERTISER_ID: ["a1", "a2", "a1"],
             schema.ITEM_ID: ["i1", "", "i3"],
             schema.EVENT_TYPE: ["view", "signup", "view"],
             schema.TIMESTAMP: [100, 200, 1767225600]}
  expected = _reference(
      [(schema.USER_ID, ["u1"])]
      + [(name, history[name]) for name in schema.STRING_SEQUENCE_FEATURES]
      + [(schema.LABEL_ADVERTISER_IDS, ["a3"]), (schema.LABEL_ITEM_IDS, [])],
      [(schema.CUTOFF, [300]), (schema.TIMESTAMP, history[schema.TIMESTAMP])])
  record = schema.encode_example("u1", 300, history, ["a3"])
  assert _parsed(record) == expected
  window = schema.history_window(schema.encode_history(history), 0, 3)
  assert _parsed(schema.encode_example("u1", 300, window, ["a3"])) == expected

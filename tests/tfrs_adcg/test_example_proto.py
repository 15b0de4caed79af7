"""The hand-written tf.train.Example bytes are protobuf's own serialization."""

import random

import tfrs_adcg  # noqa: F401
from tensorflow.core.example import example_pb2  # pylint: disable=g-bad-import-order
from tensorflow.core.example import feature_pb2
from tfrs_adcg import example_proto
from tfrs_adcg import schema

STRINGS = [("empty", []), ("one", ["x"]), ("pad", ["", "a", ""]),
           ("unicode", ["ünï€", "日本"]), ("long", ["y" * 200, "z" * 20000])]
INTS = [("none", []), ("small", [0, 1, 127, 128, 300]),
        ("negative", [-1, -2**63]), ("large", [2**31, 2**63 - 1]),
        ("epoch", [1767225600, 2**28, 2**35 - 1])]


def _varint(value):
  value &= (1 << 64) - 1
  out = bytearray()
  while True:
    out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
    value >>= 7
    if not value:
      return bytes(out)


def _reference(strings, ints):
  """The example's bytes, each feature map entry serialized by protobuf.

  protobuf orders map entries as it likes; the encoder writes them in the
  order given. One entry a ``Features`` message serializes exactly.
  """
  features = b""
  for name, values in strings:
    entry = feature_pb2.Features()
    entry.feature[name].bytes_list.value.extend([v.encode() for v in values])
    entry.feature[name].bytes_list.SetInParent()
    features += entry.SerializeToString()
  for name, values in ints:
    entry = feature_pb2.Features()
    entry.feature[name].int64_list.value.extend(values)
    entry.feature[name].int64_list.SetInParent()
    features += entry.SerializeToString()
  return b"\x0a" + _varint(len(features)) + features


def test_values_of_every_size_and_sign():
  encoder = example_proto.ExampleEncoder(cache_size=4)  # Caches refill.
  expected = _reference(STRINGS, INTS)
  for _ in range(2):
    record = encoder.encode(STRINGS, INTS)
    assert record == expected
  assert example_pb2.Example.FromString(record).features.feature[
      "unicode"].bytes_list.value == ["ünï€".encode(), "日本".encode()]


def test_layout_equals_encode():
  encoder = example_proto.ExampleEncoder(cache_size=4)
  encode = encoder.layout([name for name, _ in STRINGS],
                          [name for name, _ in INTS])
  record = encode([encoder.strings(values) for _, values in STRINGS]
                  + [encoder.int64s(values) for _, values in INTS])
  assert record == _reference(STRINGS, INTS)


def test_windows_of_serialized_values_equal_fresh_encodings():
  encoder = example_proto.ExampleEncoder()
  rng = random.Random(0)
  words = [rng.choice(["w1", "", "ünï€", "日本語", "x" * 300])
           for _ in range(60)]
  epoch = [rng.choice([2**28, 2**35 - 1, rng.randrange(2**28, 2**35)])
           for _ in range(60)]  # All 5-byte varints.
  epoch_ms = [rng.choice([2**35, 2**42 - 1, rng.randrange(2**35, 2**42)])
              for _ in range(60)]  # All 6-byte varints.
  value_lists = {
      "epoch": epoch,
      "below": epoch[:30] + [2**28 - 1] + epoch[31:],
      "above": epoch[:30] + [2**35] + epoch[31:],
      "epoch_ms": epoch_ms,
      "ms_below": epoch_ms[:30] + [2**35 - 1] + epoch_ms[31:],
      "small": [rng.randrange(128) for _ in range(60)],  # 1-byte varints.
      "mixed": [rng.choice([0, -1, 2**63 - 1, 2**35, 2**28 - 1])
                for _ in range(60)],
  }
  serialized_words = encoder.serialize(words, int64=False)
  serialized_ints = {name: encoder.serialize(values, int64=True)
                     for name, values in value_lists.items()}
  for _ in range(30):
    start = rng.randrange(61)
    end = rng.randrange(start, 61)
    window = serialized_words.window(start, end)
    assert window.count == end - start
    ints = [(name, serialized.window(start, end))
            for name, serialized in serialized_ints.items()]
    assert (encoder.encode([("w", window)], ints)
            == _reference([("w", words[start:end])],
                          [(name, values[start:end])
                           for name, values in value_lists.items()]))


def test_empty_values_serialize_to_empty_windows():
  encoder = example_proto.ExampleEncoder()
  for int64 in (False, True):
    window = encoder.serialize([], int64).window(0, 0)
    assert window == example_proto.EncodedValues(b"", 0)
  assert (encoder.encode([("s", example_proto.EncodedValues(b"", 0))],
                         [("t", example_proto.EncodedValues(b"", 0))])
          == _reference([("s", [])], [("t", [])]))


def test_schema_examples_are_protobuf_serializations():
  history = {schema.ADVERTISER_ID: ["a1", "ä2", "a1"],
             schema.ITEM_ID: ["i1", "", "i3"],
             schema.EVENT_TYPE: ["view", "signup", "view"],
             schema.TIMESTAMP: [100, 200, 1767225600]}
  expected = _reference(
      [(schema.USER_ID, ["u1"])]
      + [(name, history[name]) for name in schema.STRING_SEQUENCE_FEATURES]
      + [(schema.LABEL_ADVERTISER_IDS, ["a3"]), (schema.LABEL_ITEM_IDS, [])],
      [(schema.CUTOFF, [300]), (schema.TIMESTAMP, history[schema.TIMESTAMP])])
  assert schema.encode_example("u1", 300, history, ["a3"]) == expected
  window = schema.history_window(schema.encode_history(history), 0, 3)
  assert schema.encode_example("u1", 300, window, ["a3"]) == expected

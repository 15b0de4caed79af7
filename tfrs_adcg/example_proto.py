"""``tf.train.Example`` serialization without TensorFlow: the wire format.

A training example is a map from feature name to a list of byte strings or
64-bit integers. ``ExampleEncoder`` writes the protocol buffer bytes of such
a ``tf.train.Example`` directly, which is several times faster than filling
the message through the protobuf runtime and does not import TensorFlow.
The bytes parse (``tf.train.Example.FromString``,
``tf.io.parse_example``) to the same message as one built field by field.

The layout, from ``tensorflow/core/example/{example,feature}.proto``::

    Example      { Features features = 1; }
    Features     { map<string, Feature> feature = 1; }
    Feature      { oneof kind { BytesList bytes_list = 1; ...;
                                Int64List int64_list = 3; } }
    BytesList    { repeated bytes value = 1; }
    Int64List    { repeated int64 value = 1 [packed = true]; }

A map entry is a message ``{string key = 1; Feature value = 2;}``.

Ids repeat across users, so the encoded form of each string and integer
value is kept in a bounded cache. Histories of one user overlap from one
example to the next: ``ExampleEncoder.serialize`` encodes a user's values
once, and ``EncodedValues`` of any slice of them are then a ``bytes.join``.
"""

from typing import (Callable, Dict, Hashable, Iterable, List, NamedTuple,
                    Sequence, Tuple, Union)

# Wire tags: (field number << 3) | wire type; 2 is length-delimited.
_FIELD_1_BYTES = b"\x0a"  # Example.features, Features.feature, the map key,
# BytesList.value and Int64List.value (packed) are all field 1.
_FIELD_2_BYTES = b"\x12"  # The map entry's value.
_BYTES_LIST = b"\x0a"  # Feature.bytes_list
_INT64_LIST = b"\x1a"  # Feature.int64_list

_UINT64 = 1 << 64
DEFAULT_CACHE_SIZE = 1 << 18  # Values per cache; about 30 MiB at most.


def varint(value: int) -> bytes:
  """The base-128 varint of an int64 (negative ones in two's complement)."""
  if value < 0:
    value += _UINT64
  if value < 0x80:
    return bytes((value,))
  if 1 << 28 <= value < 1 << 35:  # Epoch seconds: one expression, no loop.
    return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80,
                  value >> 14 & 0x7F | 0x80, value >> 21 & 0x7F | 0x80,
                  value >> 28))
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


# The varints of small lengths, looked up rather than computed.
_SMALL_VARINTS = tuple(varint(n) for n in range(1 << 14))


def _length(n: int) -> bytes:
  """The varint of a length."""
  return _SMALL_VARINTS[n] if n < 16384 else varint(n)


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
  return tag + _length(len(payload)) + payload


def _bytes_value(value: str) -> bytes:
  """One ``BytesList.value`` field of a string, UTF-8 encoded."""
  return _length_delimited(_FIELD_1_BYTES, value.encode())


def _int64_value(value: int) -> bytes:
  """One packed ``Int64List`` value."""
  return varint(int(value))


class EncodedValues(NamedTuple):
  """Values of one feature, serialized: ``bytes.join`` of a slice of
  ``ExampleEncoder.serialize``'s pieces, and how many values they are."""
  data: bytes
  count: int


Values = Union[Sequence, EncodedValues]


def count(values: Values) -> int:
  """The number of values, serialized or not."""
  return values.count if isinstance(values, EncodedValues) else len(values)


class _Cache(dict):
  """A dict that computes missing values and empties itself when full."""

  def __init__(self, make: Callable[[Hashable], bytes], max_size: int):
    super().__init__()
    self._make = make
    self._max_size = max_size

  def __missing__(self, key):
    if len(self) >= self._max_size:
      self.clear()
    value = self[key] = self._make(key)
    return value


class ExampleEncoder:
  """Serializes examples of string and int64 list features.

  Args:
    cache_size: Most values each cache (strings, integers) holds.
  """

  def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE):
    self._strings = _Cache(_bytes_value, cache_size)
    self._ints = _Cache(_int64_value, cache_size)
    self._keys: Dict[str, bytes] = {}

  def _key(self, name: str) -> bytes:
    """The map entry's key field of a feature name."""
    key = self._keys.get(name)
    if key is None:
      key = self._keys[name] = _length_delimited(_FIELD_1_BYTES, name.encode())
    return key

  def serialize(self, values: Sequence, int64: bool) -> List[bytes]:
    """Each value as it is written: pieces for ``EncodedValues``.

    Args:
      values: Strings, or integers if ``int64``.
      int64: Whether the values belong in an ``int64_list``.
    """
    if int64:  # Mostly distinct (times): not worth caching.
      return list(map(_int64_value, values))
    return list(map(self._strings.__getitem__, values))

  def encode(self, string_features: Iterable[Tuple[str, Values]],
             int64_features: Iterable[Tuple[str, Values]]) -> bytes:
    """The serialized ``tf.train.Example`` of the given features.

    Args:
      string_features: (name, values) pairs; values are ``str``, written
        UTF-8 encoded into a ``bytes_list``, or their ``EncodedValues``.
      int64_features: (name, values) pairs; values are integers, written
        into an ``int64_list``, or their ``EncodedValues``.

    Returns:
      The bytes of the example.
    """
    strings, ints = self._strings.__getitem__, self._ints.__getitem__
    lists = []  # (key field, Feature field tag, the list message)
    for name, values in string_features:
      if isinstance(values, EncodedValues):
        data = values.data
      else:
        data = b"".join(map(strings, values))
      lists.append((self._key(name), _BYTES_LIST, data))
    for name, values in int64_features:
      if isinstance(values, EncodedValues):
        packed = values.data
      else:
        packed = b"".join(map(ints, values))
      lists.append((self._key(name), _INT64_LIST,
                    _length_delimited(_FIELD_1_BYTES, packed)
                    if packed else b""))
    # Each map entry: tag, size, key, value tag, size, Feature (its one
    # field: tag, size, list message). Sizes are varints, mostly looked up.
    parts = []
    small = _SMALL_VARINTS
    for key, kind, data in lists:
      size = len(data)
      list_head = kind + (small[size] if size < 16384 else varint(size))
      size += len(list_head)
      value_head = _FIELD_2_BYTES + (small[size] if size < 16384
                                     else varint(size))
      size += len(key) + len(value_head)
      parts += (_FIELD_1_BYTES, small[size] if size < 16384 else varint(size),
                key, value_head, list_head, data)
    features = b"".join(parts)
    return _FIELD_1_BYTES + _length(len(features)) + features

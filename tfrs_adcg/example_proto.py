"""``tf.train.Example`` serialization without TensorFlow: the wire format.

A training example is a map from feature name to a list of byte strings or
64-bit integers. ``ExampleEncoder`` writes the protocol buffer bytes of such
a ``tf.train.Example`` directly, which is several times faster than filling
the message through the protobuf runtime and does not import TensorFlow.
The bytes parse (``tf.train.Example.FromString``,
``tf.io.parse_example``) to the same message as one built field by field,
and equal protobuf's own serialization of it.

The layout, from ``tensorflow/core/example/{example,feature}.proto``::

    Example      { Features features = 1; }
    Features     { map<string, Feature> feature = 1; }
    Feature      { oneof kind { BytesList bytes_list = 1; ...;
                                Int64List int64_list = 3; } }
    BytesList    { repeated bytes value = 1; }
    Int64List    { repeated int64 value = 1 [packed = true]; }

A map entry is a message ``{string key = 1; Feature value = 2;}``. All of an
entry before its values' bytes depends only on the feature and the values'
encoded size, so it is kept per (feature, size), as are the encoded forms of
string and integer values, which repeat across users.

Histories of one user overlap from one example to the next:
``ExampleEncoder.serialize`` encodes a user's values once into
``SerializedValues``, and the ``EncodedValues`` of any window of them is one
slice of those bytes.
"""

import functools
import itertools
from typing import (Callable, Dict, Hashable, Iterable, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np

# Wire tags: (field number << 3) | wire type; 2 is length-delimited.
_FIELD_1_BYTES = b"\x0a"  # Example.features, Features.feature, the map key,
# BytesList.value and Int64List.value (packed) are all field 1.
_FIELD_2_BYTES = b"\x12"  # The map entry's value.
_BYTES_LIST = b"\x0a"  # Feature.bytes_list
_INT64_LIST = b"\x1a"  # Feature.int64_list

_UINT64 = 1 << 64
DEFAULT_CACHE_SIZE = 1 << 18  # Values per cache; about 30 MiB at most.


def _fixed_width_varints(values: Sequence[int]) -> Optional[bytes]:
  """The varints of non-negative integers that all take the same number of
  bytes (7 bits a byte, low bits first, the high bit set on all but the
  last byte), at once; None if their widths differ.

  Epoch milliseconds of one history are all 6-byte varints (2^35 to 2^42).
  """
  column = np.array(values, dtype=np.int64)
  low, high = int(column.min()), int(column.max())
  if low < 0:
    return None
  width = max(1, (high.bit_length() + 6) // 7)
  if width > 1 and low.bit_length() <= 7 * (width - 1):
    return None
  shifts = np.arange(0, 7 * width, 7, dtype=np.int64)
  continuation = np.array([0x80] * (width - 1) + [0], dtype=np.int64)
  varints = (column[:, np.newaxis] >> shifts) & 0x7F | continuation
  return varints.astype(np.uint8).tobytes()


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


def _bytes_value(value: str) -> bytes:
  """One ``BytesList.value`` field of a string, UTF-8 encoded."""
  data = value.encode()
  return _FIELD_1_BYTES + _length(len(data)) + data


def _int64_value(value: int) -> bytes:
  """One packed ``Int64List`` value."""
  return varint(int(value))


def _entry_head(key: bytes, int64: bool, size: int) -> bytes:
  """A ``Features.feature`` map entry up to its values' bytes.

  Args:
    key: The entry's key field.
    int64: Whether the values are an ``int64_list`` (else a ``bytes_list``).
    size: Length of the values' bytes: the ``BytesList.value`` fields, or
      the packed integers.
  """
  if not int64:
    list_head = _BYTES_LIST + _length(size)
  elif size:  # Int64List's one packed field, inside the Feature's field.
    packed_head = _FIELD_1_BYTES + _length(size)
    list_head = _INT64_LIST + _length(len(packed_head) + size) + packed_head
  else:  # No values: an empty Int64List.
    list_head = _INT64_LIST + _length(0)
  value_size = len(list_head) + size
  value_head = _FIELD_2_BYTES + _length(value_size)
  entry_size = len(key) + len(value_head) + value_size
  return _FIELD_1_BYTES + _length(entry_size) + key + value_head + list_head


class EncodedValues(NamedTuple):
  """Values of one feature, serialized (a window of ``SerializedValues``),
  and how many values they are."""
  data: bytes
  count: int


class SerializedValues(NamedTuple):
  """Values of one feature serialized one after the other.

  Attributes:
    data: The values' bytes, as ``EncodedValues`` holds them.
    offsets: Where each value starts in ``data``, then ``len(data)``.
  """
  data: bytes
  offsets: Sequence[int]

  def window(self, start: int, end: int) -> EncodedValues:
    """Values ``[start, end)``."""
    offsets = self.offsets
    return EncodedValues(self.data[offsets[start]:offsets[end]], end - start)


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
    cache_size: Most values each cache (strings, integers, the entry heads
      of one feature) holds.
  """

  def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE):
    self._cache_size = cache_size
    self._strings = _Cache(_bytes_value, cache_size)
    self._ints = _Cache(_int64_value, cache_size)
    # (name, int64) to the feature's entry heads by the values' size.
    self._heads: Dict[Tuple[str, bool], _Cache] = {}

  def _entry_heads(self, name: str, int64: bool) -> _Cache:
    """The entry heads of a feature, by the size of its values' bytes."""
    heads = self._heads.get((name, int64))
    if heads is None:
      key = _FIELD_1_BYTES + _length(len(name.encode())) + name.encode()
      heads = self._heads[name, int64] = _Cache(
          lambda size: _entry_head(key, int64, size), self._cache_size)
    return heads

  def strings(self, values: Iterable[str]) -> bytes:
    """The ``bytes_list`` values' bytes of strings."""
    return b"".join(map(self._strings.__getitem__, values))

  def int64s(self, values: Iterable[int]) -> bytes:
    """The packed ``int64_list`` values' bytes of integers."""
    return b"".join(map(self._ints.__getitem__, values))

  def values_bytes(self, values: Values, int64: bool) -> bytes:
    """The bytes of a feature's values, as ``EncodedValues.data``.

    Args:
      values: Strings, or integers if ``int64``, or their ``EncodedValues``.
      int64: Whether the values belong in an ``int64_list``.
    """
    if isinstance(values, EncodedValues):
      return values.data
    return self.int64s(values) if int64 else self.strings(values)

  def serialize(self, values: Sequence, int64: bool) -> SerializedValues:
    """The values as they are written, to be cut into ``EncodedValues``.

    Args:
      values: Strings, or integers if ``int64``.
      int64: Whether the values belong in an ``int64_list``.
    """
    if int64:  # Mostly distinct (times): not worth caching.
      data = _fixed_width_varints(values) if values else None
      if data is not None:
        width = len(data) // len(values)
        return SerializedValues(data, range(0, len(data) + 1, width))
      pieces = list(map(_int64_value, values))
    else:
      pieces = list(map(self._strings.__getitem__, values))
    return SerializedValues(
        b"".join(pieces), list(itertools.accumulate(map(len, pieces),
                                                    initial=0)))

  def layout(self, string_names: Sequence[str],
             int64_names: Sequence[str]) -> Callable[[Sequence[bytes]], bytes]:
    """An encoder of examples with exactly these features, in this order.

    ``layout(s, i)(values)`` equals ``encode`` of the same features; it
    takes the features' ``values_bytes`` (string features first), which
    saves ``encode``'s work per feature.
    """
    heads = ([self._entry_heads(name, False) for name in string_names]
             + [self._entry_heads(name, True) for name in int64_names])
    return functools.partial(_example, heads)

  def encode(self, string_features: Iterable[Tuple[str, Values]],
             int64_features: Iterable[Tuple[str, Values]]) -> bytes:
    """The serialized ``tf.train.Example`` of the given features.

    Args:
      string_features: (name, values) pairs; values are ``str``, written
        UTF-8 encoded into a ``bytes_list``, or their ``EncodedValues``.
      int64_features: (name, values) pairs; values are integers, written
        into an ``int64_list``, or their ``EncodedValues``.

    Returns:
      The bytes of the example: entries in the order of the features given,
      string features first.
    """
    heads, values = [], []
    for features, int64 in ((string_features, False), (int64_features, True)):
      for name, feature_values in features:
        heads.append(self._entry_heads(name, int64))
        values.append(self.values_bytes(feature_values, int64))
    return _example(heads, values)


def _example(heads: Sequence[_Cache], values: Sequence[bytes]) -> bytes:
  """An example of features' entry heads and their values' bytes."""
  entry_heads = list(map(_Cache.__getitem__, heads, map(len, values)))
  parts = [b""] * (2 * len(values) + 1)
  parts[1::2] = entry_heads
  parts[2::2] = values
  size = sum(map(len, entry_heads)) + sum(map(len, values))
  parts[0] = _FIELD_1_BYTES + _length(size)
  return b"".join(parts)

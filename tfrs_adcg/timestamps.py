"""Event timestamps: ISO-8601 or epoch numbers in, UTC epoch times out.

Epoch numbers come in a unit (``TIMESTAMP_UNITS``): seconds, milliseconds or
microseconds; ``detect_unit`` tells them apart by magnitude. Times parse to
epoch milliseconds (``parse_timestamp_ms``); inside preprocessing an event
keeps its time as epoch seconds (``event_time``), which orders events within
one second by their milliseconds when it has any (``Instant``). Examples, the
user tower and the serving signature carry epoch milliseconds
(``milliseconds``).
"""

import datetime
import math
from typing import Any, Iterable, Optional, Union

DAY_SECONDS = 86_400
MILLISECONDS_PER_SECOND = 1000
DAY_MILLISECONDS = DAY_SECONDS * MILLISECONDS_PER_SECOND

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MILLISECOND = datetime.timedelta(milliseconds=1)

AUTO = "auto"
SECONDS = "s"
MILLISECONDS = "ms"
MICROSECONDS = "us"
ISO = "iso"  # ISO-8601 strings only: epoch numbers are refused.
TIMESTAMP_UNITS = (AUTO, SECONDS, MILLISECONDS, MICROSECONDS, ISO)
UNIT_NAMES = {SECONDS: "epoch seconds", MILLISECONDS: "epoch milliseconds",
              MICROSECONDS: "epoch microseconds", ISO: "ISO-8601 strings"}
_MILLIS_PER_UNIT = {SECONDS: 1000, MILLISECONDS: 1, MICROSECONDS: 0.001}
# Epoch numbers below these magnitudes are taken as seconds, then
# milliseconds, by ``detect_unit``: 1e11 s is the year 5138, and 1e11 ms
# March 1973, so times from 1973 to 5138 tell their unit apart.
_SECONDS_BELOW = 1e11
_MILLISECONDS_BELOW = 1e14


class Instant(int):
  """An epoch second (its int value) that remembers its milliseconds.

  It compares, sorts and hashes by its milliseconds, also against plain
  ints (whole seconds), so that events within one second keep their true
  order while every consumer of event times reads seconds. Only times with
  a fraction of a second are Instants (``event_time``): whole seconds stay
  plain ints and cost nothing extra.
  """

  def __new__(cls, milliseconds: int):
    instant = super().__new__(cls, milliseconds // 1000)
    instant.milliseconds = milliseconds
    return instant

  def __reduce__(self):
    return Instant, (self.milliseconds,)

  def __repr__(self):
    return f"Instant({self.milliseconds})"

  def __hash__(self):
    return hash(self.milliseconds)

  def __eq__(self, other):
    return _millis(self) == _millis(other)

  def __ne__(self, other):
    return _millis(self) != _millis(other)

  def __lt__(self, other):
    return _millis(self) < _millis(other)

  def __le__(self, other):
    return _millis(self) <= _millis(other)

  def __gt__(self, other):
    return _millis(self) > _millis(other)

  def __ge__(self, other):
    return _millis(self) >= _millis(other)


def _millis(value: Any) -> Any:
  if isinstance(value, Instant):
    return value.milliseconds
  if isinstance(value, int):
    return value * 1000
  return value  # Lets Python refuse the comparison.


def event_time(milliseconds: int) -> int:
  """Epoch milliseconds as an event time: whole seconds as an int, else an
  ``Instant``."""
  if milliseconds % 1000:
    return Instant(milliseconds)
  return milliseconds // 1000


def milliseconds(time: int) -> int:
  """The epoch milliseconds of an event time (``event_time``) or of whole
  epoch seconds."""
  if isinstance(time, Instant):
    return time.milliseconds
  return int(time) * MILLISECONDS_PER_SECOND


def _number_ms(value: Union[int, float], unit: str, original: Any) -> int:
  if unit == ISO:
    raise ValueError(f"An epoch number, but the timestamps are ISO-8601: "
                     f"{original!r}")
  per = _MILLIS_PER_UNIT[SECONDS if unit == AUTO else unit]
  if isinstance(value, int):
    return value * per if per >= 1 else value // 1000
  try:
    return math.floor(value * per) if per >= 1 else math.floor(value / 1000)
  except (ValueError, OverflowError):  # nan, inf
    raise ValueError(f"Not a timestamp: {original!r}") from None


def parse_timestamp_ms(value: Any, unit: str = SECONDS) -> int:
  """Parses a raw event time into UTC epoch milliseconds.

  Accepts epoch numbers in ``unit`` (int, float or their string form; AUTO
  reads them as seconds) and ISO-8601 strings (any unit); an ISO time
  without a zone is taken as UTC, as the raw schema says. Fractions of a
  millisecond are dropped.

  Raises:
    ValueError: for anything else, e.g. an empty string, "yesterday", a
      bool or a nested value; an epoch number with ``unit`` ISO.
  """
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise ValueError(f"Not a timestamp: {value!r}")
  if not isinstance(value, str):
    return _number_ms(value, unit, value)
  text = value.strip()
  try:
    number = int(text)
  except ValueError:
    try:
      number = float(text)
    except ValueError:
      number = None
  if number is not None:
    return _number_ms(number, unit, value)
  try:
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
  except ValueError:
    raise ValueError(
        f"Not an ISO-8601 time or epoch number: {value!r}") from None
  if parsed.tzinfo is None:
    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
  return (parsed - _EPOCH) // _MILLISECOND


def parse_timestamp_any_unit_ms(value: Any) -> int:
  """Parses one raw event time into UTC epoch milliseconds, telling the unit
  of an epoch number by its magnitude (``detect_unit``).

  Raises:
    ValueError: as ``parse_timestamp_ms``.
  """
  return parse_timestamp_ms(value, detect_unit((value,)) or SECONDS)


def parse_timestamp(value: Any, unit: str = SECONDS) -> int:
  """Parses a raw event time into UTC epoch seconds (rounded down).

  Raises:
    ValueError: as ``parse_timestamp_ms``.
  """
  return parse_timestamp_ms(value, unit) // 1000


def detect_unit(values: Iterable[Any]) -> Optional[str]:
  """The unit of the epoch numbers among raw times, by their magnitude.

  Returns:
    SECONDS, MILLISECONDS or MICROSECONDS by the largest number (see
    ``_SECONDS_BELOW``); None if no value is an epoch number.
  """
  largest = None
  for value in values:
    if isinstance(value, bool):
      continue
    if isinstance(value, str):
      try:
        value = float(value)
      except ValueError:
        continue
    if isinstance(value, (int, float)) and math.isfinite(value):
      largest = abs(value) if largest is None else max(largest, abs(value))
  if largest is None:
    return None
  if largest < _SECONDS_BELOW:
    return SECONDS
  return MILLISECONDS if largest < _MILLISECONDS_BELOW else MICROSECONDS


def to_iso(epoch_seconds: int) -> str:
  """UTC epoch seconds in the canonical form ``YYYY-MM-DDTHH:MM:SSZ``."""
  moment = _EPOCH + datetime.timedelta(seconds=int(epoch_seconds))
  return moment.replace(tzinfo=None).isoformat() + "Z"

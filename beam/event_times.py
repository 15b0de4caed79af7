"""Event times: raw timestamps parsed fast, and the unit of epoch numbers.

``TimestampParser`` turns the timestamp of a raw row into an event time
(``timestamps.event_time``) with the rules of ``timestamps``, caching the
dates and times of day of second-precision ISO times, which most logs hold,
so that a row's time is two dictionary look-ups. ``resolve_timestamp_unit``
tells, on the driver, whether epoch numbers count seconds, milliseconds or
microseconds, from the first rows of a few files.
"""

import datetime
import logging
import re
from typing import Any, Dict, Optional, Sequence, Tuple

from beam import input_files
from beam import rows
from tfrs_adcg import schema
from tfrs_adcg import timestamps
from tfrs_adcg.timestamps import DAY_SECONDS

_LOGGER = logging.getLogger(__name__)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_OF_DAY = re.compile(r"[T ][0-9]{2}:[0-9]{2}:[0-9]{2}Z?")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_MILLISECOND = datetime.timedelta(milliseconds=1)
# The most dates, and times of day, a parser caches before it starts afresh.
_MAX_CACHED = 100_000
# The driver detects the timestamp unit from this many rows of as many files.
_UNIT_SAMPLE_ROWS = 100
_UNIT_SAMPLE_FILES = 10


class TimestampParser:
  """Raw times to event times (``timestamps.event_time``), fast for logs.

  Second-precision ISO times (``2026-01-01T00:10:42Z``, ``T`` or a space,
  ``Z`` optional) are split into date and time of day, each parsed once and
  cached; anything else (epoch numbers in ``unit``, fractions, zone offsets,
  Parquet datetimes) follows ``timestamps.parse_timestamp_ms``'s rules.

  Args:
    unit: How epoch numbers count (``timestamps.TIMESTAMP_UNITS``, not
      AUTO, which reads them as seconds).
  """

  def __init__(self, unit: str = timestamps.SECONDS):
    self._unit = unit
    self._dates: Dict[str, int] = {}  # "2026-01-01": its midnight.
    self._times: Dict[str, int] = {}  # "T00:10:42Z": seconds after it.

  def _parts(self, value: str) -> Tuple[Optional[int], Optional[int]]:
    """(midnight, seconds after it) of a second-precision ISO time, cached.

    Either is None if that part of ``value`` is not a valid date (the first
    10 characters) or time of day (the rest).
    """
    date = self._dates.get(value[:10])
    if date is None and _DATE.fullmatch(value, 0, 10):
      date = self._date(value[:10])
    time_of_day = self._times.get(value[10:])
    if time_of_day is None and _TIME_OF_DAY.fullmatch(value, 10):
      time_of_day = self._time_of_day(value[10:])
    return date, time_of_day

  def __call__(self, value: Any) -> int:
    """The event time (UTC epoch seconds, maybe an ``Instant``) of ``value``.

    Raises:
      ValueError: if ``value`` is not a time.
    """
    if value.__class__ is str:
      date, time_of_day = self._parts(value)
      if date is not None and time_of_day is not None:
        return date + time_of_day
    elif isinstance(value, datetime.datetime):
      if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
      return timestamps.event_time((value - _EPOCH) // _MILLISECOND)
    elif value is None:
      raise ValueError("No timestamp.")
    try:
      return timestamps.event_time(
          timestamps.parse_timestamp_ms(value, self._unit))
    except OverflowError as e:  # A date beyond datetime's.
      raise ValueError(str(e)) from None

  def _date(self, text: str) -> Optional[int]:
    try:
      ordinal = datetime.date.fromisoformat(text).toordinal()
    except ValueError:  # "2026-02-30"
      return None
    if len(self._dates) >= _MAX_CACHED:
      self._dates.clear()
    seconds = self._dates[text] = (ordinal - _EPOCH_ORDINAL) * DAY_SECONDS
    return seconds

  def _time_of_day(self, text: str) -> Optional[int]:
    """Seconds after midnight of a ``_TIME_OF_DAY`` match, if valid."""
    hours, minutes, seconds = int(text[1:3]), int(text[4:6]), int(text[7:9])
    if hours > 23 or minutes > 59 or seconds > 59:
      return None
    if len(self._times) >= _MAX_CACHED:
      self._times.clear()
    seconds = self._times[text] = hours * 3600 + minutes * 60 + seconds
    return seconds


def resolve_timestamp_unit(paths: Sequence[str], file_format: str,
                           unit: str) -> str:
  """``unit``, or for AUTO the unit of the epoch numbers in the first rows
  of (the first few of) ``paths``, by magnitude; SECONDS if they hold none.

  Raises:
    rows.InputError: if two files' numbers are in different units.
  """
  if unit != timestamps.AUTO:
    return unit
  detected, example = None, None
  for path in paths[:_UNIT_SAMPLE_FILES]:
    values = input_files.sample_values(path, file_format,
                                       schema.RAW_TIMESTAMP, _UNIT_SAMPLE_ROWS)
    file_unit = timestamps.detect_unit(values)
    if file_unit is None:
      continue
    if detected not in (None, file_unit):
      raise rows.InputError(
          f"{path} has timestamps in {timestamps.UNIT_NAMES[file_unit]}, "
          f"{example[0]} in {timestamps.UNIT_NAMES[detected]}: pass "
          "--timestamp_unit, or preprocess them apart.")
    detected = file_unit
    if example is None:
      example = path, next(value for value in values
                           if timestamps.detect_unit([value]))
  if detected is None:
    _LOGGER.info("Timestamps: ISO-8601 (no epoch number in the first rows; "
                 "--timestamp_unit sets the unit of epoch numbers).")
    return timestamps.SECONDS
  _LOGGER.info("Timestamps: %s, by their magnitude (%r in %s); "
               "--timestamp_unit sets the unit.",
               timestamps.UNIT_NAMES[detected], example[1], example[0])
  return detected

"""Plain CSV rows of a batch validated column by column, all at once.

Most rows of an event log are plain CSV rows: the raw columns in order, no
quotes, tabs or line breaks, a known event type, user and advertiser ids,
and the time in the canonical form (``timestamps.to_iso``) within range.
``find_plain_rows`` finds them among a batch of raw rows with Arrow's
vectorised kernels and gives their fields as columns, so that
``parse_events`` builds their events without looking at each row in
Python. It vouches for a row only if validating it alone
(``parse_events``) gives the same event, and ``dedup.plain_csv_row`` of
that event gives the row back; it leaves every other row, whatever it
holds, to that validation.
"""

from typing import Iterable, NamedTuple, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tfrs_adcg import schema
from tfrs_adcg.timestamps import DAY_SECONDS

_WIDTH = len(schema.RAW_COLUMNS)
# Characters no plain row holds (a quoted field; an id no vocabulary takes).
_NOT_PLAIN = '"\t\r\n'
_NOT_PLAIN_PATTERN = f"[{_NOT_PLAIN}]"
# timestamps.to_iso's form, YYYY-MM-DDTHH:MM:SSZ: the byte at each position
# that is no digit.
_TIME_LENGTH = 20
_SEPARATORS = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b"Z"}
_DIGITS = [i for i in range(_TIME_LENGTH) if i not in _SEPARATORS]
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class PlainRows(NamedTuple):
  """The plain rows of a batch and the other rows' positions.

  Attributes:
    positions: int64 [N], where the plain rows are in the batch, ascending.
    users, event_types, items, advertisers: Their ids, Arrow string arrays
      of length N (items may be empty).
    timestamps: int64 [N], their times in epoch seconds.
    others: int64 [M], where the other rows are, ascending.
  """
  positions: np.ndarray
  users: pa.Array
  timestamps: np.ndarray
  event_types: pa.Array
  items: pa.Array
  advertisers: pa.Array
  others: np.ndarray


def find_plain_rows(raw_rows: Sequence[str], event_types: Iterable[str],
                    min_time: int, max_time: int) -> PlainRows:
  """Splits raw CSV rows of the raw columns, in order, into plain and other.

  Args:
    raw_rows: Lines of a CSV file whose header is ``schema.RAW_COLUMNS``.
    event_types: The known event types.
    min_time: Earliest valid time, epoch seconds.
    max_time: Latest valid time, epoch seconds.
  """
  lines = pa.array(raw_rows, pa.string())
  fields = pc.split_pattern(lines, ",")
  splits = pc.equal(pc.list_value_length(fields), _WIDTH)
  if _holds_any(lines, _NOT_PLAIN):  # Rare: then row by row.
    splits = pc.and_(splits, pc.invert(
        pc.match_substring_regex(lines, _NOT_PLAIN_PATTERN)))
  candidates = np.flatnonzero(splits.to_numpy(zero_copy_only=False))
  fields = fields.take(candidates)
  users, times, types, items, advertisers = (
      pc.list_element(fields, i) for i in range(_WIDTH))
  canonical, seconds = canonical_times(times)
  valid = (canonical & (seconds >= min_time) & (seconds <= max_time)
           & _true(pc.is_in(types, pa.array(list(event_types), pa.string())))
           & _true(pc.greater(pc.binary_length(users), 0))
           & _true(pc.greater(pc.binary_length(advertisers), 0)))
  kept = np.flatnonzero(valid)
  positions = candidates[kept]
  others = np.setdiff1d(np.arange(len(raw_rows)), positions,
                        assume_unique=True)
  return PlainRows(
      positions=positions, users=users.take(kept),
      timestamps=seconds[kept], event_types=types.take(kept),
      items=items.take(kept), advertisers=advertisers.take(kept),
      others=others)


def canonical_times(times: pa.StringArray) -> Tuple[np.ndarray, np.ndarray]:
  """Which of ``times`` are in ``timestamps.to_iso``'s form, and their times.

  Returns:
    ``(canonical, seconds)``: bool [N], True where a time is
    ``timestamps.to_iso`` of some epoch second (a real date of years 1 to
    9999, hours to 23, minutes and seconds to 59); int64 [N], those epoch
    seconds (anything where not canonical).
  """
  count = len(times)
  canonical = np.zeros(count, bool)
  seconds = np.zeros(count, np.int64)
  sized = np.flatnonzero(
      pc.binary_length(times).to_numpy(zero_copy_only=False) == _TIME_LENGTH)
  if not len(sized):
    return canonical, seconds
  texts = times.take(sized)
  # Values of one length lie back to back in the data buffer.
  start = np.frombuffer(texts.buffers()[1], np.int32)[texts.offset]
  chars = np.frombuffer(texts.buffers()[2], np.uint8)[
      start:start + _TIME_LENGTH * len(sized)].reshape(-1, _TIME_LENGTH)
  valid = np.all((chars[:, _DIGITS] >= ord("0"))
                 & (chars[:, _DIGITS] <= ord("9")), axis=1)
  for position, separator in _SEPARATORS.items():
    valid &= chars[:, position] == ord(separator)
  digits = chars.astype(np.int64) - ord("0")

  def number(first: int, last: int) -> np.ndarray:
    value = digits[:, first]
    for i in range(first + 1, last):
      value = value * 10 + digits[:, i]
    return value

  year, month, day = number(0, 4), number(5, 7), number(8, 10)
  hour, minute, second = number(11, 13), number(14, 16), number(17, 19)
  leap_day = ((month == 2) & (year % 4 == 0)
              & ((year % 100 != 0) | (year % 400 == 0)))
  month_days = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + leap_day
  valid &= ((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
            & (day <= month_days) & (hour <= 23) & (minute <= 59)
            & (second <= 59))
  canonical[sized] = valid
  seconds[sized] = (_days_since_epoch(year, month, day) * DAY_SECONDS
                    + hour * 3600 + minute * 60 + second)
  return canonical, seconds


def _days_since_epoch(year: np.ndarray, month: np.ndarray,
                      day: np.ndarray) -> np.ndarray:
  """Days from 1970-01-01 to proleptic Gregorian dates of years >= 1."""
  # Years that start in March, so that a leap day ends its year.
  year = year - (month <= 2)
  era, year_of_era = np.divmod(year, 400)
  day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
  day_of_era = (year_of_era * 365 + year_of_era // 4 - year_of_era // 100
                + day_of_year)
  return era * 146_097 + day_of_era - 719_468


def _holds_any(strings: pa.StringArray, characters: str) -> bool:
  """Whether any of ``strings`` may hold one of ``characters`` (their data
  buffer does)."""
  data = strings.buffers()[2]
  if data is None:
    return False
  data = data.to_pybytes()
  return any(character.encode() in data for character in characters)


def _true(mask: pa.BooleanArray) -> np.ndarray:
  """bool [N]: True where ``mask`` is (null is not)."""
  return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)

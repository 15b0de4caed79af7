"""Event timestamps: ISO-8601 or epoch seconds in, UTC epoch seconds out."""

import datetime
from typing import Union

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_timestamp(value: Union[str, int, float]) -> int:
  """Parses a raw event time into UTC epoch seconds.

  Accepts epoch seconds (int, float or their string form) and ISO-8601
  strings; an ISO time without a zone is taken as UTC, as the raw schema says.

  Raises:
    ValueError: for anything else, e.g. an empty string or "yesterday".
  """
  if isinstance(value, bool):
    raise ValueError(f"Not a timestamp: {value!r}")
  if isinstance(value, (int, float)):
    try:
      return int(value)
    except (ValueError, OverflowError):
      raise ValueError(f"Not a timestamp: {value!r}") from None
  text = value.strip()
  try:
    return int(float(text))
  except (ValueError, OverflowError):  # OverflowError: "inf".
    pass
  try:
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
  except ValueError:
    raise ValueError(f"Not an ISO-8601 time or epoch seconds: {value!r}") from None
  if parsed.tzinfo is None:
    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
  return int((parsed - _EPOCH).total_seconds())


def to_iso(epoch_seconds: int) -> str:
  """Formats UTC epoch seconds as ISO-8601 with a Z."""
  moment = _EPOCH + datetime.timedelta(seconds=int(epoch_seconds))
  return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""Malformed rows for the synthetic event log, as real logs have them.

Each malformed row is a modified copy of a valid row, inserted next to it as
a replayed or garbled record would be, so the valid rows are the same with
or without corruption. The kinds (``CORRUPTION_KINDS``) are named as the
dead-letter reasons ``beam.preprocess`` counts them under, so its counts can
be checked against the injected ones.
"""

from typing import Dict

import numpy as np

from tfrs_adcg import schema

CORRUPTION_KINDS = (schema.BAD_TIMESTAMP, schema.TIMESTAMP_OUT_OF_RANGE,
                    schema.MISSING_USER_ID, schema.MISSING_ADVERTISER_ID,
                    schema.UNKNOWN_EVENT_TYPE, schema.DUPLICATE)
_UNPARSABLE_TIMESTAMPS = ("2026-02-30T25:61:00Z", "n/a", "12/31/2025 25:00",
                          "yesterday", "1700000000x")
_OUT_OF_RANGE_DATES = ("1970-01-01", "2100-01-01")
_UNKNOWN_EVENT_TYPES = ("click", "wishlist", "page_ping")


def corrupt(rows: Dict[str, np.ndarray], fraction: float,
            rng: np.random.Generator) -> Dict[str, int]:
  """Inserts malformed copies of random valid rows into ``rows`` in place.

  Each kind gets ``fraction`` of the valid rows split evenly (at least one
  row when ``fraction`` > 0). A copy lands next to its original's position.

  Args:
    rows: Object columns [N] of ``schema.RAW_COLUMNS``, ISO-8601 timestamps;
      replaced by columns [N + added].
    fraction: Malformed rows to add, as a fraction of N.
    rng: The corruption's own random stream.

  Returns:
    The number of rows added per kind in ``CORRUPTION_KINDS``.
  """
  num_valid = len(rows[schema.RAW_USER_ID])
  if fraction == 0.0:
    return {kind: 0 for kind in CORRUPTION_KINDS}
  per_kind = max(1, int(round(fraction * num_valid / len(CORRUPTION_KINDS))))
  total = per_kind * len(CORRUPTION_KINDS)
  sources = rng.choice(num_valid, total, replace=total > num_valid)
  copies = {name: values[sources].copy() for name, values in rows.items()}
  kind = np.repeat(np.arange(len(CORRUPTION_KINDS)), per_kind)

  def rows_of(name):
    return np.flatnonzero(kind == CORRUPTION_KINDS.index(name))

  timestamp = copies[schema.RAW_TIMESTAMP]
  bad = rows_of(schema.BAD_TIMESTAMP)
  timestamp[bad] = np.array(_UNPARSABLE_TIMESTAMPS, dtype=object)[
      rng.integers(len(_UNPARSABLE_TIMESTAMPS), size=len(bad))]
  out_of_range = rows_of(schema.TIMESTAMP_OUT_OF_RANGE)
  dates = np.array(_OUT_OF_RANGE_DATES, dtype=object)[
      rng.integers(len(_OUT_OF_RANGE_DATES), size=len(out_of_range))]
  timestamp[out_of_range] = dates + np.array(
      [t[10:] for t in timestamp[out_of_range]], dtype=object)
  copies[schema.RAW_USER_ID][rows_of(schema.MISSING_USER_ID)] = (
      schema.STRING_PAD)
  copies[schema.RAW_ADVERTISER_ID][rows_of(schema.MISSING_ADVERTISER_ID)] = (
      schema.STRING_PAD)
  unknown = rows_of(schema.UNKNOWN_EVENT_TYPE)
  copies[schema.RAW_EVENT_TYPE][unknown] = np.array(
      _UNKNOWN_EVENT_TYPES, dtype=object)[rng.integers(
          len(_UNKNOWN_EVENT_TYPES), size=len(unknown))]

  # Each copy goes right after its source (stable order among equal keys).
  order = np.argsort(
      np.concatenate([np.arange(num_valid), sources + 0.5]), kind="stable")
  for name in rows:
    rows[name] = np.concatenate([rows[name], copies[name]])[order]
  return {name: per_kind for name in CORRUPTION_KINDS}

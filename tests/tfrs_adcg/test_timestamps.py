"""Timestamps parse from every accepted form to the same epoch second."""

import pytest

from tfrs_adcg import timestamps


@pytest.mark.parametrize("value", [
    "2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00",
    "2026-01-02T04:04:05+01:00", "2026-01-02 03:04:05", 1767323045,
    "1767323045", 1767323045.7])
def test_forms_agree(value):
  assert timestamps.parse_timestamp(value) == 1767323045


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z",
                                   True, "inf", "nan", float("inf")])
def test_rejects_what_is_not_a_time(value):
  with pytest.raises(ValueError):
    timestamps.parse_timestamp(value)


def test_to_iso_inverts_parse():
  assert timestamps.to_iso(1767323045) == "2026-01-02T03:04:05Z"
  assert timestamps.parse_timestamp(timestamps.to_iso(86399)) == 86399

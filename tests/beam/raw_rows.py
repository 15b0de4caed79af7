"""Raw CSV rows of every dead-letter reason, shared by the event tests."""

from tfrs_adcg import schema
from tfrs_adcg import timestamps

EVENT_TYPES = ("view", "checkout")
MIN_TIME = timestamps.parse_timestamp("2020-01-01T00:00:00Z")
MAX_TIME = timestamps.parse_timestamp("2030-01-01T00:00:00Z")
T1 = timestamps.parse_timestamp("2026-01-01T00:10:42Z")

# (raw CSV row, dead-letter reason or None).
ROWS = [
    ("u1,2026-01-01T00:10:42Z,view,i1,a1", None),
    ("u1,1767226242,view,i1,a1", schema.DUPLICATE),  # Same time, epoch form.
    ("u1,2026-01-01T00:10:42Z,view,i1,a1", schema.DUPLICATE),
    ("u2,2026-01-01 00:10:43,checkout,,a2", None),
    ('u3,2026-01-01T00:10:44Z,view,"i,3",a3', None),
    (",2026-01-01T00:10:42Z,view,i1,a1", schema.MISSING_USER_ID),
    ("u1,2026-01-01T00:10:42Z,view,i1,", schema.MISSING_ADVERTISER_ID),
    ("u1,2026-02-30T00:10:42Z,view,i1,a1", schema.BAD_TIMESTAMP),
    ("u1,,view,i1,a1", schema.BAD_TIMESTAMP),
    ("u1,inf,view,i1,a1", schema.BAD_TIMESTAMP),
    ("u1,2100-01-01T00:00:00Z,view,i1,a1", schema.TIMESTAMP_OUT_OF_RANGE),
    ("u1,2026-01-01T00:10:42Z,click,i1,a1", schema.UNKNOWN_EVENT_TYPE),
    ("u1,2026-01-01T00:10:42Z,view,i1", schema.MALFORMED_ROW),
]
DISTINCT = [("u1", (T1, "view", "i1", "a1")),
            ("u2", (T1 + 1, "checkout", "", "a2")),
            ("u3", (T1 + 2, "view", "i,3", "a3"))]

"""Events: the record every pipeline of this package passes around.

``event_log.ReadEvents`` reads an event log into user events, ``(user_id,
(timestamp, event_type, item_id, advertiser_id))`` with the timestamp in UTC
epoch seconds (``timestamps.event_time``: a time with a fraction of a second
is an ``Instant``, which orders by its milliseconds); the value tuple sorts
events in time order with ties broken by type, item and advertiser. Every
input row is either such an event or a dead letter ``(reason, raw row)``,
and the counts of the manifest say so: ``EVENTS_READ == distinct events +
EVENTS_DROPPED``. The stages of the reading (``parse_events``, ``dedup``)
and every consumer of its output (examples, timelines, batch inference)
share these types and names.
"""

from typing import Any, Tuple

# An event without its user: sorts by time, then type, item, advertiser.
Event = Tuple[int, str, str, str]
UserEvent = Tuple[str, Event]
DeadLetter = Tuple[str, Any]  # (reason, raw row)

EVENTS_READ = "events_read"
EVENTS_DROPPED = "events_dropped"

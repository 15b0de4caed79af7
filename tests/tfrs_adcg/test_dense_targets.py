"""The dense objective's positives of a hand-written history."""

import tfrs_adcg  # noqa: F401
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import dense_targets
from tfrs_adcg import schema

CONVERSIONS = ("checkout", "signup")


def history(rows):
  """[P, L] features from rows of (timestamp, event type, advertiser)."""
  return {
      schema.TIMESTAMP: tf.constant([[e[0] for e in row] for row in rows],
                                    tf.int64),
      schema.EVENT_TYPE: tf.constant([[e[1] for e in row] for row in rows]),
      schema.ADVERTISER_ID: tf.constant([[e[2] for e in row] for row in rows]),
      schema.ITEM_ID: tf.constant([[e[2] and "i-" + e[2] for e in row]
                                   for row in rows]),
  }


ROWS = [
    [(0, "view", "a"), (10, "checkout", "b"), (50, "view", "c"),
     (200, "signup", "d"), (0, "", "")],
    # No labels; its only conversion is the newest event.
    [(5, "view", "a"), (7, "checkout", "a"), (0, "", ""), (0, "", ""),
     (0, "", "")],
]
LABELS = tf.ragged.constant([["x"], []])


def positives(window, first_only, feature=schema.ADVERTISER_ID):
  found, conversions = dense_targets.position_positives(
      history(ROWS), LABELS, feature, CONVERSIONS, window, first_only)
  return ([[p.decode() for p in row] for row in found.numpy()],
          [[c.decode() for c in row] for row in conversions.to_list()])


def test_the_conversions_after_each_event_within_the_window():
  found, conversions = positives(100, first_only=True)
  # Event 0 is followed by b's checkout 10 s later; d's signup is 200 s
  # after it, out of the window. The newest event gets the label.
  assert found[0] == ["b", "", "", "x", ""]
  assert found[1] == ["a", "", "", "", ""]
  assert conversions == [["b", "d", "x"], ["a"]]


def test_a_wider_window_and_the_first_or_a_random_positive():
  found, _ = positives(200, first_only=True)
  assert found[0] == ["b", "d", "d", "x", ""]
  seen = set()
  for _ in range(40):
    found, _ = positives(200, first_only=False)
    assert found[0][1:] == ["d", "d", "x", ""]
    seen.add(found[0][0])
  assert seen == {"b", "d"}


def test_the_item_task_reads_item_ids():
  found, conversions = positives(100, True, feature=schema.ITEM_ID)
  assert found[0] == ["i-b", "", "", "x", ""]
  assert conversions[1] == ["i-a"]

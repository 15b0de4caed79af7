"""Tests of the simulated journeys: conversions, timing, order, kinds, and
cold-start items, read back from the generated event log."""

import collections
import csv
import datetime
import pathlib
from typing import Dict, List, Tuple

from tfrs_adcg import schema
from tfrs_adcg import synthetic
from tfrs_adcg import synthetic_catalog
from tfrs_adcg.synthetic_events import ADD_TO_CART
from tfrs_adcg.synthetic_events import CHECKOUT
from tfrs_adcg.synthetic_events import CONVERSION_TYPES
from tfrs_adcg.synthetic_events import EVENT_TYPES
from tfrs_adcg.synthetic_events import SIGNUP


def _generate(out: pathlib.Path, **overrides) -> dict:
  settings = dict(output=str(out), users=120, advertisers=16, items=80,
                  days=14, seed=3)
  settings.update(overrides)
  return synthetic.generate(synthetic.SyntheticConfig(**settings))


def _rows(path: str) -> List[dict]:
  """The rows of a CSV file."""
  with open(path, encoding="utf-8") as f:
    return list(csv.DictReader(f))


def _epoch(timestamp: str) -> int:
  return int(datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z")
             .timestamp())


def _user_timelines(rows: List[dict]) -> Dict[str, List[dict]]:
  timelines = collections.defaultdict(list)
  for row in rows:
    timelines[row[schema.RAW_USER_ID]].append(row)
  for events in timelines.values():
    events.sort(key=lambda row: row[schema.RAW_TIMESTAMP])
  return timelines


def test_conversions_are_a_few_percent(synthetic_dir):
  events = _rows(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
  counts = collections.Counter(row[schema.RAW_EVENT_TYPE] for row in events)
  assert set(counts) == set(EVENT_TYPES)
  total = len(events)
  assert 0.03 <= counts[ADD_TO_CART] / total <= 0.06, counts
  assert (0.01 <= (counts[CHECKOUT] + counts[SIGNUP]) /
          total <= 0.035), counts


def test_events_come_in_bursts_within_the_days(synthetic_dir):
  events = _rows(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
  start = _epoch("2026-01-01T00:00:00Z")
  gaps = []
  for timeline in _user_timelines(events).values():
    seconds = [_epoch(row[schema.RAW_TIMESTAMP]) for row in timeline]
    assert start <= seconds[0] and seconds[-1] < start + 42 * 86400
    gaps.extend(b - a for a, b in zip(seconds, seconds[1:]))
  gaps.sort()
  assert gaps[0] > 0  # A user's events never share a second.
  assert gaps[len(gaps) // 2] < 10 * 60  # Within journeys: minutes.
  assert gaps[len(gaps) * 9 // 10] > 6 * 3600  # Between journeys: hours+.
  # The file is not sorted by time, as real logs are not.
  timestamps = [row[schema.RAW_TIMESTAMP] for row in events]
  assert timestamps != sorted(timestamps)


def _next_conversion_hits(rows: List[dict], k: int) -> Tuple[float, float]:
  """Hit rates at k of two predictors of the next converted advertiser.

  After each checkout at A, the target is the next advertiser other than A
  that the user converts with. Learned on half of the users, evaluated on the
  other half: (a) the k most popular targets; (b) the k most frequent targets
  after a checkout at A, filled up with (a).

  Returns:
    (popularity hit rate, transition hit rate).
  """
  conversions = set(CONVERSION_TYPES)
  pairs = {}
  for user, timeline in _user_timelines(rows).items():
    converted = [(row[schema.RAW_EVENT_TYPE], row[schema.RAW_ADVERTISER_ID])
                 for row in timeline if row[schema.RAW_EVENT_TYPE] in conversions]
    pairs[user] = []
    for i, (event_type, advertiser) in enumerate(converted):
      if event_type == CHECKOUT:
        following = [a for _, a in converted[i + 1:] if a != advertiser]
        if following:
          pairs[user].append((advertiser, following[0]))
  users = sorted(pairs)
  popularity = collections.Counter()
  transitions = collections.defaultdict(collections.Counter)
  for user in users[::2]:
    for previous, target in pairs[user]:
      popularity[target] += 1
      transitions[previous][target] += 1
  popular = [a for a, _ in popularity.most_common(k)]
  popular_hits = transition_hits = total = 0
  for user in users[1::2]:
    for previous, target in pairs[user]:
      predicted = [a for a, _ in transitions[previous].most_common(k)]
      predicted += [a for a in popular if a not in predicted][:k - len(predicted)]
      total += 1
      popular_hits += target in popular
      transition_hits += target in predicted
  assert total > 200, "too few checkouts to measure"
  return popular_hits / total, transition_hits / total


def test_order_of_events_predicts_next_conversion_better_than_popularity(
    tmp_path):
  summary = _generate(tmp_path / "planted", users=1500, advertisers=40,
                      items=400, days=42, seed=11)
  rows = _rows(summary["paths"][synthetic.EVENTS])
  popular_at_1, transition_at_1 = _next_conversion_hits(rows, k=1)
  popular_at_5, transition_at_5 = _next_conversion_hits(rows, k=5)
  assert transition_at_1 > 2.0 * popular_at_1
  assert transition_at_5 > 1.3 * popular_at_5

  # Without complementary partners the transition advantage shrinks.
  control = _generate(tmp_path / "control", users=1500, advertisers=40,
                      items=400, days=42, seed=11, partner_probability=0.0)
  rows = _rows(control["paths"][synthetic.EVENTS])
  _, control_at_1 = _next_conversion_hits(rows, k=1)
  assert transition_at_1 > 1.3 * control_at_1


def test_default_catalog_has_a_long_tail_and_narrow_interests(tmp_path):
  summary = synthetic.generate(
      synthetic.SyntheticConfig(output=str(tmp_path), users=1000, seed=5))
  advertisers = _rows(summary["paths"][synthetic.ADVERTISERS])
  category = {row[schema.CATALOG_ADVERTISER_ID]: row[schema.CATALOG_CATEGORY]
              for row in advertisers}
  assert len(category) == synthetic.SyntheticConfig(output="").advertisers
  assert len(set(category.values())) == 40
  rows = _rows(summary["paths"][synthetic.EVENTS])
  conversions = [row[schema.RAW_ADVERTISER_ID] for row in rows
                 if row[schema.RAW_EVENT_TYPE] in CONVERSION_TYPES]
  by_advertiser = collections.Counter(conversions)
  # The 100 most popular advertisers take only about half the conversions.
  top_100 = sum(n for _, n in by_advertiser.most_common(100))
  assert 0.35 < top_100 / len(conversions) < 0.65
  # Users convert in few categories; all users together in many.
  by_user = collections.defaultdict(collections.Counter)
  for row in rows:
    if row[schema.RAW_EVENT_TYPE] in CONVERSION_TYPES:
      by_user[row[schema.RAW_USER_ID]][
          category[row[schema.RAW_ADVERTISER_ID]]] += 1
  active = [counts for counts in by_user.values()
            if sum(counts.values()) >= 8]
  assert len(active) > 100
  in_top_3 = sum(sum(n for _, n in counts.most_common(3)) for counts in active)
  assert in_top_3 / sum(sum(counts.values()) for counts in active) > 0.7
  overall = collections.Counter(category[a] for a in conversions)
  assert sum(n for _, n in overall.most_common(3)) / len(conversions) < 0.4


def _conversion_kinds(summary: dict) -> List[Tuple[str, str, str, str]]:
  """(user, category, advertiser, kind) of every add-to-cart."""
  items = _rows(summary["paths"][synthetic.ITEMS])
  rows = _rows(summary["paths"][synthetic.EVENTS])
  kind_of = dict(zip((row[schema.CATALOG_ITEM_ID] for row in items),
                     summary["item_kinds"]))
  return [(row[schema.RAW_USER_ID], kind_of[row[schema.RAW_ITEM_ID]]
           .split("/")[0], row[schema.RAW_ADVERTISER_ID],
           kind_of[row[schema.RAW_ITEM_ID]]) for row in rows
          if row[schema.RAW_EVENT_TYPE] == ADD_TO_CART]


def _same_kind_across_advertisers(summary: dict) -> float:
  """Of a user's carts in one category at two advertisers, the share of
  pairs of one kind."""
  by_user_category = collections.defaultdict(list)
  for user, category, advertiser, kind in _conversion_kinds(summary):
    by_user_category[user, category].append((advertiser, kind))
  same = pairs = 0
  for carts in by_user_category.values():
    for i, (advertiser, kind) in enumerate(carts):
      for other_advertiser, other_kind in carts[:i]:
        if advertiser != other_advertiser:
          pairs += 1
          same += kind == other_kind
  assert pairs > 100
  return same / pairs


def test_users_convert_on_their_kind_across_advertisers(tmp_path,
                                                         monkeypatch):
  settings = dict(users=1500, advertisers=40, items=600, days=30)
  kinds = _generate(tmp_path / "kinds", **settings)
  monkeypatch.setattr(synthetic_catalog, "_KIND_AFFINITY", 0.0)
  plain = _generate(tmp_path / "plain", **settings)
  # Without the preference, two carts share a kind by chance.
  assert (_same_kind_across_advertisers(kinds) >
          _same_kind_across_advertisers(plain) + 0.15)

  # Kinds change which item a view and its conversions are of, and nothing
  # else: without the preference, the items are those of a world without
  # kinds, and every other column is the same either way.
  rows = _rows(kinds["paths"][synthetic.EVENTS])
  plain_rows = _rows(plain["paths"][synthetic.EVENTS])
  assert len(rows) == len(plain_rows)
  other_columns = [c for c in schema.RAW_COLUMNS if c != schema.RAW_ITEM_ID]
  assert all([row[c] for c in other_columns] ==
             [before[c] for c in other_columns]
             for row, before in zip(rows, plain_rows))
  changed = sum(row[schema.RAW_ITEM_ID] != before[schema.RAW_ITEM_ID]
                for row, before in zip(rows, plain_rows))
  assert changed > len(rows) // 10


def _eval_cutoff(rows: List[dict]) -> int:
  """beam.preprocess's default eval cutoff, computed anew: the latest event
  minus 7 days, rounded down to the day."""
  latest = max(_epoch(row[schema.RAW_TIMESTAMP]) for row in rows)
  cutoff = latest - 7 * 86400
  return cutoff - cutoff % 86400


def test_cold_start_items_appear_only_after_the_eval_cutoff(tmp_path):
  settings = dict(users=1500, advertisers=40, items=400, days=42, seed=11)
  plain = _generate(tmp_path / "plain", **settings)
  summary = _generate(tmp_path / "cold", cold_start_fraction=0.1, **settings)
  plain_rows = _rows(plain["paths"][synthetic.EVENTS])
  rows = _rows(summary["paths"][synthetic.EVENTS])
  items = _rows(summary["paths"][synthetic.ITEMS])
  cold = set(summary["cold_start_items"])
  with open(summary["paths"][synthetic.COLD_START], encoding="utf-8") as f:
    assert f.read().splitlines() == summary["cold_start_items"]
  assert len(cold) == 40
  cutoff = _eval_cutoff(rows)
  assert summary["eval_cutoff"] == datetime.datetime.fromtimestamp(
      cutoff, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

  # Never at or before the cutoff; after it, viewed and converted with.
  cold_events = [row for row in rows if row[schema.RAW_ITEM_ID] in cold]
  assert all(_epoch(row[schema.RAW_TIMESTAMP]) > cutoff
             for row in cold_events)
  assert len({row[schema.RAW_ITEM_ID] for row in cold_events}) >= 20
  converted = {row[schema.RAW_ITEM_ID] for row in cold_events
               if row[schema.RAW_EVENT_TYPE] in CONVERSION_TYPES}
  assert len(converted) >= 5

  # Only the item ids of early journeys change, each to an established item
  # of the same advertiser; every advertiser keeps one.
  advertiser_of_item = {row[schema.CATALOG_ITEM_ID]:
                        row[schema.CATALOG_ADVERTISER_ID] for row in items}
  assert len(rows) == len(plain_rows) == summary["events"]
  changed = 0
  for row, before in zip(rows, plain_rows):
    if row == before:
      continue
    changed += 1
    assert {k for k in row if row[k] != before[k]} == {schema.RAW_ITEM_ID}
    assert before[schema.RAW_ITEM_ID] in cold
    assert row[schema.RAW_ITEM_ID] not in cold
    assert advertiser_of_item[row[schema.RAW_ITEM_ID]] == row[
        schema.RAW_ADVERTISER_ID]
    # Its journey started at or before the cutoff (and lasts minutes).
    assert _epoch(row[schema.RAW_TIMESTAMP]) <= cutoff + 86400
  assert changed > 100
  assert set(advertiser_of_item.values()) == {
      advertiser for item, advertiser in advertiser_of_item.items()
      if item not in cold}
"""A synthetic offsite event log whose next conversion depends on event order.

The generative model, in the order it runs:

* Catalog. Advertisers fall into categories (e.g. 12); both have Zipf-like
  popularity. Categories form a random cycle of complements (say travel ->
  finance -> ...), and every advertiser A has one complementary partner B
  drawn by popularity from the complement of A's category. Items belong to an
  advertiser (and its category), more of them to popular advertisers, with
  Zipf-like popularity within it and a log-normal price around the
  advertiser's price level.
* Users. Each has 1-3 latent category interests and a heavy-tailed
  (log-normal) activity rate that sets how many shopping journeys it makes.
  Before each journey an interest is swapped for a random category with a
  small probability (interest drift).
* Journeys, one advertiser each, chosen from the previous journey:
  after a checkout at A, A's partner with ``partner_probability``; otherwise
  A again (a return, likelier after an abandoned cart); otherwise an
  advertiser of A's category with ``same_category_probability``; otherwise,
  rarely, any category (exploration); otherwise one of the user's interests.
  Within a category the advertiser follows popularity.
* Funnel. A journey is a geometric number of item views, then possibly an
  add-to-cart of the last viewed item and a checkout of it (sometimes
  preceded by a signup: an account made at checkout); a rare view-only
  journey ends in a newsletter signup. Partner and return journeys convert
  far more often, journeys outside the user's interests less.
* Time. Events of a journey are tens of seconds to minutes apart; the
  journeys of a user are separated by heavy-tailed idle gaps (at least ten
  minutes, up to days) scaled so that they spread over ``days``.
* Files. Events are written in hourly batches, shuffled within the hour, as
  real logs are: sorted by neither user nor time. With ``corrupt_fraction``
  extra malformed rows (``CORRUPTION_KINDS``) are added, each a modified copy
  of a valid row, so the valid rows are the same with or without them; their
  counts go to ``corruptions.json``.

A popularity ranking misses most of this (users convert within their own
interests); a model of the recent sequence sees the partner and category of
the last journeys and the user's interests. The same seed gives byte-identical
files.

    python -m tfrs_adcg.synthetic --output raw/ --users 5000 --format csv
"""

import argparse
import collections
import csv
import dataclasses
import datetime
import json
import logging
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tfrs_adcg import schema

# Event types.
VIEW = "view"
ADD_TO_CART = "add_to_cart"
CHECKOUT = "checkout"
SIGNUP = "signup"
EVENT_TYPES = (VIEW, ADD_TO_CART, CHECKOUT, SIGNUP)
CONVERSION_TYPES = (ADD_TO_CART, CHECKOUT, SIGNUP)

# Output files: ``<name>.<format extension>`` and the corruption counts.
EVENTS = "events"
ADVERTISERS = "advertisers"
ITEMS = "items"
CORRUPTIONS = "corruptions"
CORRUPTIONS_FILE = "corruptions.json"
FORMATS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}

# Catalog columns besides those named in schema.
AVG_PRICE = "avg_price"
NUM_ITEMS = "num_items"
BRAND_STRENGTH = "brand_strength"
PRICE = "price"
ADVERTISER_COLUMNS = (schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY,
                      AVG_PRICE, NUM_ITEMS, BRAND_STRENGTH)
ITEM_COLUMNS = (schema.RAW_ITEM_ID, schema.CATALOG_ADVERTISER_ID,
                schema.CATALOG_CATEGORY, PRICE)

# Malformed-row kinds injected by ``corrupt_fraction``.
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
MISSING_USER_ID = "missing_user_id"
MISSING_ADVERTISER_ID = "missing_advertiser_id"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
DUPLICATE = "duplicate"
CORRUPTION_KINDS = (BAD_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE, MISSING_USER_ID,
                    MISSING_ADVERTISER_ID, UNKNOWN_EVENT_TYPE, DUPLICATE)
_UNPARSABLE_TIMESTAMPS = ("2026-02-30T25:61:00Z", "n/a", "12/31/2025 25:00",
                          "yesterday", "1700000000x")
_OUT_OF_RANGE_DATES = ("1970-01-01", "2100-01-01")
_UNKNOWN_EVENT_TYPES = ("click", "wishlist", "page_ping")

_CATEGORY_NAMES = ("apparel", "electronics", "travel", "beauty", "home",
                   "grocery", "sports", "toys", "finance", "automotive",
                   "books", "pets")

# Journey modes: how the advertiser of a journey was chosen.
_PARTNER, _RETURN, _SAME_CATEGORY, _EXPLORE, _INTEREST = range(5)
# Probability of an add-to-cart per mode, before the interest factor.
_CART_PROBABILITY = np.array([0.45, 0.32, 0.13, 0.05, 0.13])
# Multiplies the cart probability of non-partner journeys in / outside the
# user's interests (a partner journey's intent comes from the checkout).
_IN_INTEREST_FACTOR = 1.3
_OUT_OF_INTEREST_FACTOR = 0.6
_CHECKOUT_GIVEN_CART = 0.4
_SIGNUP_AT_CHECKOUT = 0.2
_SIGNUP_WITHOUT_CART = 0.01
_MEAN_VIEWS = 4.0
# Previous journey's outcome: 0 views only, 1 abandoned cart, 2 checkout.
_RETURN_PROBABILITY = np.array([0.12, 0.45, 0.05])
_EXPLORE_PROBABILITY = 0.1
_INTEREST_COUNT_PROBABILITIES = (0.35, 0.4, 0.25)  # 1, 2 or 3 interests.
_ACTIVITY_SIGMA = 1.0  # Log-normal spread of the users' journey rates.
_MAX_JOURNEYS_PER_DAY = 6
_MIN_EVENT_GAP_SECONDS = 5
_MEAN_EVENT_GAP_SECONDS = 60.0
_MIN_IDLE_SECONDS = 600
_IDLE_SIGMA = 1.3  # Log-normal spread of the idle gaps between journeys.
_PARTNER_IDLE_FACTOR = 0.2  # Partner journeys follow the checkout sooner.
_DAY_SECONDS = 86400


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """What to generate and where.

  Attributes:
    output: Directory to write the files into (created if missing).
    users: Number of users; each makes at least one journey.
    advertisers: Number of advertisers (at least 2).
    items: Number of items (at least one per advertiser).
    days: Length of the log in days.
    seed: Seed of every random draw: same seed, same bytes.
    file_format: One of ``FORMATS``.
    corrupt_fraction: Malformed rows to add, as a fraction of valid events.
    start: First day of the log, ISO-8601 date (UTC).
    categories: Number of advertiser categories (at most ``advertisers``).
    journeys_per_day: A user's mean number of journeys per day.
    partner_probability: After a checkout at A, chance that the next journey
      goes to A's partner.
    same_category_probability: Chance that a journey stays in the category of
      the previous one (when it is not a partner or return journey).
    drift_probability: Chance, before each journey, that one of the user's
      interests is replaced by a random category.
  """
  output: str
  users: int = 5000
  advertisers: int = 300
  items: int = 6000
  days: int = 60
  seed: int = 0
  file_format: str = "csv"
  corrupt_fraction: float = 0.0
  start: str = "2026-01-01"
  categories: int = 12
  journeys_per_day: float = 0.35
  partner_probability: float = 0.5
  same_category_probability: float = 0.35
  drift_probability: float = 0.03

  def __post_init__(self):
    if self.users < 1:
      raise ValueError(f"--users must be at least 1, got {self.users}.")
    if self.advertisers < 2:
      raise ValueError(
          f"--advertisers must be at least 2, got {self.advertisers}.")
    if self.items < self.advertisers:
      raise ValueError(
          f"--items ({self.items}) must be at least --advertisers "
          f"({self.advertisers}): every advertiser sells an item.")
    if self.days < 1:
      raise ValueError(f"--days must be at least 1, got {self.days}.")
    if self.file_format not in FORMATS:
      raise ValueError(f"--format must be one of {sorted(FORMATS)}, got "
                       f"{self.file_format!r}.")
    if not 0.0 <= self.corrupt_fraction < 1.0:
      raise ValueError("--corrupt_fraction must be in [0, 1), got "
                       f"{self.corrupt_fraction}.")
    if self.categories < 2:
      raise ValueError(
          f"categories must be at least 2, got {self.categories}.")
    for name in ("partner_probability", "same_category_probability",
                 "drift_probability"):
      if not 0.0 <= getattr(self, name) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got "
                         f"{getattr(self, name)}.")
    if self.journeys_per_day <= 0:
      raise ValueError(
          f"journeys_per_day must be positive, got {self.journeys_per_day}.")
    _start_epoch(self.start)


def _start_epoch(start: str) -> int:
  """Epoch seconds of the ISO-8601 date or datetime ``start``, read as UTC."""
  try:
    parsed = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
  except ValueError as error:
    raise ValueError(f"--start must be an ISO-8601 date such as 2026-01-01, "
                     f"got {start!r}.") from error
  if parsed.tzinfo is None:
    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
  return int(parsed.timestamp())


def _zipf_weights(n: int, exponent: float,
                  rng: np.random.Generator) -> np.ndarray:
  """Weights proportional to rank**-exponent, ranks in random order."""
  weights = (rng.permutation(n) + 1.0)**-exponent
  return weights / weights.sum()


def _padded_ids(prefix: str, n: int) -> np.ndarray:
  """``prefix_00..`` ids for 0..n-1 as an object array, zero padded."""
  width = len(str(n - 1))
  return np.array([f"{prefix}_{i:0{width}d}" for i in range(n)], dtype=object)


class _GroupSampler:
  """Draws a member of a given group with probability proportional to weight.

  Vectorized: ``sample(groups, uniforms)`` takes one group id and one uniform
  in [0, 1) per draw. Every group must have a member.
  """

  def __init__(self, groups: np.ndarray, weights: np.ndarray,
               num_groups: int):
    self._order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=num_groups)
    if not counts.all():
      raise ValueError("Every group needs at least one member.")
    self._ends = np.cumsum(counts)
    self._starts = self._ends - counts
    sorted_weights = weights[self._order]
    cumulative = np.cumsum(sorted_weights)
    before_group = np.repeat(
        cumulative[self._starts] - sorted_weights[self._starts], counts)
    group_totals = np.repeat(cumulative[self._ends - 1], counts) - before_group
    self._keys = (groups[self._order] +
                  (cumulative - before_group) / group_totals)

  def sample(self, groups: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    positions = np.searchsorted(self._keys, groups + uniforms)
    positions = np.clip(positions, self._starts[groups], self._ends[groups] - 1)
    return self._order[positions]


@dataclasses.dataclass(frozen=True)
class _Catalog:
  """Advertisers and items; arrays indexed by advertiser or item number."""
  category_names: np.ndarray  # [C] object
  category_popularity: np.ndarray  # [C]
  advertiser_category: np.ndarray  # [A] int
  partner: np.ndarray  # [A] int, in another category
  brand_strength: np.ndarray  # [A] in [0, 1]
  item_advertiser: np.ndarray  # [I] int
  item_price: np.ndarray  # [I]
  advertisers_in_category: _GroupSampler
  items_of_advertiser: _GroupSampler


def _make_catalog(config: SyntheticConfig,
                  rng: np.random.Generator) -> _Catalog:
  """Categories, advertisers with partners, and items with prices."""
  num_categories = min(config.categories, config.advertisers)
  names = list(_CATEGORY_NAMES[:num_categories]) + [
      f"category_{i}" for i in range(len(_CATEGORY_NAMES), num_categories)]
  category_popularity = _zipf_weights(num_categories, 0.7, rng)

  advertiser_popularity = _zipf_weights(config.advertisers, 1.0, rng)
  # Every category gets one advertiser, the rest follow category popularity.
  advertiser_category = np.concatenate([
      rng.permutation(num_categories),
      rng.choice(num_categories, config.advertisers - num_categories,
                 p=category_popularity)])
  advertisers_in_category = _GroupSampler(
      advertiser_category, advertiser_popularity, num_categories)
  cycle = rng.permutation(num_categories)
  complement = np.empty(num_categories, dtype=np.int64)
  complement[cycle] = np.roll(cycle, -1)
  partner = advertisers_in_category.sample(
      complement[advertiser_category], rng.random(config.advertisers))

  log_popularity = np.log(advertiser_popularity)
  brand_strength = np.clip(
      0.5 + 0.15 * (log_popularity - log_popularity.mean()) /
      log_popularity.std() + rng.normal(0.0, 0.1, config.advertisers), 0, 1)

  # One item per advertiser, the rest by popularity.
  item_advertiser = np.concatenate([
      np.arange(config.advertisers),
      rng.choice(config.advertisers, config.items - config.advertisers,
                 p=advertiser_popularity)])
  category_price = rng.lognormal(3.5, 0.8, num_categories)
  advertiser_price = (category_price[advertiser_category] *
                      rng.lognormal(0.0, 0.3, config.advertisers))
  item_price = np.round(
      advertiser_price[item_advertiser] * rng.lognormal(0.0, 0.4, config.items),
      2)
  item_popularity = (
      rng.permutation(config.items) % 50 + 1.0)**-1.0  # Zipf-like, cut at 50.
  items_of_advertiser = _GroupSampler(item_advertiser, item_popularity,
                                      config.advertisers)
  return _Catalog(
      category_names=np.array(names, dtype=object),
      category_popularity=category_popularity,
      advertiser_category=advertiser_category,
      partner=partner,
      brand_strength=np.round(brand_strength, 3),
      item_advertiser=item_advertiser,
      item_price=item_price,
      advertisers_in_category=advertisers_in_category,
      items_of_advertiser=items_of_advertiser)


@dataclasses.dataclass(frozen=True)
class _Journeys:
  """One row per journey, ordered by user, then time."""
  user: np.ndarray  # user number
  advertiser: np.ndarray
  mode: np.ndarray  # how the advertiser was chosen: _PARTNER, ...
  views: np.ndarray  # >= 1
  cart: np.ndarray  # bool
  signup: np.ndarray  # bool
  checkout: np.ndarray  # bool (implies cart)


def _simulate_journeys(config: SyntheticConfig, catalog: _Catalog,
                       rng: np.random.Generator) -> _Journeys:
  """Runs every user's journeys, one journey step for all users at a time."""
  num_categories = len(catalog.category_names)
  rates = config.journeys_per_day * rng.lognormal(
      -_ACTIVITY_SIGMA**2 / 2, _ACTIVITY_SIGMA, config.users)
  num_journeys = np.minimum(1 + rng.poisson(rates * config.days),
                            _MAX_JOURNEYS_PER_DAY * config.days)
  # Users by descending journey count: step j concerns the first active ones.
  users = np.argsort(-num_journeys, kind="stable")
  num_journeys = num_journeys[users]
  active_at_step = np.searchsorted(-num_journeys, -np.arange(num_journeys[0]),
                                   side="right")
  category_cdf = np.cumsum(catalog.category_popularity)

  def random_categories(n):
    return np.minimum(np.searchsorted(category_cdf, rng.random(n)),
                      num_categories - 1)

  num_interests = rng.choice([1, 2, 3], config.users,
                             p=_INTEREST_COUNT_PROBABILITIES)
  interests = random_categories(3 * config.users).reshape(config.users, 3)
  last_advertiser = np.full(config.users, -1)  # -1: no journey yet.
  last_outcome = np.zeros(config.users, dtype=np.int64)
  steps = collections.defaultdict(list)
  logging.info("Simulating %d journeys of %d users.", num_journeys.sum(),
               config.users)
  for active in active_at_step:
    slot = (rng.random(active) * num_interests[:active]).astype(np.int64)
    drift = np.flatnonzero(rng.random(active) < config.drift_probability)
    interests[drift, slot[drift]] = random_categories(len(drift))

    previous = last_advertiser[:active]
    outcome = last_outcome[:active]
    seen = previous >= 0
    draws = rng.random((4, active))
    mode = np.full(active, _INTEREST)
    mode[draws[3] < _EXPLORE_PROBABILITY] = _EXPLORE
    mode[seen & (draws[2] < config.same_category_probability)] = _SAME_CATEGORY
    mode[seen & (draws[1] < _RETURN_PROBABILITY[outcome])] = _RETURN
    mode[(outcome == 2) &
         (draws[0] < config.partner_probability)] = _PARTNER

    category = interests[np.arange(active), slot]
    category[mode == _EXPLORE] = random_categories(
        np.count_nonzero(mode == _EXPLORE))
    category = np.where(mode == _SAME_CATEGORY,
                        catalog.advertiser_category[previous], category)
    advertiser = catalog.advertisers_in_category.sample(category,
                                                        rng.random(active))
    advertiser = np.where(mode == _RETURN, previous, advertiser)
    advertiser = np.where(mode == _PARTNER, catalog.partner[previous],
                          advertiser)

    in_interest = (
        (interests[:active] == catalog.advertiser_category[advertiser][:, None])
        & (np.arange(3) < num_interests[:active, None])).any(axis=1)
    cart_probability = _CART_PROBABILITY[mode] * np.where(
        mode == _PARTNER, 1.0,
        np.where(in_interest, _IN_INTEREST_FACTOR, _OUT_OF_INTEREST_FACTOR))
    funnel = rng.random((3, active))
    cart = funnel[0] < cart_probability
    checkout = cart & (funnel[1] < _CHECKOUT_GIVEN_CART)
    signup = np.where(checkout, funnel[2] < _SIGNUP_AT_CHECKOUT,
                      ~cart & (funnel[2] < _SIGNUP_WITHOUT_CART))

    steps["user"].append(users[:active])
    steps["advertiser"].append(advertiser)
    steps["mode"].append(mode)
    steps["views"].append(rng.geometric(1.0 / _MEAN_VIEWS, active))
    steps["cart"].append(cart)
    steps["signup"].append(signup)
    steps["checkout"].append(checkout)
    last_advertiser[:active] = advertiser
    last_outcome[:active] = np.where(checkout, 2, np.where(cart, 1, 0))

  columns = {name: np.concatenate(parts) for name, parts in steps.items()}
  step = np.concatenate([np.full(n, j) for j, n in enumerate(active_at_step)])
  order = np.lexsort((step, columns["user"]))
  return _Journeys(**{name: values[order] for name, values in columns.items()})


@dataclasses.dataclass(frozen=True)
class _Events:
  """Valid events, ordered by user, then time."""
  user: np.ndarray
  seconds: np.ndarray  # epoch seconds
  event_type: np.ndarray  # index into EVENT_TYPES
  item: np.ndarray  # -1 for none
  advertiser: np.ndarray


def _expand_events(config: SyntheticConfig, catalog: _Catalog,
                   journeys: _Journeys, rng: np.random.Generator) -> _Events:
  """Turns journeys into timed events: views, then cart, signup, checkout."""
  num = len(journeys.user)
  journey_index = np.arange(num)
  # Views, each of an item of the journey's advertiser.
  view_journey = np.repeat(journey_index, journeys.views)
  view_ends = np.cumsum(journeys.views)
  view_position = np.arange(len(view_journey)) - np.repeat(
      view_ends - journeys.views, journeys.views)
  view_item = catalog.items_of_advertiser.sample(
      journeys.advertiser[view_journey], rng.random(len(view_journey)))
  # Conversions, of the journey's last viewed item; a signup has no item.
  present = np.stack([journeys.cart, journeys.signup, journeys.checkout], 1)
  extra_journey = np.repeat(journey_index, 3)[present.ravel()]
  extra_type = np.tile(
      [EVENT_TYPES.index(t) for t in (ADD_TO_CART, SIGNUP, CHECKOUT)],
      num)[present.ravel()]
  extra_position = (journeys.views[extra_journey] +
                    (np.cumsum(present, 1) - 1).ravel()[present.ravel()])
  extra_item = np.where(extra_type == EVENT_TYPES.index(SIGNUP), -1,
                        view_item[view_ends[extra_journey] - 1])

  journey = np.concatenate([view_journey, extra_journey])
  position = np.concatenate([view_position, extra_position])
  order = np.lexsort((position, journey))
  journey, position = journey[order], position[order]
  event_type = np.concatenate(
      [np.zeros(len(view_journey), dtype=np.int64), extra_type])[order]
  item = np.concatenate([view_item, extra_item])[order]

  # Offsets within a journey: gaps of seconds to minutes.
  gaps = np.where(
      position == 0, 0, _MIN_EVENT_GAP_SECONDS +
      rng.exponential(_MEAN_EVENT_GAP_SECONDS, len(journey)).astype(np.int64))
  elapsed = np.cumsum(gaps)
  journey_events = np.bincount(journey, minlength=num)
  first_event = np.cumsum(journey_events) - journey_events
  offset = elapsed - elapsed[first_event][journey]
  duration = offset[first_event + journey_events - 1]

  # Journey starts: heavy-tailed idle gaps, scaled to spread over the days.
  journeys_of_user = np.bincount(journeys.user, minlength=config.users)
  user_first = np.cumsum(journeys_of_user) - journeys_of_user
  raw_idle = rng.lognormal(0.0, _IDLE_SIGMA, num) * np.where(
      journeys.mode == _PARTNER, _PARTNER_IDLE_FACTOR, 1.0)
  raw_tail = rng.lognormal(0.0, _IDLE_SIGMA, config.users)
  spare = (config.days * _DAY_SECONDS - np.bincount(
      journeys.user, duration, config.users) - _MIN_IDLE_SECONDS *
           journeys_of_user)
  scale = np.maximum(spare, 0.0) / (
      np.bincount(journeys.user, raw_idle, config.users) + raw_tail)
  idle = _MIN_IDLE_SECONDS + scale[journeys.user] * raw_idle
  previous_duration = np.concatenate([[0], duration[:-1]])
  previous_duration[user_first[journeys_of_user > 0]] = 0
  advance = np.cumsum(idle + previous_duration)
  user_base = advance[user_first] - idle[user_first]
  start = np.floor(advance - user_base[journeys.user]).astype(np.int64)
  start_of_log = _start_epoch(config.start) - _MIN_IDLE_SECONDS
  seconds = start_of_log + start[journey] + offset
  return _Events(
      user=journeys.user[journey],
      seconds=seconds,
      event_type=event_type,
      item=item,
      advertiser=journeys.advertiser[journey])


def _event_rows(config: SyntheticConfig, events: _Events,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
  """The valid events as string columns, in hourly shuffled batches."""
  order = np.lexsort((rng.random(len(events.user)), events.seconds // 3600))
  # Item -1 (a signup's) indexes the appended empty id.
  item_ids = np.append(_padded_ids("item", config.items), schema.STRING_PAD)
  timestamps = np.datetime_as_string(
      events.seconds[order].astype("datetime64[s]"), unit="s",
      timezone="UTC").astype(object)
  return {
      schema.RAW_USER_ID: _padded_ids("user", config.users)[events.user[order]],
      schema.RAW_TIMESTAMP: timestamps,
      schema.RAW_EVENT_TYPE: np.array(EVENT_TYPES,
                                      dtype=object)[events.event_type[order]],
      schema.RAW_ITEM_ID: item_ids[events.item[order]],
      schema.RAW_ADVERTISER_ID: _padded_ids(
          "adv", config.advertisers)[events.advertiser[order]],
  }


def _corrupt(rows: Dict[str, np.ndarray], fraction: float,
             rng: np.random.Generator) -> Dict[str, int]:
  """Inserts malformed copies of random valid rows into ``rows`` in place.

  Each kind gets ``fraction`` of the valid rows split evenly (at least one
  row when ``fraction`` > 0). A copy lands next to its original's position,
  as a replayed or garbled record would.

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
  bad = rows_of(BAD_TIMESTAMP)
  timestamp[bad] = np.array(_UNPARSABLE_TIMESTAMPS, dtype=object)[
      rng.integers(len(_UNPARSABLE_TIMESTAMPS), size=len(bad))]
  out_of_range = rows_of(TIMESTAMP_OUT_OF_RANGE)
  dates = np.array(_OUT_OF_RANGE_DATES, dtype=object)[
      rng.integers(len(_OUT_OF_RANGE_DATES), size=len(out_of_range))]
  timestamp[out_of_range] = dates + np.array(
      [t[10:] for t in timestamp[out_of_range]], dtype=object)
  copies[schema.RAW_USER_ID][rows_of(MISSING_USER_ID)] = schema.STRING_PAD
  copies[schema.RAW_ADVERTISER_ID][rows_of(MISSING_ADVERTISER_ID)] = (
      schema.STRING_PAD)
  unknown = rows_of(UNKNOWN_EVENT_TYPE)
  copies[schema.RAW_EVENT_TYPE][unknown] = np.array(
      _UNKNOWN_EVENT_TYPES, dtype=object)[rng.integers(
          len(_UNKNOWN_EVENT_TYPES), size=len(unknown))]

  # Each copy goes right after its source (stable order among equal keys).
  order = np.argsort(
      np.concatenate([np.arange(num_valid), sources + 0.5]), kind="stable")
  for name in rows:
    rows[name] = np.concatenate([rows[name], copies[name]])[order]
  return {name: per_kind for name in CORRUPTION_KINDS}


def _write_table(path: str, columns: Dict[str, np.ndarray],
                 file_format: str) -> None:
  """Writes equally long columns as CSV (with header), JSON Lines or Parquet."""
  names = list(columns)
  if file_format == "parquet":
    import pyarrow as pa  # pylint: disable=g-import-not-at-top
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    table = pa.table({
        name: pa.array(values.tolist() if values.dtype == object else values)
        for name, values in columns.items()})
    pq.write_table(table, path)
    return
  values = [column.tolist() for column in columns.values()]
  with open(path, "w", newline="", encoding="utf-8") as f:
    if file_format == "csv":
      writer = csv.writer(f, lineterminator="\n")
      writer.writerow(names)
      writer.writerows(zip(*values))
    else:
      encode = json.JSONEncoder(ensure_ascii=False).encode
      f.writelines(encode(dict(zip(names, row))) + "\n"
                   for row in zip(*values))


def _catalog_tables(
    config: SyntheticConfig, catalog: _Catalog
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
  """The advertiser and item catalogs as columns."""
  advertiser_ids = _padded_ids("adv", config.advertisers)
  num_items = np.bincount(catalog.item_advertiser,
                          minlength=config.advertisers)
  avg_price = np.round(
      np.bincount(catalog.item_advertiser, catalog.item_price,
                  config.advertisers) / num_items, 2)
  advertisers = dict(
      zip(ADVERTISER_COLUMNS, (
          advertiser_ids,
          catalog.category_names[catalog.advertiser_category],
          avg_price,
          num_items.astype(np.int64),
          catalog.brand_strength,
      )))
  items = dict(
      zip(ITEM_COLUMNS, (
          _padded_ids("item", config.items),
          advertiser_ids[catalog.item_advertiser],
          catalog.category_names[
              catalog.advertiser_category[catalog.item_advertiser]],
          catalog.item_price,
      )))
  return advertisers, items


def generate(config: SyntheticConfig) -> dict:
  """Writes the event log, both catalogs and ``CORRUPTIONS_FILE``.

  Returns:
    ``events`` (valid events), ``rows`` (lines of the event file without
    header, corruptions included), ``event_types`` (valid events per type),
    ``conversion_share``, ``users``, ``advertisers``, ``items``,
    ``corruptions`` (rows added per kind) and ``paths`` (the file of
    ``EVENTS``, ``ADVERTISERS``, ``ITEMS`` and ``CORRUPTIONS``).
  """
  simulation_rng, corruption_rng = (
      np.random.default_rng(seed)
      for seed in np.random.SeedSequence(config.seed).spawn(2))
  catalog = _make_catalog(config, simulation_rng)
  journeys = _simulate_journeys(config, catalog, simulation_rng)
  events = _expand_events(config, catalog, journeys, simulation_rng)
  rows = _event_rows(config, events, simulation_rng)
  corruptions = _corrupt(rows, config.corrupt_fraction, corruption_rng)
  advertisers, items = _catalog_tables(config, catalog)

  os.makedirs(config.output, exist_ok=True)
  extension = FORMATS[config.file_format]
  paths = {name: os.path.join(config.output, f"{name}.{extension}")
           for name in (EVENTS, ADVERTISERS, ITEMS)}
  paths[CORRUPTIONS] = os.path.join(config.output, CORRUPTIONS_FILE)
  num_rows = len(rows[schema.RAW_USER_ID])
  logging.info("Writing %d event rows to %s.", num_rows, paths[EVENTS])
  _write_table(paths[EVENTS], rows, config.file_format)
  _write_table(paths[ADVERTISERS], advertisers, config.file_format)
  _write_table(paths[ITEMS], items, config.file_format)
  with open(paths[CORRUPTIONS], "w", encoding="utf-8") as f:
    json.dump(corruptions, f, indent=2, sort_keys=True)
    f.write("\n")

  type_counts = np.bincount(events.event_type, minlength=len(EVENT_TYPES))
  event_types = dict(zip(EVENT_TYPES, type_counts.tolist()))
  return {
      "events": len(events.user),
      "rows": num_rows,
      "event_types": event_types,
      "conversion_share":
          sum(event_types[t] for t in CONVERSION_TYPES) / len(events.user),
      "users": config.users,
      "advertisers": config.advertisers,
      "items": config.items,
      "corruptions": corruptions,
      "paths": paths,
  }


def _parse_args(argv: Optional[Sequence[str]]) -> SyntheticConfig:
  defaults = SyntheticConfig(output="")
  parser = argparse.ArgumentParser(
      prog="python -m tfrs_adcg.synthetic",
      description="Writes a synthetic offsite event log and its catalogs.")
  parser.add_argument("--output", required=True,
                      help="Directory for events, advertisers and items.")
  parser.add_argument("--users", type=int, default=defaults.users)
  parser.add_argument("--advertisers", type=int, default=defaults.advertisers)
  parser.add_argument("--items", type=int, default=defaults.items)
  parser.add_argument("--days", type=int, default=defaults.days)
  parser.add_argument("--seed", type=int, default=defaults.seed)
  parser.add_argument("--format", dest="file_format", choices=sorted(FORMATS),
                      default=defaults.file_format)
  parser.add_argument(
      "--corrupt_fraction", type=float, default=defaults.corrupt_fraction,
      help="Malformed rows to add, as a fraction of the valid events.")
  parser.add_argument("--start", default=defaults.start,
                      help="First day of the log, ISO-8601 (UTC).")
  args = parser.parse_args(argv)
  try:
    return SyntheticConfig(**vars(args))
  except ValueError as error:
    parser.error(str(error))


def main(argv: Optional[Sequence[str]] = None) -> dict:
  """Command line entry point; returns what ``generate`` returns."""
  logging.basicConfig(level=logging.INFO,
                      format="%(asctime)s %(levelname)s %(message)s")
  config = _parse_args(argv)
  summary = generate(config)
  types = ", ".join(f"{t}={n}" for t, n in summary["event_types"].items())
  print(f"Wrote {summary['events']} events ({types}) of {summary['users']} "
        f"users to {config.output}: conversions "
        f"{summary['conversion_share']:.1%} of events, "
        f"{sum(summary['corruptions'].values())} malformed rows added.")
  return summary


if __name__ == "__main__":
  main()

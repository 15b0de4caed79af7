"""A synthetic offsite event log whose next conversion depends on event order.

The generative model, in the order it runs:

* Catalog. Advertisers fall into categories, both with Zipf-like
  popularity. The defaults are sized like a small ad platform: 800
  advertisers in 40 categories, which are verticals as an ad taxonomy has
  them (shoes, flights, pet supplies rather than "apparel" or "travel"; with
  few advertisers, at most one category per ``_ADVERTISERS_PER_CATEGORY``).
  Advertiser popularity falls off as rank**-0.8, a long tail: conversions
  spread over many mid-sized advertisers, so the 100 most popular
  advertisers take only about half of them. Categories form a
  random cycle of complements (say flights -> hotels -> ...), and every
  advertiser A has one complementary partner B drawn by popularity from the
  complement of A's category. Items belong to an advertiser (and its
  category), more of them to popular advertisers, with Zipf-like popularity
  within it and a log-normal price around the advertiser's price level.
* Product kinds. Each category has ``_KINDS_PER_CATEGORY`` kinds of product
  (running shoes, hiking boots, sandals, ... within shoes), shared by its
  advertisers; an item's kind is drawn by the kinds' Zipf-like popularity.
  No catalog column says the kind: as in a real catalog it is in the
  product's content, hence in its pretrained vector. ``generate`` returns
  the kinds, for checks.
* Item embeddings (``item_embedding_dim`` > 0), as a pretrained content model
  would give them: a random centre per category, plus an offset per kind
  (shared across advertisers), a smaller one per advertiser (its style) and
  noise per item. Items of a kind point the same way whoever sells them;
  items of a category less so.
* Users. Each has 1-3 latent category interests (of the 40 narrow
  verticals, drawn by category popularity), a preferred kind in every
  category (drawn by kind popularity) and a heavy-tailed
  (log-normal) activity rate that sets how many shopping journeys it makes.
  Before each journey an interest is swapped for a random category with a
  small probability (interest drift).
* Journeys, one advertiser each, chosen from the previous journey:
  after a checkout at A, A's partner with ``partner_probability``; otherwise
  A again (a return, likelier after an abandoned cart); otherwise an
  advertiser of A's category with ``same_category_probability``; otherwise,
  rarely, any category (exploration); otherwise one of the user's interests.
  Within a category the advertiser follows popularity.
* Funnel. A journey is a geometric number of item views, each, with
  probability ``_KIND_AFFINITY``, of an item of the user's preferred kind
  when the advertiser sells one (else of any of its items), by item
  popularity; then possibly an
  add-to-cart of the last viewed item and a checkout of it (sometimes
  preceded by a signup: an account made at checkout); a rare view-only
  journey ends in a newsletter signup. Partner and return journeys convert
  far more often, journeys outside the user's interests less.
* Time. Events of a journey are tens of seconds to minutes apart; the
  journeys of a user are separated by heavy-tailed idle gaps (at least ten
  minutes, up to days) scaled so that they spread over ``days``.
* Cold start (``cold_start_fraction`` > 0). That share of the items is
  launched late: a journey starting at or before the eval cutoff that
  ``beam.preprocess`` picks by default (the latest event minus
  ``EVAL_LABEL_WINDOW_DAYS``, rounded down to the day) views another item of
  the same advertiser instead. Training examples never see these items; the
  eval label window holds their conversions. Their ids go to
  ``cold_start_items.txt``.
* Files. Events are written in hourly batches, shuffled within the hour, as
  real logs are: sorted by neither user nor time. With ``corrupt_fraction``
  extra malformed rows (``CORRUPTION_KINDS``) are added, each a modified copy
  of a valid row, so the valid rows are the same with or without them; their
  counts go to ``corruptions.json``.

A popularity ranking misses most of this (users convert within their own
narrow interests, and the long tail holds most conversions); the user's last
advertisers miss the partners and the other advertisers of the user's
categories; a model of the recent sequence sees the partner and category of
the last journeys and the user's interests. The same seed gives byte-identical
files. Embeddings and cold start draw from random streams of their own: with
either turned on, everything else is as without it (cold start changes the
item ids of early journeys only).

Item catalog formats: the embedding is a ``list<float32>`` column in Parquet, a
list of numbers in JSON Lines and the text of a JSON list in CSV.

    python -m tfrs_adcg.synthetic --output raw/ --users 5000 --format csv
    python -m tfrs_adcg.synthetic --output raw/ --format parquet \
        --item_embedding_dim 32 --cold_start_fraction 0.1
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
from tfrs_adcg import timestamps
from tfrs_adcg.schema import BAD_TIMESTAMP
from tfrs_adcg.schema import DUPLICATE
from tfrs_adcg.schema import MISSING_ADVERTISER_ID
from tfrs_adcg.schema import MISSING_USER_ID
from tfrs_adcg.schema import TIMESTAMP_OUT_OF_RANGE
from tfrs_adcg.schema import UNKNOWN_EVENT_TYPE

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
COLD_START = "cold_start"
COLD_START_FILE = "cold_start_items.txt"  # One item id a line.
# The default --label_window_days of beam.preprocess: its eval cutoff is the
# latest event minus these days, rounded down to the day.
EVAL_LABEL_WINDOW_DAYS = 7
FORMATS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}

# Catalog columns besides those named in schema.
AVG_PRICE = "avg_price"
NUM_ITEMS = "num_items"
BRAND_STRENGTH = "brand_strength"
PRICE = schema.CATALOG_PRICE
ADVERTISER_COLUMNS = (schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY,
                      AVG_PRICE, NUM_ITEMS, BRAND_STRENGTH)
# The item catalog ends with schema.CATALOG_EMBEDDING if item_embedding_dim.
ITEM_COLUMNS = (schema.CATALOG_ITEM_ID, schema.CATALOG_ADVERTISER_ID,
                schema.CATALOG_CATEGORY, PRICE)

# Malformed-row kinds injected by ``corrupt_fraction``: named as the
# dead-letter reasons preprocessing counts them under.
CORRUPTION_KINDS = (BAD_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE, MISSING_USER_ID,
                    MISSING_ADVERTISER_ID, UNKNOWN_EVENT_TYPE, DUPLICATE)
_UNPARSABLE_TIMESTAMPS = ("2026-02-30T25:61:00Z", "n/a", "12/31/2025 25:00",
                          "yesterday", "1700000000x")
_OUT_OF_RANGE_DATES = ("1970-01-01", "2100-01-01")
_UNKNOWN_EVENT_TYPES = ("click", "wishlist", "page_ping")

_CATEGORY_NAMES = (
    "womens_apparel", "mens_apparel", "shoes", "jewelry", "beauty",
    "fragrance", "phones", "computers", "audio", "video_games", "furniture",
    "home_decor", "kitchen", "garden", "home_improvement", "grocery",
    "meal_kits", "wine_and_spirits", "pet_supplies", "baby", "toys",
    "fitness", "outdoor", "cycling", "flights", "hotels", "car_rental",
    "vacation_rentals", "banking", "insurance", "investing", "car_dealers",
    "auto_parts", "books", "streaming", "online_courses", "software",
    "health", "pharmacy", "office_supplies")
# A category has at least this many advertisers on average: fewer advertisers
# mean fewer categories than ``SyntheticConfig.categories``.
_ADVERTISERS_PER_CATEGORY = 4
# Zipf exponents of the category and advertiser popularity.
_CATEGORY_ZIPF_EXPONENT = 0.7
_ADVERTISER_ZIPF_EXPONENT = 0.8

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
# Item embeddings: spread of a kind's offset from its category's centre, of an
# advertiser's offset and of an item's noise, relative to the spread of the
# category centres; values rounded to this many decimals.
_KIND_EMBEDDING_SPREAD = 0.8
_ADVERTISER_EMBEDDING_SPREAD = 0.4
_ITEM_EMBEDDING_SPREAD = 1.0
_EMBEDDING_DECIMALS = 4
# Product kinds: per category, their Zipf exponent, and the chance that a
# view is of the user's preferred kind (when the advertiser sells one).
_KINDS_PER_CATEGORY = 8
_KIND_ZIPF_EXPONENT = 0.8
_KIND_AFFINITY = 0.7


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
    categories: Number of advertiser categories; at most one per
      ``_ADVERTISERS_PER_CATEGORY`` advertisers (and at least 2) are made.
    journeys_per_day: A user's mean number of journeys per day.
    partner_probability: After a checkout at A, chance that the next journey
      goes to A's partner.
    same_category_probability: Chance that a journey stays in the category of
      the previous one (when it is not a partner or return journey).
    drift_probability: Chance, before each journey, that one of the user's
      interests is replaced by a random category.
    item_embedding_dim: Length of the items' pretrained embedding vectors;
      0 writes none.
    cold_start_fraction: Share of the items that appear in events only after
      the default eval cutoff of ``beam.preprocess``.
  """
  output: str
  users: int = 5000
  advertisers: int = 800
  items: int = 6000
  days: int = 60
  seed: int = 0
  file_format: str = "csv"
  corrupt_fraction: float = 0.0
  start: str = "2026-01-01"
  categories: int = 40
  journeys_per_day: float = 0.35
  partner_probability: float = 0.5
  same_category_probability: float = 0.35
  drift_probability: float = 0.03
  item_embedding_dim: int = 0
  cold_start_fraction: float = 0.0

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
    if self.item_embedding_dim < 0:
      raise ValueError("--item_embedding_dim must be 0 (none) or positive, "
                       f"got {self.item_embedding_dim}.")
    if not 0.0 <= self.cold_start_fraction < 1.0:
      raise ValueError("--cold_start_fraction must be in [0, 1), got "
                       f"{self.cold_start_fraction}.")
    if self.cold_start_items > self.items - self.advertisers:
      raise ValueError(
          f"--cold_start_fraction {self.cold_start_fraction} makes "
          f"{self.cold_start_items} of the {self.items} items new, but each "
          f"of the {self.advertisers} advertisers needs an item sold before.")
    if self.cold_start_items and self.days <= EVAL_LABEL_WINDOW_DAYS:
      raise ValueError(
          f"--cold_start_fraction needs more than {EVAL_LABEL_WINDOW_DAYS} "
          f"--days: the new items appear in the last {EVAL_LABEL_WINDOW_DAYS}.")
    _start_epoch(self.start)

  @property
  def cold_start_items(self) -> int:
    """The number of items launched after the eval cutoff."""
    return int(round(self.cold_start_fraction * self.items))


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
  item_popularity: np.ndarray  # [I], relative within the advertiser
  advertisers_in_category: _GroupSampler
  items_of_advertiser: _GroupSampler


def _make_catalog(config: SyntheticConfig,
                  rng: np.random.Generator) -> _Catalog:
  """Categories, advertisers with partners, and items with prices."""
  num_categories = min(
      config.categories,
      max(2, config.advertisers // _ADVERTISERS_PER_CATEGORY))
  names = list(_CATEGORY_NAMES[:num_categories]) + [
      f"category_{i}" for i in range(len(_CATEGORY_NAMES), num_categories)]
  category_popularity = _zipf_weights(num_categories, _CATEGORY_ZIPF_EXPONENT,
                                      rng)

  advertiser_popularity = _zipf_weights(config.advertisers,
                                        _ADVERTISER_ZIPF_EXPONENT, rng)
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
      item_popularity=item_popularity,
      advertisers_in_category=advertisers_in_category,
      items_of_advertiser=items_of_advertiser)


class _Kinds:
  """Product kinds of the items, and the users' preferred kind of each category.

  A kind is numbered ``category * _KINDS_PER_CATEGORY + j``.

  Args:
    config: The sizes.
    catalog: The catalog whose items get kinds.
    rng: The kinds' own random stream; ``view_items`` draws from it too.
  """

  def __init__(self, config: SyntheticConfig, catalog: _Catalog,
               rng: np.random.Generator):
    self._rng = rng
    num_categories = len(catalog.category_names)
    self._advertiser_category = catalog.advertiser_category
    self._items_of_advertiser = catalog.items_of_advertiser
    popularity = np.stack([
        _zipf_weights(_KINDS_PER_CATEGORY, _KIND_ZIPF_EXPONENT, rng)
        for _ in range(num_categories)])  # [C, K]
    cdf = np.cumsum(popularity, axis=1)

    def draw(categories: np.ndarray) -> np.ndarray:
      local = (rng.random(categories.shape)[..., None] >
               cdf[categories]).sum(axis=-1)
      return categories * _KINDS_PER_CATEGORY + np.minimum(
          local, _KINDS_PER_CATEGORY - 1)

    self.item_kind = draw(
        catalog.advertiser_category[catalog.item_advertiser])  # [I]
    self.preferred = draw(np.tile(np.arange(num_categories),
                                  (config.users, 1)))  # [U, C]
    # The (advertiser, kind) pairs that have items, sorted, and a sampler of
    # each pair's items.
    self._num_kinds = num_categories * _KINDS_PER_CATEGORY
    pair = catalog.item_advertiser * self._num_kinds + self.item_kind
    self._pairs, pair_index = np.unique(pair, return_inverse=True)
    self._items_of_pair = _GroupSampler(pair_index, catalog.item_popularity,
                                        len(self._pairs))

  def names(self, category_names: np.ndarray) -> np.ndarray:
    """Each item's kind as ``<category>/<j>``, object [I]."""
    category, local = np.divmod(self.item_kind, _KINDS_PER_CATEGORY)
    return np.array([f"{name}/{j}" for name, j in
                     zip(category_names[category], local)], dtype=object)

  def view_items(self, users: np.ndarray, advertisers: np.ndarray,
                 uniforms: np.ndarray) -> np.ndarray:
    """The items viewed at ``advertisers`` by ``users``, [N] each.

    With probability ``_KIND_AFFINITY``, an item of the user's preferred
    kind of the advertiser's category if the advertiser sells one; else any
    of its items. Either by item popularity, drawn with ``uniforms``.
    """
    kind = self.preferred[users, self._advertiser_category[advertisers]]
    pair = advertisers * self._num_kinds + kind
    position = np.minimum(np.searchsorted(self._pairs, pair),
                          len(self._pairs) - 1)
    use_kind = ((self._pairs[position] == pair) &
                (self._rng.random(len(users)) < _KIND_AFFINITY))
    items = self._items_of_advertiser.sample(advertisers, uniforms)
    items[use_kind] = self._items_of_pair.sample(position[use_kind],
                                                 uniforms[use_kind])
    return items


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
  journey: np.ndarray  # index into _Journeys


def _expand_events(config: SyntheticConfig, catalog: _Catalog,
                   kinds: _Kinds, journeys: _Journeys,
                   rng: np.random.Generator) -> _Events:
  """Turns journeys into timed events: views, then cart, signup, checkout."""
  num = len(journeys.user)
  journey_index = np.arange(num)
  # Views, each of an item of the journey's advertiser.
  view_journey = np.repeat(journey_index, journeys.views)
  view_ends = np.cumsum(journeys.views)
  view_position = np.arange(len(view_journey)) - np.repeat(
      view_ends - journeys.views, journeys.views)
  view_item = kinds.view_items(journeys.user[view_journey],
                               journeys.advertiser[view_journey],
                               rng.random(len(view_journey)))
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
      advertiser=journeys.advertiser[journey],
      journey=journey)


def _eval_cutoff(events: _Events) -> int:
  """The eval cutoff ``beam.preprocess`` picks by default for these events."""
  cutoff = events.seconds.max() - EVAL_LABEL_WINDOW_DAYS * _DAY_SECONDS
  return int(cutoff - cutoff % _DAY_SECONDS)


def _launch_late(config: SyntheticConfig, catalog: _Catalog, events: _Events,
                 rng: np.random.Generator
                 ) -> Tuple[_Events, np.ndarray, int]:
  """Keeps ``config.cold_start_items`` items out of the events until the cutoff.

  The late items are drawn among those beyond each advertiser's first, so
  every advertiser keeps an item sold from the start. A journey that starts
  at or before the eval cutoff and views a late item views, in its place,
  another item of that advertiser, drawn by popularity; one substitute per
  (journey, item), so the journey's cart and checkout follow its views.

  Returns:
    The events with those items substituted, the late items (ascending) and
    the eval cutoff in epoch seconds: every event of a late item is after it.
  """
  num_items = len(catalog.item_advertiser)
  num_advertisers = len(catalog.partner)
  late = np.sort(rng.choice(np.arange(num_advertisers, num_items),
                            config.cold_start_items, replace=False))
  is_late = np.zeros(num_items, dtype=bool)
  is_late[late] = True
  cutoff = _eval_cutoff(events)
  journey_start = np.full(events.journey.max() + 1, np.iinfo(np.int64).max)
  np.minimum.at(journey_start, events.journey, events.seconds)
  # Signups (item -1) index the last item; they are excluded first.
  substitute = ((events.item >= 0) &
                (journey_start[events.journey] <= cutoff) &
                is_late[events.item])
  keys, key_of_event = np.unique(
      events.journey[substitute] * num_items + events.item[substitute],
      return_inverse=True)
  on_time = np.flatnonzero(~is_late)
  on_time_of_advertiser = _GroupSampler(
      catalog.item_advertiser[on_time], catalog.item_popularity[on_time],
      num_advertisers)
  replacements = on_time[on_time_of_advertiser.sample(
      catalog.item_advertiser[keys % num_items], rng.random(len(keys)))]
  item = events.item.copy()
  item[substitute] = replacements[key_of_event]
  return dataclasses.replace(events, item=item), late, cutoff


def _item_embeddings(config: SyntheticConfig, catalog: _Catalog,
                     kinds: _Kinds, rng: np.random.Generator) -> np.ndarray:
  """Pretrained vectors [items, item_embedding_dim], rounded, as float64.

  An item's vector is its category's centre (about unit length) plus
  Gaussian offsets of its kind, its advertiser and its own, of the relative
  spreads ``_*_EMBEDDING_SPREAD``: the kind is what a content encoder sees
  most of, the seller's style a little, and the rest is noise.
  """
  dim = config.item_embedding_dim
  scale = dim**-0.5

  def offsets(count: int, spread: float) -> np.ndarray:
    return spread * rng.normal(0.0, scale, (count, dim))

  category = offsets(len(catalog.category_names), 1.0)
  kind = offsets(len(catalog.category_names) * _KINDS_PER_CATEGORY,
                 _KIND_EMBEDDING_SPREAD)
  advertiser = offsets(len(catalog.partner), _ADVERTISER_EMBEDDING_SPREAD)
  item = (category[catalog.advertiser_category[catalog.item_advertiser]] +
          kind[kinds.item_kind] + advertiser[catalog.item_advertiser] +
          offsets(len(catalog.item_advertiser), _ITEM_EMBEDDING_SPREAD))
  return np.round(item, _EMBEDDING_DECIMALS)


def _event_rows(config: SyntheticConfig, events: _Events,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
  """The valid events as string columns, in hourly shuffled batches."""
  order = np.lexsort((rng.random(len(events.user)), events.seconds // 3600))
  # Item -1 (a signup's) indexes the appended empty id.
  item_ids = np.append(_padded_ids("item", config.items), schema.STRING_PAD)
  times = np.datetime_as_string(
      events.seconds[order].astype("datetime64[s]"), unit="s",
      timezone="UTC").astype(object)
  return {
      schema.RAW_USER_ID: _padded_ids("user", config.users)[events.user[order]],
      schema.RAW_TIMESTAMP: times,
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


def _arrow_array(values: np.ndarray):
  """A column as an Arrow array; a 2-D one as list<float32>, a list a row."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top

  if values.ndim == 2:
    offsets = np.arange(0, values.size + 1, values.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values.astype(np.float32).ravel()))
  return pa.array(values.tolist() if values.dtype == object else values)


def _text_values(values: np.ndarray, file_format: str) -> list:
  """A column as Python values; a 2-D column's rows as lists, JSON in CSV."""
  rows = values.tolist()
  if values.ndim == 2 and file_format == "csv":
    encode = json.JSONEncoder().encode
    return [encode(row) for row in rows]
  return rows


def _write_table(path: str, columns: Dict[str, np.ndarray],
                 file_format: str) -> None:
  """Writes equally long columns as CSV (with header), JSON Lines or Parquet.

  A 2-D column holds a vector a row: list<float32> in Parquet, a list of
  numbers in JSON Lines, the text of a JSON list in CSV.
  """
  names = list(columns)
  if file_format == "parquet":
    import pyarrow as pa  # pylint: disable=g-import-not-at-top
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top

    table = pa.table({name: _arrow_array(values)
                      for name, values in columns.items()})
    pq.write_table(table, path)
    return
  values = [_text_values(column, file_format) for column in columns.values()]
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
    config: SyntheticConfig, catalog: _Catalog,
    item_embeddings: Optional[np.ndarray]
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
  if item_embeddings is not None:
    items[schema.CATALOG_EMBEDDING] = item_embeddings
  return advertisers, items


def generate(config: SyntheticConfig) -> dict:
  """Writes the event log, both catalogs, ``CORRUPTIONS_FILE`` and, with cold
  start, ``COLD_START_FILE``.

  Returns:
    ``events`` (valid events), ``rows`` (lines of the event file without
    header, corruptions included), ``event_types`` (valid events per type),
    ``conversion_share``, ``users``, ``advertisers``, ``items``,
    ``corruptions`` (rows added per kind), ``cold_start_items`` (ids of the
    late items), ``eval_cutoff`` (ISO-8601, the default eval cutoff of
    ``beam.preprocess``; None without cold start), ``item_kinds`` (each
    item's product kind, ``<category>/<j>``, in catalog order) and
    ``paths`` (the file of
    ``EVENTS``, ``ADVERTISERS``, ``ITEMS``, ``CORRUPTIONS`` and
    ``COLD_START``).
  """
  # Streams 0 and 1 as they ever were; new options draw from later ones.
  simulation_rng, corruption_rng, embedding_rng, cold_start_rng, kind_rng = (
      np.random.default_rng(seed)
      for seed in np.random.SeedSequence(config.seed).spawn(5))
  catalog = _make_catalog(config, simulation_rng)
  kinds = _Kinds(config, catalog, kind_rng)
  journeys = _simulate_journeys(config, catalog, simulation_rng)
  events = _expand_events(config, catalog, kinds, journeys, simulation_rng)
  late_items, cutoff = np.zeros(0, dtype=np.int64), None
  if config.cold_start_items:
    events, late_items, cutoff = _launch_late(config, catalog, events,
                                              cold_start_rng)
  rows = _event_rows(config, events, simulation_rng)
  corruptions = _corrupt(rows, config.corrupt_fraction, corruption_rng)
  item_embeddings = (_item_embeddings(config, catalog, kinds, embedding_rng)
                     if config.item_embedding_dim else None)
  advertisers, items = _catalog_tables(config, catalog, item_embeddings)
  late_item_ids = items[schema.CATALOG_ITEM_ID][late_items].tolist()

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
  if config.cold_start_items:
    paths[COLD_START] = os.path.join(config.output, COLD_START_FILE)
    with open(paths[COLD_START], "w", encoding="utf-8") as f:
      f.writelines(item_id + "\n" for item_id in late_item_ids)

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
      "cold_start_items": late_item_ids,
      "eval_cutoff": None if cutoff is None else timestamps.to_iso(cutoff),
      "item_kinds": kinds.names(catalog.category_names).tolist(),
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
  parser.add_argument(
      "--item_embedding_dim", type=int, default=defaults.item_embedding_dim,
      help="Length of the items' pretrained embedding vectors (0: none).")
  parser.add_argument(
      "--cold_start_fraction", type=float,
      default=defaults.cold_start_fraction,
      help="Share of the items that appear in events only after the default "
      "eval cutoff of beam.preprocess (the last label window).")
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
  if summary["cold_start_items"]:
    print(f"{len(summary['cold_start_items'])} items appear only after the "
          f"eval cutoff {summary['eval_cutoff']}: "
          f"{summary['paths'][COLD_START]}.")
  return summary


if __name__ == "__main__":
  main()

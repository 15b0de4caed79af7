"""The synthetic users' journeys, as timed events whose order matters.

* Users. Each has 1-3 latent category interests (drawn by category
  popularity) and a heavy-tailed (log-normal) activity rate that sets how
  many shopping journeys it makes. Before each journey an interest is
  swapped for a random category with a small probability (interest drift).
* Journeys, one advertiser each, chosen from the previous journey: after a
  checkout at A, A's partner with ``partner_probability``; otherwise A again
  (a return, likelier after an abandoned cart); otherwise an advertiser of
  A's category with ``same_category_probability``; otherwise, rarely, any
  category (exploration); otherwise one of the user's interests. Within a
  category the advertiser follows popularity.
* Funnel. A journey is a geometric number of item views, mostly of the
  user's preferred kind (``synthetic_catalog.Kinds.view_items``); then
  possibly an add-to-cart of the last viewed item and a checkout of it
  (sometimes preceded by a signup: an account made at checkout); a rare
  view-only journey ends in a newsletter signup. Partner and return journeys
  convert far more often, journeys outside the user's interests less.
* Time. Events of a journey are tens of seconds to minutes apart; the
  journeys of a user are separated by heavy-tailed idle gaps (at least ten
  minutes, up to days) scaled so that they spread over the log's days.
* Cold start (``launch_late``). A share of the items is launched late: a
  journey starting at or before the eval cutoff that ``beam.preprocess``
  picks by default (``eval_cutoff``) views another item of the same
  advertiser instead. Training examples never see these items; the eval
  label window holds their conversions.

A popularity ranking misses most of this (users convert within their own
narrow interests, and the long tail holds most conversions); the user's last
advertisers miss the partners and the other advertisers of the user's
categories; a model of the recent sequence sees the partner and category of
the last journeys and the user's interests.
"""

import collections
import dataclasses
import logging
from typing import Tuple

import numpy as np

from tfrs_adcg import timestamps
from tfrs_adcg.synthetic_catalog import Catalog
from tfrs_adcg.synthetic_catalog import GroupSampler
from tfrs_adcg.synthetic_catalog import Kinds

# Event types.
VIEW = "view"
ADD_TO_CART = "add_to_cart"
CHECKOUT = "checkout"
SIGNUP = "signup"
EVENT_TYPES = (VIEW, ADD_TO_CART, CHECKOUT, SIGNUP)
CONVERSION_TYPES = (ADD_TO_CART, CHECKOUT, SIGNUP)
# The default --label_window_days of beam.preprocess: its eval cutoff is the
# latest event minus these days, rounded down to the day.
EVAL_LABEL_WINDOW_DAYS = 7

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


@dataclasses.dataclass(frozen=True)
class Journeys:
  """One row per journey, ordered by user, then time."""
  user: np.ndarray  # user number
  advertiser: np.ndarray
  mode: np.ndarray  # how the advertiser was chosen: _PARTNER, ...
  views: np.ndarray  # >= 1
  cart: np.ndarray  # bool
  signup: np.ndarray  # bool
  checkout: np.ndarray  # bool (implies cart)


def simulate_journeys(catalog: Catalog, rng: np.random.Generator, *,
                      users: int, days: int, journeys_per_day: float,
                      partner_probability: float,
                      same_category_probability: float,
                      drift_probability: float) -> Journeys:
  """Runs every user's journeys, one journey step for all users at a time.

  The keyword arguments are those of ``synthetic.SyntheticConfig``.
  """
  num_categories = len(catalog.category_names)
  rates = journeys_per_day * rng.lognormal(
      -_ACTIVITY_SIGMA**2 / 2, _ACTIVITY_SIGMA, users)
  num_journeys = np.minimum(1 + rng.poisson(rates * days),
                            _MAX_JOURNEYS_PER_DAY * days)
  # Users by descending journey count: step j concerns the first active ones.
  by_count = np.argsort(-num_journeys, kind="stable")
  num_journeys = num_journeys[by_count]
  active_at_step = np.searchsorted(-num_journeys, -np.arange(num_journeys[0]),
                                   side="right")
  category_cdf = np.cumsum(catalog.category_popularity)

  def random_categories(n):
    return np.minimum(np.searchsorted(category_cdf, rng.random(n)),
                      num_categories - 1)

  num_interests = rng.choice([1, 2, 3], users,
                             p=_INTEREST_COUNT_PROBABILITIES)
  interests = random_categories(3 * users).reshape(users, 3)
  last_advertiser = np.full(users, -1)  # -1: no journey yet.
  last_outcome = np.zeros(users, dtype=np.int64)
  steps = collections.defaultdict(list)
  logging.info("Simulating %d journeys of %d users.", num_journeys.sum(),
               users)
  for active in active_at_step:
    slot = (rng.random(active) * num_interests[:active]).astype(np.int64)
    drift = np.flatnonzero(rng.random(active) < drift_probability)
    interests[drift, slot[drift]] = random_categories(len(drift))

    previous = last_advertiser[:active]
    outcome = last_outcome[:active]
    seen = previous >= 0
    draws = rng.random((4, active))
    mode = np.full(active, _INTEREST)
    mode[draws[3] < _EXPLORE_PROBABILITY] = _EXPLORE
    mode[seen & (draws[2] < same_category_probability)] = _SAME_CATEGORY
    mode[seen & (draws[1] < _RETURN_PROBABILITY[outcome])] = _RETURN
    mode[(outcome == 2) & (draws[0] < partner_probability)] = _PARTNER

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

    steps["user"].append(by_count[:active])
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
  return Journeys(**{name: values[order] for name, values in columns.items()})


@dataclasses.dataclass(frozen=True)
class Events:
  """Valid events, ordered by user, then time."""
  user: np.ndarray
  seconds: np.ndarray  # epoch seconds
  event_type: np.ndarray  # index into EVENT_TYPES
  item: np.ndarray  # -1 for none
  advertiser: np.ndarray
  journey: np.ndarray  # index into Journeys


def expand_events(kinds: Kinds, journeys: Journeys,
                  rng: np.random.Generator, *, users: int, days: int,
                  start_seconds: int) -> Events:
  """Turns journeys into timed events: views, then cart, signup, checkout.

  The users' journeys spread over ``days`` from ``start_seconds`` (epoch).
  """
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
  journeys_of_user = np.bincount(journeys.user, minlength=users)
  user_first = np.cumsum(journeys_of_user) - journeys_of_user
  raw_idle = rng.lognormal(0.0, _IDLE_SIGMA, num) * np.where(
      journeys.mode == _PARTNER, _PARTNER_IDLE_FACTOR, 1.0)
  raw_tail = rng.lognormal(0.0, _IDLE_SIGMA, users)
  spare = (days * timestamps.DAY_SECONDS -
           np.bincount(journeys.user, duration, users) -
           _MIN_IDLE_SECONDS * journeys_of_user)
  scale = np.maximum(spare, 0.0) / (
      np.bincount(journeys.user, raw_idle, users) + raw_tail)
  idle = _MIN_IDLE_SECONDS + scale[journeys.user] * raw_idle
  previous_duration = np.concatenate([[0], duration[:-1]])
  previous_duration[user_first[journeys_of_user > 0]] = 0
  advance = np.cumsum(idle + previous_duration)
  user_base = advance[user_first] - idle[user_first]
  start = np.floor(advance - user_base[journeys.user]).astype(np.int64)
  seconds = start_seconds - _MIN_IDLE_SECONDS + start[journey] + offset
  return Events(
      user=journeys.user[journey],
      seconds=seconds,
      event_type=event_type,
      item=item,
      advertiser=journeys.advertiser[journey],
      journey=journey)


def eval_cutoff(events: Events) -> int:
  """The eval cutoff ``beam.preprocess`` picks by default for these events,
  in epoch seconds."""
  cutoff = (events.seconds.max() -
            EVAL_LABEL_WINDOW_DAYS * timestamps.DAY_SECONDS)
  return int(cutoff - cutoff % timestamps.DAY_SECONDS)


def launch_late(catalog: Catalog, events: Events, num_late: int,
                rng: np.random.Generator) -> Tuple[Events, np.ndarray, int]:
  """Keeps ``num_late`` items out of the events until the eval cutoff.

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
  late = np.sort(rng.choice(np.arange(num_advertisers, num_items), num_late,
                            replace=False))
  is_late = np.zeros(num_items, dtype=bool)
  is_late[late] = True
  cutoff = eval_cutoff(events)
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
  on_time_of_advertiser = GroupSampler(
      catalog.item_advertiser[on_time], catalog.item_popularity[on_time],
      num_advertisers)
  replacements = on_time[on_time_of_advertiser.sample(
      catalog.item_advertiser[keys % num_items], rng.random(len(keys)))]
  item = events.item.copy()
  item[substitute] = replacements[key_of_event]
  return dataclasses.replace(events, item=item), late, cutoff

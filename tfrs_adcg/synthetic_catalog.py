"""The synthetic catalog: advertisers, items, product kinds, item embeddings.

* Advertisers fall into categories, both with Zipf-like popularity. The
  categories are verticals as an ad taxonomy has them (shoes, flights, pet
  supplies rather than "apparel" or "travel"); with few advertisers there is
  at most one category per ``_ADVERTISERS_PER_CATEGORY``. Advertiser
  popularity falls off as rank**-0.8, a long tail: conversions spread over
  many mid-sized advertisers. Categories form a random cycle of complements
  (say flights -> hotels -> ...), and every advertiser A has one
  complementary partner B drawn by popularity from the complement of A's
  category. Items belong to an advertiser (and its category), more of them
  to popular advertisers, with Zipf-like popularity within it and a
  log-normal price around the advertiser's price level.
* Product kinds. Each category has ``_KINDS_PER_CATEGORY`` kinds of product
  (running shoes, hiking boots, sandals, ... within shoes), shared by its
  advertisers; an item's kind is drawn by the kinds' Zipf-like popularity,
  and each user prefers one kind of every category. No catalog column says
  the kind: as in a real catalog it is in the product's content, hence in
  its pretrained vector.
* Item embeddings, as a pretrained content model would give them: a random
  centre per category, plus an offset per kind (shared across advertisers),
  a smaller one per advertiser (its style) and noise per item. Items of a
  kind point the same way whoever sells them; items of a category less so.

Arrays are indexed by category, advertiser, item or user number; the files
name them (``synthetic_files``).
"""

import dataclasses

import numpy as np

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
# mean fewer categories than asked for.
_ADVERTISERS_PER_CATEGORY = 4
# Zipf exponents of the category and advertiser popularity.
_CATEGORY_ZIPF_EXPONENT = 0.7
_ADVERTISER_ZIPF_EXPONENT = 0.8
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


def _zipf_weights(n: int, exponent: float,
                  rng: np.random.Generator) -> np.ndarray:
  """Weights [n] proportional to rank**-exponent, ranks in random order."""
  weights = (rng.permutation(n) + 1.0)**-exponent
  return weights / weights.sum()


class GroupSampler:
  """Draws a member of a given group with probability proportional to weight.

  Vectorized: ``sample(groups, uniforms)`` takes one group id and one uniform
  in [0, 1) per draw. Every group must have a member.

  Args:
    groups: int [M], the group of each member.
    weights: [M], the members' weights (relative within their group).
    num_groups: Number of groups G; ids are 0..G-1.
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
    """Members [N] of ``groups`` [N], drawn with ``uniforms`` [N]."""
    positions = np.searchsorted(self._keys, groups + uniforms)
    positions = np.clip(positions, self._starts[groups], self._ends[groups] - 1)
    return self._order[positions]


@dataclasses.dataclass(frozen=True)
class Catalog:
  """Advertisers and items; arrays indexed by advertiser or item number."""
  category_names: np.ndarray  # [C] object
  category_popularity: np.ndarray  # [C]
  advertiser_category: np.ndarray  # [A] int
  partner: np.ndarray  # [A] int, in another category
  brand_strength: np.ndarray  # [A] in [0, 1]
  item_advertiser: np.ndarray  # [I] int
  item_price: np.ndarray  # [I]
  item_popularity: np.ndarray  # [I], relative within the advertiser
  advertisers_in_category: GroupSampler
  items_of_advertiser: GroupSampler


def make_catalog(num_advertisers: int, num_items: int, max_categories: int,
                 rng: np.random.Generator) -> Catalog:
  """Categories, advertisers with partners, and items with prices.

  Args:
    num_advertisers: A, at least 2.
    num_items: I, at least A: every advertiser sells an item.
    max_categories: Categories asked for; at most one per
      ``_ADVERTISERS_PER_CATEGORY`` advertisers (and at least 2) are made.
    rng: The simulation's random stream.
  """
  num_categories = min(
      max_categories, max(2, num_advertisers // _ADVERTISERS_PER_CATEGORY))
  names = list(_CATEGORY_NAMES[:num_categories]) + [
      f"category_{i}" for i in range(len(_CATEGORY_NAMES), num_categories)]
  category_popularity = _zipf_weights(num_categories, _CATEGORY_ZIPF_EXPONENT,
                                      rng)

  advertiser_popularity = _zipf_weights(num_advertisers,
                                        _ADVERTISER_ZIPF_EXPONENT, rng)
  # Every category gets one advertiser, the rest follow category popularity.
  advertiser_category = np.concatenate([
      rng.permutation(num_categories),
      rng.choice(num_categories, num_advertisers - num_categories,
                 p=category_popularity)])
  advertisers_in_category = GroupSampler(
      advertiser_category, advertiser_popularity, num_categories)
  cycle = rng.permutation(num_categories)
  complement = np.empty(num_categories, dtype=np.int64)
  complement[cycle] = np.roll(cycle, -1)
  partner = advertisers_in_category.sample(
      complement[advertiser_category], rng.random(num_advertisers))

  log_popularity = np.log(advertiser_popularity)
  brand_strength = np.clip(
      0.5 + 0.15 * (log_popularity - log_popularity.mean()) /
      log_popularity.std() + rng.normal(0.0, 0.1, num_advertisers), 0, 1)

  # One item per advertiser, the rest by popularity.
  item_advertiser = np.concatenate([
      np.arange(num_advertisers),
      rng.choice(num_advertisers, num_items - num_advertisers,
                 p=advertiser_popularity)])
  category_price = rng.lognormal(3.5, 0.8, num_categories)
  advertiser_price = (category_price[advertiser_category] *
                      rng.lognormal(0.0, 0.3, num_advertisers))
  item_price = np.round(
      advertiser_price[item_advertiser] * rng.lognormal(0.0, 0.4, num_items),
      2)
  item_popularity = (
      rng.permutation(num_items) % 50 + 1.0)**-1.0  # Zipf-like, cut at 50.
  items_of_advertiser = GroupSampler(item_advertiser, item_popularity,
                                     num_advertisers)
  return Catalog(
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


class Kinds:
  """Product kinds of the items, and the users' preferred kind of each category.

  A kind is numbered ``category * _KINDS_PER_CATEGORY + j``.

  Args:
    catalog: The catalog whose items get kinds.
    num_users: Users U, each with a preferred kind per category.
    rng: The kinds' own random stream; ``view_items`` draws from it too.
  """

  def __init__(self, catalog: Catalog, num_users: int,
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
                                  (num_users, 1)))  # [U, C]
    # The (advertiser, kind) pairs that have items, sorted, and a sampler of
    # each pair's items.
    self._num_kinds = num_categories * _KINDS_PER_CATEGORY
    pair = catalog.item_advertiser * self._num_kinds + self.item_kind
    self._pairs, pair_index = np.unique(pair, return_inverse=True)
    self._items_of_pair = GroupSampler(pair_index, catalog.item_popularity,
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


def item_embeddings(catalog: Catalog, kinds: Kinds, dim: int,
                    rng: np.random.Generator) -> np.ndarray:
  """Pretrained vectors [items, dim], rounded, as float64.

  An item's vector is its category's centre (about unit length) plus
  Gaussian offsets of its kind, its advertiser and its own, of the relative
  spreads ``_*_EMBEDDING_SPREAD``: the kind is what a content encoder sees
  most of, the seller's style a little, and the rest is noise.
  """
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

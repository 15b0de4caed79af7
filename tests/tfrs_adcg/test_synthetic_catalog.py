"""Tests of the synthetic catalog: categories, partners, kinds, embeddings."""

import numpy as np

from tfrs_adcg import synthetic_catalog


def _catalog(advertisers: int, items: int, seed: int = 3):
  rng = np.random.default_rng(seed)
  catalog = synthetic_catalog.make_catalog(advertisers, items, 40, rng)
  return catalog, synthetic_catalog.Kinds(catalog, 5, rng), rng


def test_small_catalogs_have_fewer_categories():
  for advertisers, categories in ((800, 40), (16, 4), (5, 2), (2, 2)):
    catalog, _, _ = _catalog(advertisers, max(20, advertisers))
    assert len(catalog.category_names) == categories
    # Every category has an advertiser, every advertiser an item.
    assert set(catalog.advertiser_category) == set(range(categories))
    assert set(catalog.item_advertiser) == set(range(advertisers))


def test_partners_are_in_the_complementary_category():
  catalog, _, _ = _catalog(advertisers=80, items=400)
  own = catalog.advertiser_category
  partner = own[catalog.partner]
  assert (partner != own).all()
  # One complement per category, and the complements form a single cycle.
  complement = {c: set(partner[own == c]) for c in set(own)}
  assert all(len(targets) == 1 for targets in complement.values())
  successor = {c: targets.pop() for c, targets in complement.items()}
  category, seen = 0, set()
  while category not in seen:
    seen.add(category)
    category = successor[category]
  assert seen == set(own)


def test_kinds_belong_to_the_item_category():
  catalog, kinds, _ = _catalog(advertisers=40, items=600)
  names = kinds.names(catalog.category_names)
  category = catalog.category_names[
      catalog.advertiser_category[catalog.item_advertiser]]
  assert all(name.startswith(c + "/") for name, c in zip(names, category))
  assert kinds.preferred.shape == (5, len(catalog.category_names))
  # A view is of an item of the advertiser it is at.
  advertisers = np.repeat(np.arange(40), 10)
  viewed = kinds.view_items(np.zeros(400, dtype=np.int64), advertisers,
                            np.random.default_rng(0).random(400))
  np.testing.assert_array_equal(catalog.item_advertiser[viewed], advertisers)


def test_item_embeddings_cluster_by_kind_across_advertisers():
  catalog, kinds, rng = _catalog(advertisers=40, items=600)
  vectors = synthetic_catalog.item_embeddings(catalog, kinds, 32, rng)
  assert vectors.shape == (600, 32)
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  cosine = vectors @ vectors.T
  kind = kinds.item_kind
  category = catalog.advertiser_category[catalog.item_advertiser]
  advertiser = catalog.item_advertiser
  one_kind = kind[:, None] == kind[None, :]
  one_category = category[:, None] == category[None, :]
  one_advertiser = advertiser[:, None] == advertiser[None, :]
  # Same kind at another advertiser beats same category, another kind, even
  # at the same advertiser; other categories are unrelated.
  kind_elsewhere = cosine[one_kind & ~one_advertiser].mean()
  other_kind_same_advertiser = cosine[one_advertiser & ~one_kind].mean()
  assert kind_elsewhere > other_kind_same_advertiser + 0.1
  assert other_kind_same_advertiser > cosine[one_category & ~one_kind &
                                             ~one_advertiser].mean()
  assert abs(cosine[~one_category].mean()) < 0.15
  # Nearest neighbours, at another advertiser, share the kind far above
  # chance (a pair of items of one category shares it a fifth of the time).
  np.fill_diagonal(cosine, -np.inf)
  cosine[one_advertiser] = -np.inf
  nearest = cosine.argmax(axis=1)
  chance = one_kind[one_category].mean()
  assert chance < 0.4
  assert np.mean(kind[nearest] == kind) > 0.7

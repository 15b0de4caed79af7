"""Tests of the synthetic event log: files, determinism, corruption, structure."""

import collections
import csv
import datetime
import hashlib
import json
import pathlib
import re
from typing import Dict, List, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfrs_adcg import schema
from tfrs_adcg import synthetic

FORMATS = sorted(synthetic.FORMATS)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _generate(out: pathlib.Path, **overrides) -> dict:
  settings = dict(output=str(out), users=120, advertisers=16, items=80,
                  days=14, seed=3)
  settings.update(overrides)
  return synthetic.generate(synthetic.SyntheticConfig(**settings))


def _read(path: str) -> Tuple[List[str], List[dict]]:
  """Column names and rows of a CSV, JSON Lines or Parquet file."""
  if path.endswith(".parquet"):
    table = pq.read_table(path)
    return table.column_names, table.to_pylist()
  with open(path, encoding="utf-8") as f:
    if path.endswith(".csv"):
      reader = csv.DictReader(f)
      return list(reader.fieldnames), list(reader)
    rows = [json.loads(line) for line in f]
  return list(rows[0]), rows


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


@pytest.mark.parametrize("file_format", FORMATS)
def test_same_seed_writes_same_bytes(tmp_path, file_format):
  first = _generate(tmp_path / "a", file_format=file_format)
  second = _generate(tmp_path / "b", file_format=file_format)
  other = _generate(tmp_path / "c", file_format=file_format, seed=4)
  for name, path in first["paths"].items():
    assert (pathlib.Path(path).read_bytes() ==
            pathlib.Path(second["paths"][name]).read_bytes()), name
  assert (pathlib.Path(first["paths"][synthetic.EVENTS]).read_bytes() !=
          pathlib.Path(other["paths"][synthetic.EVENTS]).read_bytes())


@pytest.mark.parametrize("file_format", FORMATS)
def test_files_have_the_raw_and_catalog_columns(tmp_path, file_format):
  summary = _generate(tmp_path, file_format=file_format)
  paths = summary["paths"]
  for name in (synthetic.EVENTS, synthetic.ADVERTISERS, synthetic.ITEMS):
    assert paths[name].endswith("." + synthetic.FORMATS[file_format])

  columns, events = _read(paths[synthetic.EVENTS])
  assert tuple(columns) == schema.RAW_COLUMNS
  assert len(events) == summary["events"]
  assert collections.Counter(
      row[schema.RAW_EVENT_TYPE] for row in events) == collections.Counter(
          {t: n for t, n in summary["event_types"].items() if n})
  for row in events:
    assert all(isinstance(value, str) for value in row.values())
    assert ISO_UTC.match(row[schema.RAW_TIMESTAMP]), row
    assert row[schema.RAW_USER_ID] and row[schema.RAW_ADVERTISER_ID], row
    is_signup = row[schema.RAW_EVENT_TYPE] == synthetic.SIGNUP
    assert (row[schema.RAW_ITEM_ID] == schema.STRING_PAD) == is_signup, row

  columns, advertisers = _read(paths[synthetic.ADVERTISERS])
  assert tuple(columns) == synthetic.ADVERTISER_COLUMNS
  assert columns[:2] == [schema.CATALOG_ADVERTISER_ID, schema.CATALOG_CATEGORY]
  assert len(advertisers) == 16
  for row in advertisers:
    for name in columns[2:]:  # Numeric features of the candidate tower.
      assert float(row[name]) >= 0.0, (name, row)
  columns, items = _read(paths[synthetic.ITEMS])
  assert tuple(columns) == synthetic.ITEM_COLUMNS
  assert len(items) == 80
  assert all(float(row[synthetic.PRICE]) > 0 for row in items)


def test_events_refer_to_catalog_advertisers_and_items(synthetic_dir):
  _, events = _read(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
  _, advertisers = _read(str(synthetic_dir / f"{synthetic.ADVERTISERS}.csv"))
  _, items = _read(str(synthetic_dir / f"{synthetic.ITEMS}.csv"))
  category = {row[schema.CATALOG_ADVERTISER_ID]: row[schema.CATALOG_CATEGORY]
              for row in advertisers}
  advertiser_of_item = {
      row[schema.RAW_ITEM_ID]: row[schema.CATALOG_ADVERTISER_ID]
      for row in items}
  for row in items:
    assert (row[schema.CATALOG_CATEGORY] ==
            category[row[schema.CATALOG_ADVERTISER_ID]])
  items_per_advertiser = collections.Counter(advertiser_of_item.values())
  for row in advertisers:
    assert (int(row[synthetic.NUM_ITEMS]) ==
            items_per_advertiser[row[schema.CATALOG_ADVERTISER_ID]])
  for row in events:
    assert row[schema.RAW_ADVERTISER_ID] in category
    if row[schema.RAW_ITEM_ID]:
      assert (advertiser_of_item[row[schema.RAW_ITEM_ID]] ==
              row[schema.RAW_ADVERTISER_ID]), row
  assert len({row[schema.RAW_USER_ID] for row in events}) == 600


def test_conversions_are_a_few_percent(synthetic_dir):
  _, events = _read(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
  counts = collections.Counter(row[schema.RAW_EVENT_TYPE] for row in events)
  assert set(counts) == set(synthetic.EVENT_TYPES)
  total = len(events)
  assert 0.03 <= counts[synthetic.ADD_TO_CART] / total <= 0.06, counts
  assert (0.01 <= (counts[synthetic.CHECKOUT] + counts[synthetic.SIGNUP]) /
          total <= 0.035), counts


def test_events_come_in_bursts_within_the_days(synthetic_dir):
  _, events = _read(str(synthetic_dir / f"{synthetic.EVENTS}.csv"))
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
  conversions = set(synthetic.CONVERSION_TYPES)
  pairs = {}
  for user, timeline in _user_timelines(rows).items():
    converted = [(row[schema.RAW_EVENT_TYPE], row[schema.RAW_ADVERTISER_ID])
                 for row in timeline if row[schema.RAW_EVENT_TYPE] in conversions]
    pairs[user] = []
    for i, (event_type, advertiser) in enumerate(converted):
      if event_type == synthetic.CHECKOUT:
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
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  popular_at_1, transition_at_1 = _next_conversion_hits(rows, k=1)
  popular_at_5, transition_at_5 = _next_conversion_hits(rows, k=5)
  assert transition_at_1 > 2.0 * popular_at_1
  assert transition_at_5 > 1.3 * popular_at_5

  # Without complementary partners the transition advantage shrinks.
  control = _generate(tmp_path / "control", users=1500, advertisers=40,
                      items=400, days=42, seed=11, partner_probability=0.0)
  _, rows = _read(control["paths"][synthetic.EVENTS])
  _, control_at_1 = _next_conversion_hits(rows, k=1)
  assert transition_at_1 > 1.3 * control_at_1


def test_default_catalog_has_a_long_tail_and_narrow_interests(tmp_path):
  summary = synthetic.generate(
      synthetic.SyntheticConfig(output=str(tmp_path), users=1000, seed=5))
  _, advertisers = _read(summary["paths"][synthetic.ADVERTISERS])
  category = {row[schema.CATALOG_ADVERTISER_ID]: row[schema.CATALOG_CATEGORY]
              for row in advertisers}
  assert len(category) == synthetic.SyntheticConfig(output="").advertisers
  assert len(set(category.values())) == 40
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  conversions = [row[schema.RAW_ADVERTISER_ID] for row in rows
                 if row[schema.RAW_EVENT_TYPE] in synthetic.CONVERSION_TYPES]
  by_advertiser = collections.Counter(conversions)
  # The 100 most popular advertisers take only about half the conversions.
  top_100 = sum(n for _, n in by_advertiser.most_common(100))
  assert 0.35 < top_100 / len(conversions) < 0.65
  # Users convert in few categories; all users together in many.
  by_user = collections.defaultdict(collections.Counter)
  for row in rows:
    if row[schema.RAW_EVENT_TYPE] in synthetic.CONVERSION_TYPES:
      by_user[row[schema.RAW_USER_ID]][
          category[row[schema.RAW_ADVERTISER_ID]]] += 1
  active = [counts for counts in by_user.values()
            if sum(counts.values()) >= 8]
  assert len(active) > 100
  in_top_3 = sum(sum(n for _, n in counts.most_common(3)) for counts in active)
  assert in_top_3 / sum(sum(counts.values()) for counts in active) > 0.7
  overall = collections.Counter(category[a] for a in conversions)
  assert sum(n for _, n in overall.most_common(3)) / len(conversions) < 0.4


def test_small_catalogs_have_fewer_categories(tmp_path):
  for advertisers, categories in ((16, 4), (5, 2), (2, 2)):
    summary = _generate(tmp_path / str(advertisers), advertisers=advertisers,
                        items=20)
    _, rows = _read(summary["paths"][synthetic.ADVERTISERS])
    assert len({row[schema.CATALOG_CATEGORY] for row in rows}) == categories


def _corruption_kinds(rows: List[dict], start: int, end: int) -> List[str]:
  """The corruption kind of each row (or "" for a valid row), found anew."""
  kinds, seen = [], set()
  for row in rows:
    timestamp = row[schema.RAW_TIMESTAMP]
    try:
      seconds = _epoch(timestamp) if ISO_UTC.match(timestamp) else None
    except ValueError:
      seconds = None
    key = tuple(row[name] for name in schema.RAW_COLUMNS)
    if seconds is None:
      kinds.append(synthetic.BAD_TIMESTAMP)
    elif not start <= seconds < end:
      kinds.append(synthetic.TIMESTAMP_OUT_OF_RANGE)
    elif not row[schema.RAW_USER_ID]:
      kinds.append(synthetic.MISSING_USER_ID)
    elif not row[schema.RAW_ADVERTISER_ID]:
      kinds.append(synthetic.MISSING_ADVERTISER_ID)
    elif row[schema.RAW_EVENT_TYPE] not in synthetic.EVENT_TYPES:
      kinds.append(synthetic.UNKNOWN_EVENT_TYPE)
    elif key in seen:
      kinds.append(synthetic.DUPLICATE)
    else:
      kinds.append("")
    seen.add(key)
  return kinds


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_corruptions_are_counted_and_leave_valid_rows_intact(
    tmp_path, file_format):
  clean = _generate(tmp_path / "clean", file_format=file_format)
  dirty = _generate(tmp_path / "dirty", file_format=file_format,
                    corrupt_fraction=0.06)
  start = _epoch("2026-01-01T00:00:00Z")
  end = start + 14 * 86400

  with open(clean["paths"][synthetic.CORRUPTIONS], encoding="utf-8") as f:
    assert json.load(f) == {kind: 0 for kind in synthetic.CORRUPTION_KINDS}
  _, clean_rows = _read(clean["paths"][synthetic.EVENTS])
  assert set(_corruption_kinds(clean_rows, start, end)) == {""}

  with open(dirty["paths"][synthetic.CORRUPTIONS], encoding="utf-8") as f:
    assert json.load(f) == dirty["corruptions"]
  _, dirty_rows = _read(dirty["paths"][synthetic.EVENTS])
  kinds = _corruption_kinds(dirty_rows, start, end)
  found = collections.Counter(kind for kind in kinds if kind)
  assert found == dirty["corruptions"]
  assert set(found) == set(synthetic.CORRUPTION_KINDS)
  assert dirty["rows"] == len(dirty_rows) == len(clean_rows) + sum(
      found.values())
  assert sum(found.values()) == pytest.approx(0.06 * len(clean_rows), abs=6)
  assert [row for row, kind in zip(dirty_rows, kinds) if not kind] == clean_rows


def test_main_prints_a_summary_and_validates_arguments(tmp_path, capsys):
  summary = synthetic.main([
      "--output", str(tmp_path), "--users", "30", "--advertisers", "5",
      "--items", "10", "--days", "3", "--format", "jsonl",
      "--start", "2025-06-01", "--corrupt_fraction", "0.1"])
  printed = capsys.readouterr().out
  assert f"Wrote {summary['events']} events" in printed
  assert f"view={summary['event_types']['view']}" in printed
  assert (tmp_path / "events.jsonl").exists()
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  assert min(row[schema.RAW_TIMESTAMP] for row in rows
             if row[schema.RAW_TIMESTAMP].startswith("2025-")) >= "2025-06-01"

  for bad in (["--items", "3"], ["--format", "xml"], ["--start", "soon"],
              ["--corrupt_fraction", "1.5"]):
    with pytest.raises(SystemExit):
      synthetic.main(["--output", str(tmp_path / "bad"), "--advertisers", "5",
                      *bad])
  with pytest.raises(ValueError, match="--items"):
    synthetic.SyntheticConfig(output=str(tmp_path), advertisers=10, items=5)


# Digests of the files of the generative model as it is, written with the item
# embedding and cold start options at their defaults (off): those options
# leave every byte as it was without them. A change of the generative model
# changes these digests, deliberately: the session fixtures and the tests
# above rely on these bytes.
_PINNED_SHA256 = {
    "csv": {
        synthetic.EVENTS:
            "97a35292d252ca2db8441f1869aeae261f0f5607825b8962d558ceaac7be72c0",
        synthetic.ADVERTISERS:
            "60bc75db763f4b24032eb889f9feced06c7af594ff987f8012b4e1c35e68abf6",
        synthetic.ITEMS:
            "7b4d323a19b227d5c728589fbce327f14779c604244ef12e7b303425cdee568c",
    },
    "jsonl": {
        synthetic.EVENTS:
            "4397aad2a37adea05393bbd0ebef7fc890203fc9be65926aa53c5142de672dc3",
        synthetic.ADVERTISERS:
            "cf6144c8b5c3481dbaff2484857931098ca53b449d4bc2c7c17f8f02f2554b39",
        synthetic.ITEMS:
            "a86394eb11f570acd2b2913221db86ae62804649e2c12e0b09a10d96e1592f9f",
    },
}


@pytest.mark.parametrize("file_format", sorted(_PINNED_SHA256))
def test_new_options_at_their_defaults_write_the_pinned_bytes(
    tmp_path, file_format):
  summary = _generate(tmp_path, file_format=file_format, corrupt_fraction=0.05,
                      item_embedding_dim=0, cold_start_fraction=0.0)
  for name, digest in _PINNED_SHA256[file_format].items():
    data = pathlib.Path(summary["paths"][name]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest, name
  assert synthetic.COLD_START not in summary["paths"]
  assert summary["cold_start_items"] == [] and summary["eval_cutoff"] is None


def _embeddings(rows: List[dict]) -> np.ndarray:
  """The embedding column of catalog rows: list, or JSON list text (CSV)."""
  return np.array([
      json.loads(v) if isinstance(v, str) else v
      for v in (row[schema.CATALOG_EMBEDDING] for row in rows)],
                  dtype=np.float32)


@pytest.mark.parametrize("file_format", FORMATS)
def test_item_embeddings_are_a_column_and_leave_the_rest_unchanged(
    tmp_path, file_format):
  plain = _generate(tmp_path / "plain", file_format=file_format)
  summary = _generate(tmp_path / "embedded", file_format=file_format,
                      item_embedding_dim=6)
  assert (pathlib.Path(summary["paths"][synthetic.EVENTS]).read_bytes() ==
          pathlib.Path(plain["paths"][synthetic.EVENTS]).read_bytes())
  columns, items = _read(summary["paths"][synthetic.ITEMS])
  assert tuple(columns) == synthetic.ITEM_COLUMNS + (schema.CATALOG_EMBEDDING,)
  _, plain_items = _read(plain["paths"][synthetic.ITEMS])
  assert [{k: v for k, v in row.items() if k != schema.CATALOG_EMBEDDING}
          for row in items] == plain_items
  embeddings = _embeddings(items)
  assert embeddings.shape == (80, 6) and np.isfinite(embeddings).all()
  if file_format == "parquet":
    assert pq.read_schema(summary["paths"][synthetic.ITEMS]).field(
        schema.CATALOG_EMBEDDING).type == pa.list_(pa.float32())
  # All formats carry the same float32 values.
  parquet = _generate(tmp_path / "parquet", file_format="parquet",
                      item_embedding_dim=6)
  _, parquet_items = _read(parquet["paths"][synthetic.ITEMS])
  np.testing.assert_array_equal(embeddings, _embeddings(parquet_items))


def test_item_embeddings_cluster_by_kind_across_advertisers(tmp_path):
  summary = _generate(tmp_path, advertisers=40, items=600,
                      item_embedding_dim=32, file_format="parquet")
  _, items = _read(summary["paths"][synthetic.ITEMS])
  vectors = _embeddings(items)
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  cosine = vectors @ vectors.T
  kind = np.array(summary["item_kinds"])
  category = np.array([row[schema.CATALOG_CATEGORY] for row in items])
  advertiser = np.array([row[schema.CATALOG_ADVERTISER_ID] for row in items])
  assert len(kind) == len(items) and all(
      k.startswith(c + "/") for k, c in zip(kind, category))
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


def _conversion_kinds(summary: dict) -> List[Tuple[str, str, str, str]]:
  """(user, category, advertiser, kind) of every add-to-cart."""
  _, items = _read(summary["paths"][synthetic.ITEMS])
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  kind_of = dict(zip((row[schema.CATALOG_ITEM_ID] for row in items),
                     summary["item_kinds"]))
  return [(row[schema.RAW_USER_ID], kind_of[row[schema.RAW_ITEM_ID]]
           .split("/")[0], row[schema.RAW_ADVERTISER_ID],
           kind_of[row[schema.RAW_ITEM_ID]]) for row in rows
          if row[schema.RAW_EVENT_TYPE] == synthetic.ADD_TO_CART]


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
  monkeypatch.setattr(synthetic, "_KIND_AFFINITY", 0.0)
  plain = _generate(tmp_path / "plain", **settings)
  # Without the preference, two carts share a kind by chance.
  assert (_same_kind_across_advertisers(kinds) >
          _same_kind_across_advertisers(plain) + 0.15)

  # Kinds change which item a view and its conversions are of, and nothing
  # else: without the preference, the items are those of a world without
  # kinds, and every other column is the same either way.
  _, rows = _read(kinds["paths"][synthetic.EVENTS])
  _, plain_rows = _read(plain["paths"][synthetic.EVENTS])
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
  _, plain_rows = _read(plain["paths"][synthetic.EVENTS])
  _, rows = _read(summary["paths"][synthetic.EVENTS])
  _, items = _read(summary["paths"][synthetic.ITEMS])
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
               if row[schema.RAW_EVENT_TYPE] in synthetic.CONVERSION_TYPES}
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


@pytest.mark.parametrize("file_format", FORMATS)
def test_same_seed_with_the_new_options_writes_same_bytes(tmp_path,
                                                           file_format):
  options = dict(file_format=file_format, item_embedding_dim=4,
                 cold_start_fraction=0.2)
  first = _generate(tmp_path / "a", **options)
  second = _generate(tmp_path / "b", **options)
  other = _generate(tmp_path / "c", seed=4, **options)
  assert set(first["paths"]) == {synthetic.EVENTS, synthetic.ADVERTISERS,
                                 synthetic.ITEMS, synthetic.CORRUPTIONS,
                                 synthetic.COLD_START}
  for name, path in first["paths"].items():
    assert (pathlib.Path(path).read_bytes() ==
            pathlib.Path(second["paths"][name]).read_bytes()), name
  for name in (synthetic.ITEMS, synthetic.COLD_START):
    assert (pathlib.Path(first["paths"][name]).read_bytes() !=
            pathlib.Path(other["paths"][name]).read_bytes()), name


def test_new_options_are_validated(tmp_path):
  for bad in (["--item_embedding_dim", "-1"],
              ["--cold_start_fraction", "1.0"],
              ["--cold_start_fraction", "0.9"],  # Advertisers keep an item.
              ["--cold_start_fraction", "0.1", "--days", "7"]):
    with pytest.raises(SystemExit):
      synthetic.main(["--output", str(tmp_path), "--advertisers", "5",
                      "--items", "20", "--days", "14", *bad])
  with pytest.raises(ValueError, match="needs an item sold before"):
    synthetic.SyntheticConfig(output=str(tmp_path), advertisers=5, items=20,
                              cold_start_fraction=0.9)
  summary = synthetic.main([
      "--output", str(tmp_path), "--users", "40", "--advertisers", "5",
      "--items", "20", "--days", "14", "--item_embedding_dim", "3",
      "--cold_start_fraction", "0.25", "--format", "jsonl"])
  assert len(summary["cold_start_items"]) == 5
  _, items = _read(summary["paths"][synthetic.ITEMS])
  assert _embeddings(items).shape == (20, 3)

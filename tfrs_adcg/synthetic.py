"""A synthetic offsite event log whose next conversion depends on event order.

The generative model, in the order it runs, each stage in its own module:

* ``synthetic_catalog``: advertisers in narrow categories with long-tailed
  popularity and complementary partners, items with prices and product
  kinds, and (``item_embedding_dim`` > 0) the items' pretrained vectors.
* ``synthetic_events``: users with a few category interests and a preferred
  kind of product; their shopping journeys, each chosen from the previous
  one (a checkout at A leads to A's partner), as timed view, add-to-cart,
  signup and checkout events; with ``cold_start_fraction`` > 0, items
  launched only after the default eval cutoff of ``beam.preprocess``, whose
  ids go to ``COLD_START_FILE``.
* ``synthetic_files``: the events and both catalogs as CSV, JSON Lines or
  Parquet files, the events in hourly shuffled batches as real logs are.
* ``synthetic_corruption`` (``corrupt_fraction`` > 0): malformed copies of
  valid rows added to the event file; their counts go to
  ``CORRUPTIONS_FILE``.

This module holds the configuration, runs the stages (``generate``) and is
the command line. The same seed gives byte-identical files. Embeddings, kinds,
cold start and corruption draw from random streams of their own: with
embeddings, cold start or corruption turned on, everything else is as
without it (cold start changes the item ids of early journeys only).

    python -m tfrs_adcg.synthetic --output raw/ --users 5000 --format csv
    python -m tfrs_adcg.synthetic --output raw/ --format parquet \
        --item_embedding_dim 32 --cold_start_fraction 0.1
"""

import argparse
import dataclasses
import json
import logging
import os
from typing import Optional, Sequence

import numpy as np

from tfrs_adcg import flags
from tfrs_adcg import schema
from tfrs_adcg import synthetic_catalog
from tfrs_adcg import synthetic_corruption
from tfrs_adcg import synthetic_events
from tfrs_adcg import synthetic_files
from tfrs_adcg import timestamps
from tfrs_adcg.synthetic_events import EVAL_LABEL_WINDOW_DAYS
from tfrs_adcg.synthetic_files import FORMATS

# Output files: ``<name>.<format extension>`` and the corruption counts.
EVENTS = "events"
ADVERTISERS = "advertisers"
ITEMS = "items"
CORRUPTIONS = "corruptions"
CORRUPTIONS_FILE = "corruptions.json"
COLD_START = "cold_start"
COLD_START_FILE = "cold_start_items.txt"  # One item id a line.


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
    file_format: Format of the files, one of ``FORMATS``.
    corrupt_fraction: Malformed rows to add, as a fraction of valid events.
    start: First day of the log, ISO-8601 date (UTC).
    categories: Number of advertiser categories; fewer (at least 2) are
      made for few advertisers (see ``synthetic_catalog.make_catalog``).
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
  file_format: str = flags.field(
      default="csv", flag=flags.Flag(names=("--format",),
                                     choices=sorted(FORMATS)))
  corrupt_fraction: float = 0.0
  start: str = "2026-01-01"
  # The parameters of the generative model have no flags.
  categories: int = flags.field(default=40, flag=None)
  journeys_per_day: float = flags.field(default=0.35, flag=None)
  partner_probability: float = flags.field(default=0.5, flag=None)
  same_category_probability: float = flags.field(default=0.35, flag=None)
  drift_probability: float = flags.field(default=0.03, flag=None)
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
    for name in ("corrupt_fraction", "cold_start_fraction"):
      if not 0.0 <= getattr(self, name) < 1.0:
        raise ValueError(f"--{name} must be in [0, 1), got "
                         f"{getattr(self, name)}.")
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
    if self.cold_start_items > self.items - self.advertisers:
      raise ValueError(
          f"--cold_start_fraction {self.cold_start_fraction} makes "
          f"{self.cold_start_items} of the {self.items} items new, but each "
          f"of the {self.advertisers} advertisers needs an item sold before.")
    if self.cold_start_items and self.days <= EVAL_LABEL_WINDOW_DAYS:
      raise ValueError(
          f"--cold_start_fraction needs more than {EVAL_LABEL_WINDOW_DAYS} "
          f"--days: the new items appear in the last {EVAL_LABEL_WINDOW_DAYS}.")
    _start_seconds(self.start)

  @property
  def cold_start_items(self) -> int:
    """The number of items launched after the eval cutoff."""
    return int(round(self.cold_start_fraction * self.items))


def _start_seconds(start: str) -> int:
  """Epoch seconds of the ISO-8601 date or datetime ``start``, read as UTC."""
  try:
    return timestamps.parse_timestamp(start, timestamps.ISO)
  except ValueError as error:
    raise ValueError(f"--start must be an ISO-8601 date such as 2026-01-01, "
                     f"got {start!r}.") from error


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
  catalog = synthetic_catalog.make_catalog(
      config.advertisers, config.items, config.categories, simulation_rng)
  kinds = synthetic_catalog.Kinds(catalog, config.users, kind_rng)
  journeys = synthetic_events.simulate_journeys(
      catalog, simulation_rng, users=config.users, days=config.days,
      journeys_per_day=config.journeys_per_day,
      partner_probability=config.partner_probability,
      same_category_probability=config.same_category_probability,
      drift_probability=config.drift_probability)
  events = synthetic_events.expand_events(
      kinds, journeys, simulation_rng, users=config.users, days=config.days,
      start_seconds=_start_seconds(config.start))
  late_items, cutoff = np.zeros(0, dtype=np.int64), None
  if config.cold_start_items:
    events, late_items, cutoff = synthetic_events.launch_late(
        catalog, events, config.cold_start_items, cold_start_rng)
  rows = synthetic_files.event_rows(
      events, simulation_rng, users=config.users,
      advertisers=config.advertisers, items=config.items)
  corruptions = synthetic_corruption.corrupt(rows, config.corrupt_fraction,
                                             corruption_rng)
  item_embeddings = (
      synthetic_catalog.item_embeddings(catalog, kinds,
                                        config.item_embedding_dim,
                                        embedding_rng)
      if config.item_embedding_dim else None)
  advertisers, items = synthetic_files.catalog_tables(catalog,
                                                      item_embeddings)
  late_item_ids = items[schema.CATALOG_ITEM_ID][late_items].tolist()

  os.makedirs(config.output, exist_ok=True)
  extension = FORMATS[config.file_format]
  paths = {name: os.path.join(config.output, f"{name}.{extension}")
           for name in (EVENTS, ADVERTISERS, ITEMS)}
  paths[CORRUPTIONS] = os.path.join(config.output, CORRUPTIONS_FILE)
  num_rows = len(rows[schema.RAW_USER_ID])
  logging.info("Writing %d event rows to %s.", num_rows, paths[EVENTS])
  synthetic_files.write_table(paths[EVENTS], rows, config.file_format)
  synthetic_files.write_table(paths[ADVERTISERS], advertisers,
                              config.file_format)
  synthetic_files.write_table(paths[ITEMS], items, config.file_format)
  with open(paths[CORRUPTIONS], "w", encoding="utf-8") as f:
    json.dump(corruptions, f, indent=2, sort_keys=True)
    f.write("\n")
  if config.cold_start_items:
    paths[COLD_START] = os.path.join(config.output, COLD_START_FILE)
    with open(paths[COLD_START], "w", encoding="utf-8") as f:
      f.writelines(item_id + "\n" for item_id in late_item_ids)

  event_type_names = synthetic_events.EVENT_TYPES
  type_counts = np.bincount(events.event_type,
                            minlength=len(event_type_names))
  event_types = dict(zip(event_type_names, type_counts.tolist()))
  return {
      "events": len(events.user),
      "rows": num_rows,
      "event_types": event_types,
      "conversion_share":
          sum(event_types[t] for t in synthetic_events.CONVERSION_TYPES) /
          len(events.user),
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
  parser = argparse.ArgumentParser(
      prog="python -m tfrs_adcg.synthetic",
      description="Writes a synthetic offsite event log and its catalogs.")
  flags.add_flags(parser, SyntheticConfig)
  args = parser.parse_args(argv)
  try:
    return flags.from_args(SyntheticConfig, args)
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

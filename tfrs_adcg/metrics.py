"""Per-user ranking metrics over the full corpus, and the two baselines.

For a user with positives P (every advertiser converted with in the label
window) and a ranking r of the candidate corpus:

* ``recall@K = |top K of r ∩ P| / |P|``;
* ``ndcg@K = DCG / IDCG`` with ``DCG = sum over hits at rank i (1-based) of
  1 / log2(i + 1)`` and IDCG the DCG of a ranking with all of P first.

Both are averaged over users (eval examples) with at least one positive.
The baselines rank the same corpus: *popularity* by training positives, the
same list for everyone; *last advertiser* the user's history advertisers,
most recent first, then popularity for the rest.

Item-level models add *cold-start recall*: ``recall@K`` over a user's
positives that are cold-start items (never a training positive), averaged
over the users who have any; and a baseline that expands an advertiser
ranking to items, each advertiser's items in popularity order.
"""

import math
from typing import Callable, Dict, Iterable, List, Mapping, Optional
from typing import Sequence, Set

RECALL_KS = (10, 50, 100)
NDCG_K = 10
METRIC_NAMES = tuple(f"recall@{k}" for k in RECALL_KS) + (f"ndcg@{NDCG_K}",)
MAX_K = max(RECALL_KS + (NDCG_K,))
RANKERS = ("model", "popularity", "last_advertiser")
COLD_START_PREFIX = "cold_start_"
COLD_START_USERS = "cold_start_users"
USERS = "users"


def user_metrics(ranking: Sequence[str], positives: Set[str]) -> Dict[str, float]:
  """Recall@10/50/100 and NDCG@10 of one user's ranking.

  Args:
    ranking: Candidate ids, best first (at least the top ``MAX_K``, fewer if
      the corpus is smaller).
    positives: The user's positives; must not be empty.
  """
  if not positives:
    raise ValueError("A user without positives has no recall.")
  hits = [id_ in positives for id_ in ranking[:MAX_K]]
  metrics = {f"recall@{k}": sum(hits[:k]) / len(positives) for k in RECALL_KS}
  dcg = sum(1.0 / math.log2(rank + 2)
            for rank, hit in enumerate(hits[:NDCG_K]) if hit)
  ideal = sum(1.0 / math.log2(rank + 2)
              for rank in range(min(len(positives), NDCG_K)))
  metrics[f"ndcg@{NDCG_K}"] = dcg / ideal
  return metrics


class MeanMetrics:
  """Averages ``user_metrics`` over users, and cold-start recall if asked.

  Args:
    is_cold: Tells a cold-start candidate. With it, ``result`` adds
      ``cold_start_recall@K`` (over the users with a cold-start positive,
      when there are any), ``cold_start_users`` and ``users``.
  """

  def __init__(self, is_cold: Optional[Callable[[str], bool]] = None):
    self._sums = {name: 0.0 for name in METRIC_NAMES}
    self._is_cold = is_cold
    self._cold_sums = {k: 0.0 for k in RECALL_KS}
    self.num_users = 0
    self.num_cold_users = 0

  def add(self, ranking: Sequence[str], positives: Set[str]) -> None:
    for name, value in user_metrics(ranking, positives).items():
      self._sums[name] += value
    self.num_users += 1
    if self._is_cold is None:
      return
    cold = {id_ for id_ in positives if self._is_cold(id_)}
    if cold:
      self.num_cold_users += 1
      hits = [id_ in cold for id_ in ranking[:MAX_K]]
      for k in RECALL_KS:
        self._cold_sums[k] += sum(hits[:k]) / len(cold)

  def result(self) -> Dict[str, float]:
    if not self.num_users:
      raise ValueError("No users with positives to evaluate.")
    result = {name: total / self.num_users
              for name, total in self._sums.items()}
    if self._is_cold is not None:
      result[USERS] = self.num_users
      result[COLD_START_USERS] = self.num_cold_users
      if self.num_cold_users:
        for k, total in self._cold_sums.items():
          result[f"{COLD_START_PREFIX}recall@{k}"] = (
              total / self.num_cold_users)
    return result


def last_advertiser_ranking(history: Iterable[str], popularity: Sequence[str],
                            k: int = MAX_K) -> List[str]:
  """The top ``k``: distinct history advertisers newest first, then popular.

  Args:
    history: The user's advertisers, oldest first; padding is skipped.
    popularity: The corpus, most popular first.
    k: Length of the ranking returned.
  """
  ranking = list(dict.fromkeys(id_ for id_ in reversed(list(history)) if id_))
  seen = set(ranking)
  for id_ in popularity:
    if len(ranking) >= k:
      break
    if id_ not in seen:
      ranking.append(id_)
  return ranking[:k]


def expand_to_items(advertiser_ranking: Iterable[str],
                    items_of: Mapping[str, Sequence[str]],
                    popular_items: Sequence[str],
                    k: int = MAX_K) -> List[str]:
  """An advertiser ranking as an item ranking of length ``k``.

  Args:
    advertiser_ranking: Advertisers, best first.
    items_of: Each advertiser's items, most popular first.
    popular_items: Items, most popular first: the rest of the ranking once
      the ranked advertisers' items are used up.
    k: Length of the ranking returned.
  """
  ranking = []
  for advertiser in advertiser_ranking:
    ranking.extend(items_of.get(advertiser, ())[:k - len(ranking)])
    if len(ranking) >= k:
      return ranking
  seen = set(ranking)
  for item in popular_items:
    if len(ranking) >= k:
      break
    if item not in seen:
      ranking.append(item)
  return ranking


def format_table(results: Dict[str, Dict[str, float]]) -> str:
  """Rankers as rows, metrics as columns, in a fixed-width text table."""
  width = max([16] + [len(ranker) + 1 for ranker in results])
  header = f"{'':<{width}}" + "".join(f"{name:>12}" for name in METRIC_NAMES)
  rows = [header]
  for ranker, metrics in results.items():
    rows.append(f"{ranker:<{width}}" +
                "".join(f"{metrics[name]:>12.4f}" for name in METRIC_NAMES))
  return "\n".join(rows)


def format_cold_start_table(results: Dict[str, Dict[str, float]]) -> str:
  """Cold-start recall of each ranker that has it, as a text table."""
  names = [f"{COLD_START_PREFIX}recall@{k}" for k in RECALL_KS]
  rows = [f"{'':<26}" + "".join(f"{name:>24}" for name in names)
          + f"{COLD_START_USERS:>18}"]
  for ranker, values in results.items():
    if COLD_START_USERS not in values:
      continue
    cells = "".join(f"{values[name]:>24.4f}" if name in values
                    else f"{'-':>24}" for name in names)
    rows.append(f"{ranker:<26}{cells}{values[COLD_START_USERS]:>18d}")
  return "\n".join(rows)

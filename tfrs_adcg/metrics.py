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
"""

import math
from typing import Dict, Iterable, List, Sequence, Set

RECALL_KS = (10, 50, 100)
NDCG_K = 10
METRIC_NAMES = tuple(f"recall@{k}" for k in RECALL_KS) + (f"ndcg@{NDCG_K}",)
MAX_K = max(RECALL_KS + (NDCG_K,))
RANKERS = ("model", "popularity", "last_advertiser")


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
  """Averages ``user_metrics`` over users."""

  def __init__(self):
    self._sums = {name: 0.0 for name in METRIC_NAMES}
    self.num_users = 0

  def add(self, ranking: Sequence[str], positives: Set[str]) -> None:
    for name, value in user_metrics(ranking, positives).items():
      self._sums[name] += value
    self.num_users += 1

  def result(self) -> Dict[str, float]:
    if not self.num_users:
      raise ValueError("No users with positives to evaluate.")
    return {name: total / self.num_users for name, total in self._sums.items()}


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


def format_table(results: Dict[str, Dict[str, float]]) -> str:
  """Rankers as rows, metrics as columns, in a fixed-width text table."""
  header = f"{'':<16}" + "".join(f"{name:>12}" for name in METRIC_NAMES)
  rows = [header]
  for ranker, metrics in results.items():
    rows.append(f"{ranker:<16}" +
                "".join(f"{metrics[name]:>12.4f}" for name in METRIC_NAMES))
  return "\n".join(rows)

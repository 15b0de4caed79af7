"""Vocabularies and candidate frequencies: counted ids written as TSV files.

* ``vocab/<feature>.tsv``: lines ``id<TAB>count``, most frequent first (ties
  by id), for the history features and the catalog category. The empty id
  (an event without item) is padding and has no line.
* ``candidate_frequencies.tsv``: lines ``id<TAB>positives<TAB>probability``
  for every id of the candidate vocabulary, most positives first:
  positives are label occurrences in the training examples, probability is
  positives / total, the candidate's sampling probability for the log-Q
  correction. A candidate with no training positive gets half a positive,
  ``0.5 / total``, so that log-Q never sees 0 (the probabilities then sum to
  slightly more than 1); with no positives at all every candidate gets
  1 / number of candidates.

The counts come from ``event_log.ReadEvents`` (``id_counts``) and the catalog,
summed into one ``{(feature, id): count}`` dict (``counts.SumCounts``, which
sends one accumulator per bundle through the shuffle, not one element per
id); the files are written whole by the one worker that holds it.
"""

import os
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import apache_beam as beam

from beam import counts
from beam import output_dir
from tfrs_adcg import schema

ZERO_POSITIVES = 0.5  # Positives assumed for a never-seen candidate.


def _sorted_ids(id_counts: Iterable[Tuple[str, int]]) -> List[Tuple[str, int]]:
  """Most frequent first, ties by id."""
  return sorted(id_counts, key=lambda id_count: (-id_count[1], id_count[0]))


def _write_lines(path: str, lines: Iterable[str]) -> str:
  return output_dir.write_text(path, "".join(line + "\n" for line in lines))


def _write_vocabularies(id_counts: Mapping[Tuple[str, str], int], output: str,
                        features: Sequence[str]) -> List[str]:
  per_feature: Dict[str, List[Tuple[str, int]]] = {f: [] for f in features}
  for (feature, id_), count in id_counts.items():
    per_feature[feature].append((id_, count))
  return [
      _write_lines(schema.vocab_path(output, feature),
                   (f"{id_}\t{count}" for id_, count in _sorted_ids(pairs)))
      for feature, pairs in per_feature.items()]


class WriteVocabularies(beam.PTransform):
  """The ``{(feature, id): count}`` dict to one vocabulary file per feature.

  Every feature in ``features`` gets a file, empty if it has no id; the dict
  has no other features.

  Args:
    output: The data directory.
    features: The features to write.
  """

  def __init__(self, output: str, features: Sequence[str]):
    super().__init__()
    self._output = output
    self._features = tuple(features)

  def expand(self, id_counts):
    return id_counts | "Write" >> beam.Map(_write_vocabularies, self._output,
                                           self._features)


def frequency_lines(positives: Iterable[Tuple[str, int]]) -> List[str]:
  """Lines of the candidate frequency file of (candidate, positives) pairs."""
  ordered = _sorted_ids(positives)
  total = sum(count for _, count in ordered)
  if not total:
    return [f"{id_}\t0\t{1.0 / len(ordered)!r}" for id_, _ in ordered]
  return [f"{id_}\t{count}\t{max(count, ZERO_POSITIVES) / total!r}"
          for id_, count in ordered]


def _write_frequencies(positives: Mapping[str, int], path: str,
                       id_counts: Mapping[Tuple[str, str], int],
                       feature: str) -> str:
  every_candidate = {id_: 0 for id_feature, id_ in id_counts
                     if id_feature == feature}
  every_candidate.update(positives)
  return _write_lines(path, frequency_lines(every_candidate.items()))


class WriteCandidateFrequencies(beam.PTransform):
  """(candidate id, training positives) pairs to the frequency file.

  Every id of ``feature`` in the ``{(feature, id): count}`` dict is a
  candidate, with or without positives.

  Args:
    output: The data directory.
    id_counts: A singleton PCollection of the dict.
    feature: The candidates' feature (``schema.ADVERTISER_ID``, ...).
  """

  def __init__(self, output: str, id_counts: beam.PCollection, feature: str):
    super().__init__()
    self._path = os.path.join(output, schema.CANDIDATE_FREQUENCIES)
    self._id_counts = id_counts
    self._feature = feature

  def expand(self, positives):
    return (positives
            | "SumPerCandidate" >> beam.CombineGlobally(counts.SumCounts())
            | "Write" >> beam.Map(_write_frequencies, self._path,
                                  beam.pvalue.AsSingleton(self._id_counts),
                                  self._feature))

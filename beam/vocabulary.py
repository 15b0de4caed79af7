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

Each file is written whole by one worker: a vocabulary is one element. The
counts come from ``events.ReadEvents`` (``id_counts``) and the catalog.
"""

import os
from typing import Dict, Iterable, List, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam import counts
from tfrs_adcg import schema

ZERO_POSITIVES = 0.5  # Positives assumed for a never-seen candidate.


def _sorted_ids(id_counts: Iterable[Tuple[str, int]]) -> List[Tuple[str, int]]:
  """Most frequent first, ties by id."""
  return sorted(id_counts, key=lambda id_count: (-id_count[1], id_count[0]))


def _write_lines(path: str, lines: Iterable[str]) -> str:
  with FileSystems.create(path) as f:
    f.write("".join(line + "\n" for line in lines).encode("utf-8"))
  return path


def _write_vocabulary(feature_and_counts, output: str) -> str:
  feature, id_counts = feature_and_counts
  id_counts = [pair for pair in id_counts if pair is not None]
  return _write_lines(
      schema.vocab_path(output, feature),
      (f"{id_}\t{count}" for id_, count in _sorted_ids(id_counts)))


class WriteVocabularies(beam.PTransform):
  """((feature, id), count) to one vocabulary file per feature.

  Every feature in ``features`` gets a file, empty if it has no id.

  Args:
    output: The data directory.
    features: The features to write.
  """

  def __init__(self, output: str, features: Sequence[str]):
    super().__init__()
    self._output = output
    self._features = tuple(features)

  def expand(self, id_counts):
    every_feature = (
        id_counts.pipeline
        | "Features" >> beam.Create([(f, None) for f in self._features]))
    per_feature = id_counts | "ByFeature" >> beam.MapTuple(
        lambda feature_id, count: (feature_id[0], (feature_id[1], count)))
    return ((every_feature, per_feature)
            | "Flatten" >> beam.Flatten()
            | "GroupByFeature" >> beam.GroupByKey()
            | "Write" >> beam.Map(_write_vocabulary, self._output))


def frequency_lines(positives: Iterable[Tuple[str, int]]) -> List[str]:
  """Lines of the candidate frequency file of (candidate, positives) pairs."""
  ordered = _sorted_ids(positives)
  total = sum(count for _, count in ordered)
  if not total:
    return [f"{id_}\t0\t{1.0 / len(ordered)!r}" for id_, _ in ordered]
  return [f"{id_}\t{count}\t{max(count, ZERO_POSITIVES) / total!r}"
          for id_, count in ordered]


def _write_frequencies(positives: Dict[str, int], path: str) -> str:
  return _write_lines(path, frequency_lines(positives.items()))


class WriteCandidateFrequencies(beam.PTransform):
  """Candidate ids and (id, training positives) to the frequency file.

  Takes a pair of PCollections: every candidate id (the candidate
  vocabulary), and positive counts to sum per id.
  """

  def __init__(self, output: str):
    super().__init__()
    self._path = os.path.join(output, schema.CANDIDATE_FREQUENCIES)

  def expand(self, candidates_and_positives):
    candidates, positives = candidates_and_positives
    return (
        (candidates | "ZeroPositives" >> beam.Map(lambda id_: (id_, 0)),
         positives)
        | "Flatten" >> beam.Flatten()
        | "SumPerCandidate" >> beam.CombineGlobally(counts.SumCounts())
        | "Write" >> beam.Map(_write_frequencies, self._path))

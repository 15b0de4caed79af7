"""Where the pipelines run: their options, local process tuning, the run.

The command lines build their pipeline as Beam's examples do, with two
calls of this module around it::

    options = runner.pipeline_options(beam_args, input_bytes)
    pipeline = beam.Pipeline(options=options)
    ...  # The transforms; runner.parallelism(pipeline.options) if needed.
    runner.run_pipeline(pipeline)

Every choice that depends on the runner is made here, once. On the
DirectRunner (no ``--runner``, or ``--runner DirectRunner``):

* a large input runs in one worker process per core: ``pipeline_options``
  adds ``--direct_running_mode multi_processing`` and ``--direct_num_workers
  <cores>`` when the user set neither option (``--direct_num_workers 1``
  keeps a single in-memory process), more than one core is available, and
  the input is large enough that the workers' start-up (each imports Beam)
  and the shuffles between processes pay: ``MIN_PARALLEL_BYTES``;
* every process that runs bundles collects less garbage
  (``collector.collect_less``): ``run_pipeline`` calls it in the launching
  process, which runs the bundles itself unless there are worker processes,
  and ``pipeline_options`` names ``COLLECTOR_PLUGIN`` in ``--beam_plugins``,
  which Beam's SDK worker imports as it starts, before it runs any bundle.

On other runners the options are the user's, untouched: those runners bring
their own parallelism, and their worker processes are theirs to tune. The
pipeline and its output are the same either way.
"""

import logging
import os
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.runners.runner import PipelineResult

from beam import collector

_LOGGER = logging.getLogger(__name__)

# About 450k events of a CSV log: below it, one process is as quick as two
# (benchmarks/results/runner.md).
MIN_PARALLEL_BYTES = 24 * 2**20
# Imported by the DirectRunner's worker processes (Beam's --beam_plugins).
COLLECTOR_PLUGIN = "beam.collector_plugin"

_DIRECT_RUNNERS = ("direct", "directrunner", "switchingdirectrunner")
_PARALLELISM_OPTIONS = ("direct_running_mode", "direct_num_workers")


def available_cores() -> int:
  """The cores this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # Not on Linux.
    return os.cpu_count() or 1


def is_direct_runner(runner: Optional[str]) -> bool:
  """Whether a ``--runner`` value (None: not given) names the DirectRunner."""
  if runner is None:
    return True
  return runner.rsplit(".", 1)[-1].lower() in _DIRECT_RUNNERS


def _runs_locally(options: PipelineOptions) -> bool:
  return is_direct_runner(options.view_as(StandardOptions).runner)


def _sets_parallelism(arg: str) -> bool:
  """Whether a command-line argument is one of the parallelism options."""
  return arg.split("=", 1)[0].lstrip("-") in _PARALLELISM_OPTIONS


def pipeline_options(beam_args: Sequence[str], input_bytes: int,
                     cores: Optional[int] = None) -> PipelineOptions:
  """The options to build a pipeline with: ``beam_args``, plus the
  DirectRunner's worker processes and garbage-collection plugin on the
  DirectRunner.

  Args:
    beam_args: The Beam pipeline options of the command line.
    input_bytes: The size of the input, as stored.
    cores: The cores available; default ``available_cores()``.
  """
  args = list(beam_args)
  if not _runs_locally(PipelineOptions(args)):
    return PipelineOptions(args)
  cores = available_cores() if cores is None else cores
  if (not any(_sets_parallelism(arg) for arg in args) and cores > 1
      and input_bytes >= MIN_PARALLEL_BYTES):
    _LOGGER.info(
        "DirectRunner: %d worker processes for %.0f MiB of input "
        "(--direct_num_workers 1 runs in this process alone).", cores,
        input_bytes / 2**20)
    args += ["--direct_running_mode", "multi_processing",
             "--direct_num_workers", str(cores)]
  return PipelineOptions(args + ["--beam_plugins", COLLECTOR_PLUGIN])


def parallelism(options: PipelineOptions,
                cores: Optional[int] = None) -> int:
  """How many bundles of a stage run at once, for work best cut into a
  multiple of that (``balanced_pieces``).

  On the DirectRunner, its ``--direct_num_workers`` (0: ``cores``, default
  ``available_cores()``): it deals a grouped stage's keys to its workers in
  turn, so a stage of 7 keys on 2 workers takes as long as 4 keys. On other
  runners 1, which asks for no rounding: their workers take work as they
  free up, and they split and rebalance it themselves.
  """
  if not _runs_locally(options):
    return 1
  workers = options.view_as(DirectOptions).direct_num_workers
  if workers == 0:
    return available_cores() if cores is None else cores
  return max(1, workers)


def balanced_pieces(total: int, piece_size: int, parallelism: int) -> int:
  """How many pieces to cut ``total`` into: one per ``piece_size`` (at least
  one), rounded up to a multiple of ``parallelism``, so that the bundles run
  at once get equal numbers of them."""
  pieces = max(1, -(-total // piece_size))
  return -(-pieces // parallelism) * parallelism


def run_pipeline(pipeline: beam.Pipeline) -> PipelineResult:
  """Runs ``pipeline`` and waits until it finishes; returns its result.

  On the DirectRunner, this process collects less garbage from here on
  (``collector.collect_less``); the worker processes do so through the
  plugin that ``pipeline_options`` names.
  """
  if _runs_locally(pipeline.options):
    collector.collect_less()
  result = pipeline.run()
  result.wait_until_finish()
  return result

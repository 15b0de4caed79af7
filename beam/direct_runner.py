"""Local runs that use the machine: worker processes for large inputs.

Beam's DirectRunner runs a pipeline in one Python process unless told
otherwise, so a large local preprocessing run would use one core of many.
``parallel_options`` adds ``--direct_running_mode multi_processing`` and
``--direct_num_workers <cores>`` to the pipeline options when

* the runner is the DirectRunner (no ``--runner``, or ``--runner
  DirectRunner``); other runners bring their own parallelism;
* the user set neither of those two options (``--direct_num_workers 1``
  keeps a single in-memory process);
* the machine has more than one core available to this process;
* the input is large enough that the workers' start-up (a few seconds of
  importing Beam in each) pays: ``MIN_PARALLEL_BYTES``.

The pipeline and its output are the same either way; only the number of
processes that run it changes. ``parallelism`` tells how many bundles the
DirectRunner runs at once, for work that is best split into a multiple of
that (the duplicate-detection shards, the first chunks of a text input).
"""

import logging
import os
from typing import List, Optional, Sequence

from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions

_LOGGER = logging.getLogger(__name__)

# About 450k events of a CSV log. Workers cost a few seconds to start and
# the shuffles between processes. In alternating runs on 2 cores, one process
# was a little ahead at 250k events (13 MiB, median 9.3 s against 9.7 s), the
# two were even at 380k (19 MiB), two workers were ahead in four of four
# pairs at 515k (27 MiB, 13.5 s against 15.9 s), and 1.53x at 1M.
MIN_PARALLEL_BYTES = 24 * 2**20

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


def _sets_parallelism(arg: str) -> bool:
  """Whether a command-line argument is one of the parallelism options."""
  return arg.split("=", 1)[0].lstrip("-") in _PARALLELISM_OPTIONS


def parallel_options(beam_args: Sequence[str], input_bytes: int,
                     cores: int) -> List[str]:
  """``beam_args``, plus multi-process options where they leave the choice.

  Args:
    beam_args: The Beam pipeline options from the command line.
    input_bytes: The size of the input, as stored.
    cores: The cores available (``available_cores()``).

  Returns:
    The options to build the pipeline with.
  """
  runner = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
  if (not is_direct_runner(runner) or any(_sets_parallelism(arg)
                                          for arg in beam_args)
      or cores < 2 or input_bytes < MIN_PARALLEL_BYTES):
    return list(beam_args)
  _LOGGER.info(
      "DirectRunner: %d worker processes for %.0f MiB of input "
      "(--direct_num_workers 1 runs in this process alone).", cores,
      input_bytes / 2**20)
  return list(beam_args) + ["--direct_running_mode", "multi_processing",
                            "--direct_num_workers", str(cores)]


def parallelism(options: PipelineOptions, cores: int) -> int:
  """How many bundles of a stage the DirectRunner runs at once: its
  ``--direct_num_workers`` (0: ``cores``); 1 on other runners, which balance
  their work themselves.

  The DirectRunner deals a grouped stage's keys to its workers in turn, so a
  stage of 7 keys on 2 workers takes as long as 4 keys.
  """
  if not is_direct_runner(options.view_as(StandardOptions).runner):
    return 1
  workers = options.view_as(DirectOptions).direct_num_workers
  return cores if workers == 0 else max(1, workers)


def balanced_pieces(total: int, piece_size: int, parallelism: int) -> int:
  """How many pieces to cut ``total`` into: one per ``piece_size`` (at least
  one), rounded up to a multiple of ``parallelism``, so that the bundles run
  at once get equal numbers of them."""
  pieces = max(1, -(-total // piece_size))
  return -(-pieces // parallelism) * parallelism

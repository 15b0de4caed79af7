"""Less garbage collection in the processes that run the pipelines' bundles.

A preprocessing bundle keeps hundreds of thousands of small tuples alive at
once: a dedup shard's distinct events, users' timelines. CPython's cyclic
collector looks at the young objects every 700 container allocations and
at every live container each time the old ones have grown by a quarter, so
it walks those tuples over and over, and finds next to no cycles in them
(reference counting frees the rest). ``collect_less`` raises the young
generation's threshold to ``YOUNG_THRESHOLD`` allocations for the rest of the
process; cycles are still collected, just in fewer, larger passes.

The first call in a process also freezes the objects that exist then
(``gc.freeze``): mostly what importing Beam brings, with Beam's GCP and
other IO clients. The collector never walks frozen objects again, neither
in the old generation's passes nor when the process exits, where tearing
them down would delay the end of every Beam process.

``runner`` decides where it applies: the processes of the DirectRunner
(``runner.run_pipeline`` and ``collector_plugin``), not other runners'.
"""

import gc

YOUNG_THRESHOLD = 100_000


def collect_less() -> None:
  """Raises the young generation's collection threshold, never lowers it;
  freezes the objects that exist, unless some are frozen already.

  A threshold of 0 (collection disabled) is left as it is.
  """
  if not gc.get_freeze_count():
    gc.freeze()
  young, *older = gc.get_threshold()
  if 0 < young < YOUNG_THRESHOLD:
    gc.set_threshold(YOUNG_THRESHOLD, *older)

"""Less garbage collection in the processes that run the preprocessing.

A preprocessing bundle keeps hundreds of thousands of small tuples alive at
once: a dedup shard's distinct events, users' timelines. CPython's cyclic
collector looks at the young objects every 700 container allocations and
at every live container each time the old ones have grown by a quarter, so
it walks those tuples over and over, and finds next to no cycles in them
(reference counting frees the rest). On the 1M-event benchmark log that was
about a tenth of a worker's CPU. ``collect_less`` raises the young
generation's threshold to ``YOUNG_THRESHOLD`` allocations for the rest of the
process; cycles are still collected, just in fewer, larger passes.

The first call in a process also freezes the objects that exist then
(``gc.freeze``): mostly what importing Beam brings, some 1,900 modules with
Beam's GCP and other IO clients, pandas and pyarrow. The collector never
walks frozen objects again, neither in the old generation's passes nor when
the process exits, where tearing them down took about 0.4 s of every Beam
process (0.05 s frozen). The DirectRunner stops its worker processes one
after the other: each now stops in 0.13 s rather than 0.6 s, and a 1M-event
run on two workers ends about 1.5 s earlier, the launching process's exit
included.

The DoFns and CombineFns that build the large state call it from ``setup``,
so it takes effect in whichever process runs them: Beam's worker processes,
or the launching process on the in-memory DirectRunner; ``beam.preprocess``
calls it in the launching process too.
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

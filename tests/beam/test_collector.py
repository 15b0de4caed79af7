"""collect_less raises the young generation's threshold, never lowers it,
and freezes the objects that exist the first time in a process."""

import gc

from beam import collector


def test_collect_less_raises_only_the_young_threshold():
  saved = gc.get_threshold()
  try:
    gc.set_threshold(700, 10, 10)
    collector.collect_less()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, 10, 10)
    gc.set_threshold(10 * collector.YOUNG_THRESHOLD, 5, 5)
    collector.collect_less()
    assert gc.get_threshold() == (10 * collector.YOUNG_THRESHOLD, 5, 5)
    gc.set_threshold(0, 10, 10)  # Automatic collection off: left off.
    collector.collect_less()
    assert gc.get_threshold() == (0, 10, 10)
  finally:
    gc.set_threshold(*saved)


def test_collect_less_freezes_once():
  gc.unfreeze()  # Earlier tests may have run preprocessing in this process.
  try:
    collector.collect_less()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    later = [[] for _ in range(1000)]  # New containers, not frozen.
    collector.collect_less()
    assert gc.get_freeze_count() == frozen
    del later
  finally:
    gc.unfreeze()

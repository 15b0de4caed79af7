"""The item index benchmark's partitioned measurement, at a tiny size."""

from benchmarks import item_index_bench


def test_partitioned_child_builds_searches_and_measures_recall(tmp_path):
  path = item_index_bench.write_catalog(str(tmp_path / "catalog"), 3000, 16)
  result = item_index_bench.run_child("partitioned", path, search_repeats=3)
  assert result["items"] == 3000
  assert result["partitioned"]["num_leaves"] == round(2 * 3000 ** 0.5)
  # Up to 20k items every leaf is searched: exact.
  assert result["partitioned"]["leaves_to_search"] == result[
      "partitioned"]["num_leaves"]
  assert result["search"]["recall_at_100"] == 1.0
  assert result["search"]["b32_p50_ms"] > 0
  markdown = item_index_bench._markdown({  # pylint: disable=protected-access
      "machine": {"cores": 2, "cpu": "cpu", "memory_gib": 1, "date": "today"},
      "dim": 16, "sizes": {"3000": {"streamed": result, "tfrs": result,
                                    "partitioned": result}},
      "search": {"partitioned": result["search"]}, "search_size": 3000})
  assert "| 3,000 | partitioned |" in markdown
  assert "(partitioned index" in markdown

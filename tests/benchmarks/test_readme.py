"""Tests of benchmarks.readme: the report block inside docs/benchmarks.md."""

import os

import pytest

from benchmarks import readme

REPORT = """# Benchmark report

## Retrieval quality

![recall by max_seq_len](quality_seq_len.png)
See [the serving plot](serving_recall_latency.png), [docs](https://x.org/a)
and [a section](#retrieval-quality).
"""


def test_embeddable_demotes_headings_and_rebases_links(tmp_path):
  results = tmp_path / "benchmarks" / "results"
  docs = tmp_path / "docs"
  text = readme.embeddable(REPORT, str(results), str(docs))
  assert text.startswith("## Benchmark report\n")
  assert "\n### Retrieval quality\n" in text
  assert "](../benchmarks/results/quality_seq_len.png)" in text
  assert "](../benchmarks/results/serving_recall_latency.png)" in text
  # Absolute and in-page links stay as they are.
  assert "](https://x.org/a)" in text
  assert "](#retrieval-quality)" in text


def test_demote_stops_at_level_six():
  assert readme.demote("# a\n##### b\nnot # a heading\n", 2) == (
      "### a\n###### b\nnot # a heading\n")


def test_include_report_replaces_only_the_block(tmp_path):
  results = tmp_path / "benchmarks" / "results"
  results.mkdir(parents=True)
  report = results / "REPORT.md"
  report.write_text(REPORT, encoding="utf-8")
  (tmp_path / "docs").mkdir()
  path = tmp_path / "docs" / "benchmarks.md"
  path.write_text(f"# Title\n\nbefore\n{readme.START}\nold table\n"
                  f"{readme.END}\nafter\n", encoding="utf-8")
  for _ in range(2):  # Idempotent: a second run gives the same file.
    readme.include_report(str(report), str(path))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"{readme.END}\nafter\n")
    assert "old table" not in text
    assert text.count("## Benchmark report") == 1
    assert "](../benchmarks/results/quality_seq_len.png)" in text
  assert not os.path.exists(str(path) + ".tmp")


def test_missing_markers_is_a_clear_error(tmp_path):
  path = tmp_path / "benchmarks.md"
  path.write_text("# No block here\n", encoding="utf-8")
  report = tmp_path / "REPORT.md"
  report.write_text(REPORT, encoding="utf-8")
  with pytest.raises(ValueError, match="benchmarks.md: .*benchmark-report:start"):
    readme.include_report(str(report), str(path))
  assert path.read_text(encoding="utf-8") == "# No block here\n"


def test_the_repository_benchmarks_page_has_the_block():
  with open(readme.PAGE, encoding="utf-8") as f:
    text = f.read()
  assert 0 <= text.index(readme.START) < text.index(readme.END)

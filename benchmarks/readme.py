"""Puts the benchmark report into docs/benchmarks.md, between marker lines.

Markdown has no include: ``benchmarks.run`` copies ``results/REPORT.md`` into
``docs/benchmarks.md`` after each run that writes into the repository's own
results directory, so the page's tables and plots are always the latest
measured. The page holds the block as

    <!-- benchmark-report:start -->
    ...generated, do not edit by hand...
    <!-- benchmark-report:end -->

Headings are demoted to sit under the page's title, and links relative to
the results directory are rewritten relative to the page.
"""

import os
import re

START = "<!-- benchmark-report:start -->"
END = "<!-- benchmark-report:end -->"
PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "docs", "benchmarks.md")

_HEADING = re.compile(r"^(#+) ", re.MULTILINE)
# A markdown link or image target that is a plain relative path.
_RELATIVE_TARGET = re.compile(r"(!?\[[^\]]*\]\()(?![a-z]+:|/|#)([^)\s]+)\)")


def demote(markdown: str, levels: int) -> str:
  """``markdown`` with every heading ``levels`` deeper (at most ``######``)."""
  return _HEADING.sub(
      lambda match: "#" * min(6, len(match.group(1)) + levels) + " ",
      markdown)


def embeddable(report: str, report_dir: str, page_dir: str,
               heading_offset: int = 1) -> str:
  """``report`` with headings ``heading_offset`` deeper and links re-based
  from ``report_dir`` to ``page_dir``."""
  prefix = os.path.relpath(report_dir, page_dir)

  def rebase(match: re.Match) -> str:
    return f"{match.group(1)}{os.path.join(prefix, match.group(2))})"

  return _RELATIVE_TARGET.sub(rebase, demote(report, heading_offset))


def replace_block(page: str, block: str) -> str:
  """``page`` with the text between the markers replaced by ``block``.

  Raises:
    ValueError: if the markers are missing or out of order.
  """
  start = page.find(START)
  end = page.find(END)
  if start < 0 or end < start:
    raise ValueError(f"The page needs the lines {START} and {END}, in that "
                     "order, where the benchmark report goes.")
  head = page[:start + len(START)]
  return f"{head}\n{block.strip()}\n{page[end:]}"


def include_report(report_path: str, page_path: str = PAGE) -> None:
  """Copies the report at ``report_path`` into the page's marked block.

  Raises:
    ValueError: if the page at ``page_path`` has no marked block; the page
      is then left as it was.
  """
  with open(report_path, encoding="utf-8") as f:
    report = f.read()
  with open(page_path, encoding="utf-8") as f:
    page = f.read()
  block = embeddable(report, os.path.dirname(os.path.abspath(report_path)),
                     os.path.dirname(os.path.abspath(page_path)))
  try:
    updated = replace_block(page, block)
  except ValueError as e:
    raise ValueError(f"{page_path}: {e}") from None
  staging = page_path + ".tmp"
  with open(staging, "w", encoding="utf-8") as f:
    f.write(updated)
  os.replace(staging, page_path)

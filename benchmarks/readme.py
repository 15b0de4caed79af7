"""Puts the benchmark report into the README, between two marker lines.

Markdown has no include: ``benchmarks.run`` copies ``results/REPORT.md`` into
``README.md`` after each run that writes into the repository's own results
directory, so the README's tables and plots are always the latest measured.
The README holds the block as

    <!-- benchmark-report:start -->
    ...generated, do not edit by hand...
    <!-- benchmark-report:end -->

Headings are demoted to sit under the README's benchmark section, and links
relative to the results directory are rewritten relative to the README.
"""

import os
import re

START = "<!-- benchmark-report:start -->"
END = "<!-- benchmark-report:end -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "README.md")

_HEADING = re.compile(r"^(#+) ", re.MULTILINE)
# A markdown link or image target that is a plain relative path.
_RELATIVE_TARGET = re.compile(r"(!?\[[^\]]*\]\()(?![a-z]+:|/|#)([^)\s]+)\)")


def demote(markdown: str, levels: int) -> str:
  """``markdown`` with every heading ``levels`` deeper (at most ``######``)."""
  return _HEADING.sub(
      lambda match: "#" * min(6, len(match.group(1)) + levels) + " ",
      markdown)


def embeddable(report: str, report_dir: str, readme_dir: str,
               heading_offset: int = 2) -> str:
  """``report`` with headings ``heading_offset`` deeper and links re-based."""
  prefix = os.path.relpath(report_dir, readme_dir)

  def rebase(match: re.Match) -> str:
    return f"{match.group(1)}{os.path.join(prefix, match.group(2))})"

  return _RELATIVE_TARGET.sub(rebase, demote(report, heading_offset))


def replace_block(readme: str, block: str) -> str:
  """``readme`` with the text between the markers replaced by ``block``.

  Raises:
    ValueError: if the markers are missing or out of order.
  """
  start = readme.find(START)
  end = readme.find(END)
  if start < 0 or end < start:
    raise ValueError(f"The README needs the lines {START} and {END}, in that "
                     "order, where the benchmark report goes.")
  head = readme[:start + len(START)]
  return f"{head}\n{block.strip()}\n{readme[end:]}"


def include_report(report_path: str, readme_path: str = README) -> None:
  """Copies the report at ``report_path`` into the README's marked block."""
  with open(report_path, encoding="utf-8") as f:
    report = f.read()
  with open(readme_path, encoding="utf-8") as f:
    readme = f.read()
  block = embeddable(report, os.path.dirname(os.path.abspath(report_path)),
                     os.path.dirname(os.path.abspath(readme_path)))
  updated = replace_block(readme, block)
  staging = readme_path + ".tmp"
  with open(staging, "w", encoding="utf-8") as f:
    f.write(updated)
  os.replace(staging, readme_path)

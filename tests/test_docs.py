"""Tests of the README and docs/: the flags they name exist, the tour runs.

* Every flag of a ``python -m <module>`` command shown in a page, and every
  ``<module> --flag`` in inline code, must be in that module's ``--help``
  (or, for the Beam pipelines, be a Beam pipeline option). A flag alone in
  inline code (a flag table, a sentence) must belong to one of the commands
  the page documents, to Beam or to TF Serving's model server.
* Relative links reach their files, and anchors their headings.
* The README's five-minute tour runs as printed, in an empty directory, and
  every output line it shows appears in what the commands print (digits
  aside, since times and versions change; ``...`` stands for omitted text).
"""

import argparse
import concurrent.futures
import functools
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Dict, FrozenSet, Iterator, List, Sequence, Tuple

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"

# The command lines of the package, each with a --help.
CLIS = ("beam.preprocess", "tfrs_adcg.train", "tfrs_adcg.synthetic",
        "export.savedmodel", "export.check", "export.query",
        "beam.batch_candidates", "benchmarks.run")
# Pipelines whose other flags are Beam pipeline options.
BEAM_PIPELINES = ("beam.preprocess", "beam.batch_candidates")
# The commands each page documents: its flags standing alone are theirs.
PAGE_COMMANDS = {
    "README.md": CLIS,
    "data.md": ("tfrs_adcg.synthetic", "beam.preprocess"),
    "preprocess.md": ("beam.preprocess",),
    "training.md": ("tfrs_adcg.train",),
    "serving.md": ("export.savedmodel", "export.check", "export.query"),
    "batch_candidates.md": ("beam.batch_candidates",),
    "items.md": ("tfrs_adcg.synthetic", "beam.preprocess", "tfrs_adcg.train",
                 "export.savedmodel", "beam.batch_candidates"),
    # Its quality tables name the training flags of each ablation.
    "benchmarks.md": ("benchmarks.run", "tfrs_adcg.train"),
    "design.md": (),
}
# Flags of tensorflow_model_server that the serving page names.
MODEL_SERVER_FLAGS = frozenset((
    "--rest_api_port", "--model_name", "--model_base_path",
    "--enable_batching", "--batching_parameters_file", "--model_config_file"))
# Every command has these.
HELP_FLAGS = frozenset(("-h", "--help"))

_MODULE = r"(?:tfrs_adcg|beam|export|benchmarks)\.\w+"
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
_INVOCATION = re.compile(rf"python -m ({_MODULE})((?:[^\n]*\\\n)*[^\n]*)")
_INLINE_COMMAND = re.compile(rf"^(?:python -m )?({_MODULE})\s+-")
_SUBSTITUTION = re.compile(r"\$\([^)]*\)")
_COMMENT = re.compile(r"\s#\s.*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
_INDENTED = re.compile(r"^    .*$", re.MULTILINE)
_INLINE_CODE = re.compile(r"`([^`]+)`")
# A link or image target that is a relative path (with an optional anchor).
_LINK = re.compile(r"\]\((?![a-z]+:)([^)\s]+)\)")
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
_TOUR_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The tour runs several TensorFlow processes on 2 shared cores.
_TOUR_COMMAND_TIMEOUT_S = 600


def pages() -> List[pathlib.Path]:
  """The README and every page of docs/."""
  return [README] + sorted(DOCS.glob("*.md"))


def flags_in(text: str) -> List[str]:
  """The flags in a command's text, without ``$(...)`` and ``# ...``."""
  return _FLAG.findall(_COMMENT.sub("", _SUBSTITUTION.sub("", text)))


def invocations(markdown: str) -> Iterator[Tuple[str, List[str]]]:
  """``(module, flags)`` of every ``python -m <module>`` in ``markdown``,
  continuation lines included."""
  for match in _INVOCATION.finditer(markdown):
    yield match.group(1), flags_in(match.group(2))


def inline_code(markdown: str) -> List[str]:
  """The inline code spans of ``markdown``, outside code blocks."""
  prose = _INDENTED.sub("", _FENCE.sub("", markdown))
  return _INLINE_CODE.findall(prose)


def help_flags(help_text: str) -> FrozenSet[str]:
  """The option strings of an argparse ``--help``: its usage and the lines
  that introduce each option."""
  usage = help_text.split("\n\n", 1)[0]
  # "  -v, --verbose    Help text.": the option strings end at the gap.
  options = [re.split(r"\s{2,}", line.strip())[0]
             for line in help_text.splitlines() if line.startswith("  -")]
  return frozenset(_FLAG.findall(usage + "\n" + "\n".join(options)))


@functools.lru_cache(maxsize=None)
def beam_pipeline_flags() -> FrozenSet[str]:
  """Every option string of Beam's ``PipelineOptions``."""
  from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
  parser = pipeline_options._BeamArgumentParser(add_help=False)  # pylint: disable=protected-access
  for options in pipeline_options.PipelineOptions.__subclasses__():
    options._add_argparse_args(parser)  # pylint: disable=protected-access
  return frozenset(parser._option_string_actions)  # pylint: disable=protected-access


def run_help(module: str) -> str:
  """``python -m <module> --help``, run from the repository's root."""
  result = subprocess.run([sys.executable, "-m", module, "--help"],
                          cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
  assert result.returncode == 0, (
      f"python -m {module} --help failed:\n{result.stderr}")
  return result.stdout


@pytest.fixture(scope="module")
def documented() -> Dict[str, List[Tuple[str, str, str]]]:
  """Per module, ``(page, flag, where)`` of every flag the pages give it."""
  found = {module: [] for module in CLIS}
  for page in pages():
    text = page.read_text(encoding="utf-8")
    for module, flags in invocations(text):
      found.setdefault(module, []).extend(
          (page.name, flag, f"python -m {module} ...") for flag in flags)
    for span in inline_code(text):
      command = _INLINE_COMMAND.match(span)
      if command:
        arguments = span[command.end() - 1:]
        found.setdefault(command.group(1), []).extend(
            (page.name, flag, f"`{span}`") for flag in flags_in(arguments))
  return found


@pytest.fixture(scope="module")
def cli_flags(documented) -> Dict[str, FrozenSet[str]]:
  """The flags of every documented module, from its ``--help``."""
  modules = sorted(set(CLIS) | set(documented))
  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    helps = dict(zip(modules, pool.map(run_help, modules)))
  return {module: help_flags(text) for module, text in helps.items()}


def test_help_flags_parses_usage_and_option_lines():
  parser = argparse.ArgumentParser(prog="x")
  parser.add_argument("--alpha", "--alpha_alias", type=int)
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="Mentions --not_a_flag in its text.")
  assert help_flags(parser.format_help()) == {
      "-h", "--help", "--alpha", "--alpha_alias", "-v", "--verbose"}


def test_invocations_follow_continuations_and_skip_substitutions():
  text = ("    python -m export.check serving/$(ls x | sort -n | tail -1)\n"
          "    python -m beam.preprocess --input a \\\n"
          "        [--split time|leave_last_out]   # --not_this\n"
          "    docker run --rm -p 8501:8501\n")
  assert list(invocations(text)) == [
      ("export.check", []), ("beam.preprocess", ["--input", "--split"])]


def test_inline_code_skips_code_blocks():
  text = ("Use `--alpha` and `x.y --beta`.\n\n    `--in_block`\n\n"
          "```\n`--fenced`\n```\nthen `--gamma`.\n")
  assert inline_code(text) == ["--alpha", "x.y --beta", "--gamma"]


def test_every_cli_has_a_page_and_the_docs_exist():
  names = {page.name for page in pages()}
  assert set(PAGE_COMMANDS) == names
  documented_commands = {command for commands in PAGE_COMMANDS.values()
                         for command in commands}
  assert set(CLIS) <= documented_commands


@pytest.mark.integration
def test_commands_in_the_docs_use_flags_their_help_lists(documented,
                                                         cli_flags):
  unknown = []
  for module, uses in documented.items():
    allowed = cli_flags[module]
    if module in BEAM_PIPELINES:
      allowed = allowed | beam_pipeline_flags()
    unknown += [f"{page}: {where}: {flag}" for page, flag, where in uses
                if flag not in allowed]
  assert not unknown, "Flags the commands do not have:\n" + "\n".join(unknown)


@pytest.mark.integration
def test_flags_alone_in_the_docs_belong_to_the_page_commands(cli_flags):
  unknown = []
  for page in pages():
    allowed = HELP_FLAGS | MODEL_SERVER_FLAGS | beam_pipeline_flags()
    for module in PAGE_COMMANDS[page.name]:
      allowed |= cli_flags[module]
    for span in inline_code(page.read_text(encoding="utf-8")):
      if span.startswith("-"):
        unknown += [f"{page.name}: `{span}`: {flag}"
                    for flag in flags_in(span) if flag not in allowed]
  assert not unknown, (
      "Flags no command of their page has:\n" + "\n".join(unknown))


def anchor(heading: str) -> str:
  """GitHub's anchor of a markdown heading's text."""
  return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_anchor_follows_github():
  assert anchor("Which epoch: valid and eval") == "which-epoch-valid-and-eval"
  assert anchor("Rejected rows: dead letters") == "rejected-rows-dead-letters"
  assert anchor("Training: `tfrs_adcg.train`") == "training-tfrs_adcgtrain"


def test_relative_links_reach_their_files_and_headings():
  broken = []
  for page in pages():
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
      path, _, fragment = target.partition("#")
      linked = (page.parent / path).resolve() if path else page
      if not linked.exists():
        broken.append(f"{page.name}: {target}: no such file")
      elif fragment and linked.suffix == ".md":
        headings = _HEADING.findall(linked.read_text(encoding="utf-8"))
        if fragment not in {anchor(heading) for heading in headings}:
          broken.append(f"{page.name}: {target}: no such heading")
  assert not broken, "Broken links:\n" + "\n".join(broken)


def tour() -> List[Tuple[str, List[str]]]:
  """The README tour's ``(command, output lines shown)``, in order."""
  block = _TOUR_BLOCK.search(README.read_text(encoding="utf-8"))
  assert block, "README.md needs the tour as a ```console block."
  steps = []
  lines = iter(block.group(1).splitlines())
  for line in lines:
    if line.startswith("$ "):
      command = line[2:]
      while command.endswith("\\"):
        command = command[:-1] + next(lines).strip()
      steps.append((command, []))
    else:
      assert steps, f"Tour output before any command: {line!r}"
      steps[-1][1].append(line)
  return steps


def _masked(text: str) -> str:
  return re.sub(r"\d+", "0", text.rstrip())


def shown_line_printed(shown: str, printed: Sequence[str]) -> bool:
  """Whether a line the tour shows is among the lines a command printed:
  digits may differ, ``...`` stands for any text."""
  pieces = [re.escape(piece) for piece in _masked(shown).split("...")]
  pattern = re.compile(".*".join(pieces))
  return any(pattern.search(_masked(line)) for line in printed)


def test_shown_line_printed_masks_digits_and_elisions():
  printed = ["2026-01-02 10:00:00,123 INFO Wrote 36766 events of 300 users.",
             "model  0.2732  0.4468"]
  assert shown_line_printed("2026-12-07 18:53:24,614 INFO Wrote 1 events "
                            "of 2 users.", printed)
  assert shown_line_printed("model  0.1  ...", printed)
  assert not shown_line_printed("popularity  0.1", printed)


@pytest.mark.integration
def test_the_readme_tour_runs_as_printed(tmp_path):
  steps = tour()
  assert len(steps) >= 5, steps
  env = dict(os.environ)
  env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
  seconds = {}
  for command, shown in steps:
    start = time.monotonic()
    result = subprocess.run(command, shell=True, executable="/bin/bash",
                            cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=_TOUR_COMMAND_TIMEOUT_S,
                            check=False)
    seconds[command] = round(time.monotonic() - start, 1)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"$ {command}\n{output}"
    printed = re.split(r"[\r\n]", output)
    missing = [line for line in shown
               if line.strip() not in ("", "...")
               and not shown_line_printed(line, printed)]
    assert not missing, (f"$ {command} no longer prints:\n"
                         + "\n".join(missing) + f"\n\nIt printed:\n{output}")
  print(f"Tour seconds: {seconds}, total {sum(seconds.values()):.1f}")

"""Imports go one way: core -> training -> export -> pipelines.

Every module of ``tfrs_adcg``, ``export`` and ``beam`` is read with ``ast``
(nothing is imported), and each import it makes, at the top or lazily
inside a function, is checked against the layers: a module may import its
own layer and the layers below it, never one above.

- core: ``tfrs_adcg``'s model, towers, data, evaluation and the rest;
- training: ``TRAINING_MODULES``, the training loop and what only it uses;
- export: ``export``;
- pipelines: ``beam``, whose batch job scores with exported models.

One entry point imports above its layer, exactly where ``ENTRY_POINTS``
says: ``tfrs_adcg.train``, the command line of training, lists
``--export_index``'s choices in ``parse_args`` and exports after training
(``--export_dir``) in ``main``. Nothing imports it; the training itself
(``tfrs_adcg.training``) never exports.
"""

import ast
import pathlib
from typing import Iterator, List, Tuple

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("tfrs_adcg", "export", "beam")
TRAINING_MODULES = frozenset({
    "tfrs_adcg.train", "tfrs_adcg.training", "tfrs_adcg.run_config",
    "tfrs_adcg.distribution", "tfrs_adcg.callbacks"})
CORE, TRAINING, EXPORT, PIPELINES = range(4)
LAYER_NAMES = ("core", "training", "export", "pipelines")
# (module, function) -> the modules above its layer it may import there.
ENTRY_POINTS = {
    ("tfrs_adcg.train", "parse_args"): frozenset({"export.index"}),
    ("tfrs_adcg.train", "main"): frozenset({"export.savedmodel"}),
}

Import = Tuple[str, str, int]  # (imported module, enclosing function, line)


def layer(module: str) -> int:
  """The layer of a module of ``PACKAGES``."""
  package = module.split(".")[0]
  if package == "beam":
    return PIPELINES
  if package == "export":
    return EXPORT
  return TRAINING if module in TRAINING_MODULES else CORE


def module_files() -> Iterator[Tuple[str, pathlib.Path]]:
  for package in PACKAGES:
    for path in sorted((REPO / package).rglob("*.py")):
      parts = path.relative_to(REPO).with_suffix("").parts
      if parts[-1] == "__init__":
        parts = parts[:-1]
      yield ".".join(parts), path


def imports(path: pathlib.Path) -> List[Import]:
  """Every import of the packages in a file, with its enclosing function.

  ``from export import index`` imports ``export.index``; ``from
  tfrs_adcg.model import build`` imports ``tfrs_adcg.model``.
  """
  found = []

  def visit(node: ast.AST, function: str) -> None:
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
        visit(child, child.name if function == "<module>" else function)
        continue
      names = []
      if isinstance(child, ast.Import):
        names = [alias.name for alias in child.names]
      elif isinstance(child, ast.ImportFrom) and child.level == 0 and (
          child.module):
        submodules = [f"{child.module}.{alias.name}" for alias in child.names]
        names = [name if _is_module(name) else child.module
                 for name in submodules]
      for name in names:
        if name.split(".")[0] in PACKAGES:
          found.append((name, function, child.lineno))
      visit(child, function)

  visit(ast.parse(path.read_text(), str(path)), "<module>")
  return found


def _is_module(name: str) -> bool:
  base = REPO.joinpath(*name.split("."))
  return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def upward_imports(module: str, path: pathlib.Path) -> List[str]:
  """The imports of ``module`` of a layer above its own, not allowed by
  ``ENTRY_POINTS``, each described with its file and line."""
  wrong = []
  for imported, function, line in imports(path):
    if layer(imported) <= layer(module):
      continue
    if imported in ENTRY_POINTS.get((module, function), ()):
      continue
    where = "at the top" if function == "<module>" else f"in {function}()"
    wrong.append(
        f"{_shown(path)}:{line}: {module} ({LAYER_NAMES[layer(module)]}) "
        f"imports {imported} ({LAYER_NAMES[layer(imported)]}) {where}")
  return wrong


def _shown(path: pathlib.Path) -> pathlib.Path:
  return path.relative_to(REPO) if REPO in path.parents else path


def test_the_layers_are_known():
  modules = dict(module_files())
  assert TRAINING_MODULES <= set(modules)
  for module, _ in ENTRY_POINTS:
    assert module in modules


@pytest.mark.parametrize("module, path", list(module_files()),
                         ids=lambda value: str(value).rsplit("/", 1)[-1])
def test_no_module_imports_a_layer_above_its_own(module, path):
  wrong = upward_imports(module, path)
  assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_training_command_line():
  importers = [f"{path.relative_to(REPO)}:{line}"
               for _, path in module_files()
               for imported, _, line in imports(path)
               if imported == "tfrs_adcg.train"]
  assert not importers, importers


def test_an_upward_import_is_named_with_its_file_line_and_function(
    tmp_path):
  text = (REPO / "tfrs_adcg" / "schema.py").read_text()
  copy = tmp_path / "schema.py"
  copy.write_text(text + "\n\ndef late():\n  from beam import events\n")
  line = len(copy.read_text().splitlines())
  assert upward_imports("tfrs_adcg.schema", copy) == [
      f"{copy}:{line}: tfrs_adcg.schema (core) imports beam.events "
      "(pipelines) in late()"]

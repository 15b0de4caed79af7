"""Command lines from config dataclasses: each setting declared once.

``add_flags`` gives a parser one flag per field of a config dataclass,
inherited fields included and the fields of a nested config dataclass
flattened into the same namespace; ``from_args`` builds the config back from
the parsed namespace::

    parser = argparse.ArgumentParser()
    flags.add_flags(parser, TrainConfig,
                    {"pooling": flags.Flag(choices=POOLINGS)})
    config = flags.from_args(TrainConfig, parser.parse_args(argv))

A field ``name`` is the flag ``--name``. Its type is the field's annotation:
``int``, ``float``, ``str``, ``Tuple[str, ...]`` (comma-separated text), or
``bool``, the pair ``--name`` / ``--no_name``; each may be ``Optional``. Its
default is the field's. Its help is the field's entry in the ``Attributes:``
section of the class docstring, followed by the default, so that ``--help``
says what the code's documentation says. What the annotation cannot say (the
choices, other option strings, a parser of its own, a default of the command
line's own, or that a field has no flag) a ``Flag`` says: in the field's
metadata (``field``), or given to ``add_flags`` for the class.
"""

import argparse
import dataclasses
import inspect
import re
import typing
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

# The key of a field's ``Flag`` in its metadata.
_METADATA_KEY = "flag"
# Where the field's own default is the flag's.
_FIELD_DEFAULT = object()
# "name: text" opens an entry of a docstring section.
_ENTRY = re.compile(r"(\w+):\s*(.*)")


@dataclasses.dataclass(frozen=True)
class Flag:
  """What a field's annotation does not say about its flag.

  Attributes:
    names: Option strings instead of ``--<field>``. For a bool, the first
      one sets True and every other one False.
    choices: The values the flag accepts.
    parse: Text to value (an argparse ``type``), for a field whose
      annotation is none of the plain types, or read differently.
    format: Value to text, the inverse of ``parse``: shows the default.
    default: The command line's default, where it is not the field's. None
      leaves the value to the caller of ``from_args`` (which resolves it,
      from other flags say); ``default_help`` then says what it is.
    default_help: The default in words, shown instead of the value.
  """
  names: Tuple[str, ...] = ()
  choices: Optional[Sequence[Any]] = None
  parse: Optional[Callable[[str], Any]] = None
  format: Callable[[Any], str] = str
  default: Any = _FIELD_DEFAULT
  default_help: Optional[str] = None


def field(*, flag: Optional[Flag], **field_args: Any) -> Any:
  """A ``dataclasses.field`` whose command line is ``flag``; None: none.

  ``field_args`` are those of ``dataclasses.field`` (``default``, ...).
  """
  return dataclasses.field(metadata={_METADATA_KEY: flag}, **field_args)


def csv_list(text: str) -> Tuple[str, ...]:
  """An argparse type: "a, b,c" -> ("a", "b", "c")."""
  return tuple(part.strip() for part in text.split(",") if part.strip())


def attribute_docs(cls: type) -> Dict[str, str]:
  """Each attribute's text in the ``Attributes:`` sections of the
  docstrings of ``cls`` and its bases (the subclass's text wins), on one
  line, without the double backquotes of literals."""
  docs = {}
  for klass in reversed(cls.__mro__):
    docs.update(_attributes_section(klass.__dict__.get("__doc__") or ""))
  return docs


def _attributes_section(docstring: str) -> Dict[str, str]:
  """The entries of a Google-style docstring's ``Attributes:`` section."""
  lines = inspect.cleandoc(docstring).splitlines()
  headers = [i for i, line in enumerate(lines)
             if line.strip() == "Attributes:"]
  if not headers:
    return {}
  entries: Dict[str, list] = {}
  entry_indent, name = None, None
  header_indent = _indent(lines[headers[0]])
  for line in lines[headers[0] + 1:]:
    if not line.strip():
      continue
    if _indent(line) <= header_indent:
      break
    entry_indent = entry_indent or _indent(line)
    entry = _ENTRY.fullmatch(line.strip())
    if _indent(line) == entry_indent and entry:
      name = entry.group(1)
      entries[name] = [entry.group(2)]
    elif name is not None:
      entries[name].append(line.strip())
  return {name: " ".join(" ".join(text).split()).replace("``", "")
          for name, text in entries.items()}


def _indent(line: str) -> int:
  return len(line) - len(line.lstrip())


class _Switch(argparse.Action):
  """A bool flag: its first option string sets True, the others False."""

  def __init__(self, option_strings: Sequence[str], dest: str,
               default: Optional[bool] = None, help: Optional[str] = None):  # pylint: disable=redefined-builtin
    super().__init__(option_strings, dest, nargs=0, default=default,
                     help=help)

  def __call__(self, parser, namespace, values, option_string=None):
    setattr(namespace, self.dest, option_string == self.option_strings[0])

  def format_usage(self) -> str:
    return " | ".join(self.option_strings)


def add_flags(parser: argparse.ArgumentParser, cls: type,
              flags: Optional[Mapping[str, Optional[Flag]]] = None) -> None:
  """Adds a flag for each field of the dataclass ``cls`` to ``parser``.

  Args:
    parser: The command line.
    cls: A dataclass; its fields' flags are added in their order, those of
      a field whose type is a dataclass (and that has no ``Flag``) in its
      place.
    flags: ``Flag`` by field name (of ``cls`` or of a nested dataclass),
      over the one in the field's metadata; None: the field has no flag.

  Raises:
    TypeError: for a field whose annotation has no flag type and whose
      ``Flag`` gives no ``parse``, or that the docstring does not document.
  """
  flags = flags or {}
  docs = attribute_docs(cls)
  hints = typing.get_type_hints(cls)
  for f in dataclasses.fields(cls):
    spec = flags.get(f.name, f.metadata.get(_METADATA_KEY, Flag()))
    if spec is None:
      continue
    annotation = _without_optional(hints[f.name])
    if (dataclasses.is_dataclass(annotation) and f.name not in flags
        and _METADATA_KEY not in f.metadata):
      add_flags(parser, annotation, flags)
      continue
    if f.name not in docs:
      raise TypeError(f"{cls.__name__}.{f.name} has a flag but no entry in "
                      f"the Attributes: section of {cls.__name__}'s "
                      f"docstring ({inspect.getsourcefile(cls)}).")
    _add_flag(parser, cls, f, annotation, spec, docs[f.name])


def _add_flag(parser: argparse.ArgumentParser, cls: type,
              f: dataclasses.Field, annotation: Any, spec: Flag,
              doc: str) -> None:
  """Adds the flag of the field ``f`` of ``cls``."""
  default = spec.default
  if default is _FIELD_DEFAULT:
    default = f.default
    if f.default_factory is not dataclasses.MISSING:
      default = f.default_factory()
  settings: Dict[str, Any] = {"dest": f.name}
  if default is dataclasses.MISSING:
    settings["required"] = True
  else:
    settings["default"] = default
  shown = spec.default_help
  value_shown = shown is None and not (default is None or
                                       default is dataclasses.MISSING)
  if annotation is bool and spec.parse is None:
    names = spec.names or (f"--{f.name}", f"--no_{f.name}")
    settings["action"] = _Switch
    if value_shown:
      shown = names[0] if default else names[1]
  else:
    names = spec.names or (f"--{f.name}",)
    parse, format_value = spec.parse, spec.format
    if parse is None:
      parse, format_value = _plain_type(annotation)
    if parse is None:
      raise TypeError(
          f"{cls.__name__}.{f.name}: no flag type for {annotation!r}; give "
          f"its Flag a parse ({inspect.getsourcefile(cls)}).")
    settings.update(type=parse, choices=spec.choices)
    if value_shown:
      shown = format_value(default)
  help_text = doc if shown is None else f"{doc} (default: {shown})"
  parser.add_argument(*names, help=help_text.replace("%", "%%"), **settings)


def _without_optional(annotation: Any) -> Any:
  """``X`` of ``Optional[X]``; any other annotation as it is."""
  args = typing.get_args(annotation)
  if typing.get_origin(annotation) is typing.Union and type(None) in args:
    rest = [arg for arg in args if arg is not type(None)]
    if len(rest) == 1:
      return rest[0]
  return annotation


def _plain_type(annotation: Any) -> Tuple[Optional[Callable[[str], Any]],
                                          Callable[[Any], str]]:
  """(parse, format) of an annotation with a flag type; parse None if none."""
  if (typing.get_origin(annotation) is tuple
      and typing.get_args(annotation) == (str, ...)):
    return csv_list, ",".join
  return (annotation if annotation in (int, float, str) else None), str


def from_args(cls: type, args: argparse.Namespace,
              values: Optional[Mapping[str, Any]] = None) -> Any:
  """Builds the dataclass ``cls`` from a namespace ``add_flags`` filled.

  Args:
    cls: The dataclass given to ``add_flags``.
    args: The parsed command line; entries that are no field are ignored.
    values: Field values that win over the namespace's, such as those the
      caller resolved (of ``cls``'s own fields, not of nested ones).

  Returns:
    A ``cls``: each field from ``values``, else from its flag, else (no
    flag) its default; a nested dataclass built the same way.
  """
  values = values or {}
  hints = typing.get_type_hints(cls)
  kwargs = {}
  for f in dataclasses.fields(cls):
    annotation = _without_optional(hints[f.name])
    if f.name in values:
      kwargs[f.name] = values[f.name]
    elif hasattr(args, f.name):
      kwargs[f.name] = getattr(args, f.name)
    elif dataclasses.is_dataclass(annotation):
      kwargs[f.name] = from_args(annotation, args)
  return cls(**kwargs)

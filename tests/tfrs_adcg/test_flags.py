"""Tests of tfrs_adcg.flags: a dataclass to flags and back."""

import argparse
import dataclasses
from typing import Optional, Tuple

import pytest

from tfrs_adcg import flags


@dataclasses.dataclass(frozen=True, kw_only=True)
class Base:
  """Shared settings.

  Attributes:
    name: The name, from ``Base``.
    size: How many; its text goes on
      over two lines.
    shared: Documented here, and again by the subclass.

  Raises:
    nothing: A section after Attributes is not an attribute.
  """
  name: str
  size: int = 3
  shared: float = 0.5


@dataclasses.dataclass(frozen=True)
class Inner:
  """A nested group.

  Attributes:
    depth: How deep, 100% of it.
  """
  depth: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Settings(Base):
  """Everything.

  Attributes:
    shared: The subclass's text wins.
    verbose: Say more.
    quiet: Say less.
    tags: The tags.
    inner: Not a flag itself; its fields are.
    level: One of a few.
    hidden: Not on the command line.
  """
  verbose: bool = False
  quiet: Optional[bool] = None
  tags: Tuple[str, ...] = ("a", "b")
  inner: Inner = Inner()
  level: str = flags.field(default="low",
                           flag=flags.Flag(choices=("low", "high")))
  hidden: int = flags.field(default=7, flag=None)


def parser_of(cls=Settings, specs=None) -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="prog")
  flags.add_flags(parser, cls, specs)
  return parser


def helps(parser: argparse.ArgumentParser):
  return {action.dest: action.help for action in parser._actions}  # pylint: disable=protected-access


def parse(*argv: str, specs=None) -> Settings:
  parser = parser_of(specs=specs)
  return flags.from_args(Settings, parser.parse_args(["--name", "n", *argv]))


def test_attribute_docs_of_a_class_and_its_bases():
  assert flags.attribute_docs(Settings) == {
      "name": "The name, from Base.",
      "size": "How many; its text goes on over two lines.",
      "shared": "The subclass's text wins.",
      "verbose": "Say more.",
      "quiet": "Say less.",
      "tags": "The tags.",
      "inner": "Not a flag itself; its fields are.",
      "level": "One of a few.",
      "hidden": "Not on the command line.",
  }


def test_help_is_the_attribute_doc_and_the_default():
  texts = helps(parser_of())
  assert texts["name"] == "The name, from Base."
  assert texts["size"] == "How many; its text goes on over two lines. " \
      "(default: 3)"
  assert texts["shared"] == "The subclass's text wins. (default: 0.5)"
  assert texts["tags"] == "The tags. (default: a,b)"
  assert texts["verbose"] == "Say more. (default: --no_verbose)"
  assert texts["quiet"] == "Say less."
  # argparse formats help with %: a literal one is escaped.
  assert texts["depth"] == "How deep, 100%% of it."
  assert "100% of it" in parser_of().format_help()


def test_defaults_and_values_of_every_kind():
  assert parse() == Settings(name="n")
  settings = parse("--size", "5", "--shared", "0.25", "--verbose",
                   "--no_quiet", "--tags", "x, y", "--depth", "2",
                   "--level", "high")
  assert settings == Settings(name="n", size=5, shared=0.25, verbose=True,
                              quiet=False, tags=("x", "y"),
                              inner=Inner(depth=2), level="high")


def test_the_last_of_a_bool_pair_wins():
  assert parse("--verbose", "--no_verbose").verbose is False
  assert parse("--quiet").quiet is True


def test_a_field_without_a_flag_keeps_its_default():
  parser = parser_of()
  assert "--hidden" not in parser.format_help()
  with pytest.raises(SystemExit):
    parser.parse_args(["--name", "n", "--hidden", "1"])
  assert parse().hidden == 7


def test_a_bad_value_fails_with_argparses_error(capsys):
  with pytest.raises(SystemExit) as exit_info:
    parse("--size", "many")
  assert exit_info.value.code == 2
  assert "argument --size: invalid int value: 'many'" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    parse("--level", "medium")
  assert "invalid choice: 'medium'" in capsys.readouterr().err


def test_a_field_without_a_default_is_required(capsys):
  with pytest.raises(SystemExit):
    parser_of().parse_args([])
  assert "the following arguments are required: --name" in (
      capsys.readouterr().err)


def test_call_site_flags_win_over_the_metadata():
  specs = {
      "size": flags.Flag(names=("--count", "-c")),
      "level": flags.Flag(choices=("low", "mid")),
      "tags": flags.Flag(parse=str.upper, format=repr),
      "shared": None,
      "verbose": flags.Flag(names=("--loud", "--soft", "--hush")),
  }
  parser = parser_of(specs=specs)
  assert helps(parser)["tags"] == "The tags. (default: ('a', 'b'))"
  args = parser.parse_args(["--name", "n", "-c", "4", "--level", "mid",
                            "--tags", "t", "--loud", "--hush"])
  assert flags.from_args(Settings, args) == Settings(
      name="n", size=4, level="mid", tags="T", verbose=False)
  assert "--shared" not in parser.format_help()


def test_a_command_line_default_left_to_the_caller():
  specs = {"size": flags.Flag(default=None, default_help="from the name")}
  parser = parser_of(specs=specs)
  assert helps(parser)["size"].endswith("(default: from the name)")
  args = parser.parse_args(["--name", "abcd"])
  assert args.size is None
  settings = flags.from_args(Settings, args, {"size": len(args.name)})
  assert settings.size == 4


def test_a_nested_dataclass_with_a_flag_of_its_own():
  specs = {"inner": flags.Flag(parse=lambda text: Inner(int(text)),
                               format=lambda inner: str(inner.depth))}
  parser = parser_of(specs=specs)
  assert "--depth" not in parser.format_help()
  assert flags.from_args(
      Settings, parser.parse_args(["--name", "n", "--inner", "3"])
  ).inner == Inner(depth=3)


def test_a_nested_dataclass_with_a_flag_in_its_metadata():

  @dataclasses.dataclass
  class Outer:
    """Outer.

    Attributes:
      inner: A depth.
    """
    inner: Inner = flags.field(default=Inner(), flag=flags.Flag(
        parse=lambda text: Inner(int(text))))

  parser = parser_of(Outer)
  assert flags.from_args(Outer, parser.parse_args(["--inner", "5"])) == Outer(
      inner=Inner(depth=5))


def test_an_undocumented_field_is_refused():

  @dataclasses.dataclass
  class Undocumented:
    """No attributes section."""
    count: int = 1

  with pytest.raises(TypeError, match=r"Undocumented.count .* Attributes:"):
    parser_of(Undocumented)


def test_a_field_of_no_flag_type_needs_a_parse():

  @dataclasses.dataclass
  class Odd:
    """Odd.

    Attributes:
      pair: Two numbers.
    """
    pair: Tuple[int, int] = (1, 2)

  with pytest.raises(TypeError, match=r"Odd.pair: no flag type"):
    parser_of(Odd)
  parser = parser_of(Odd, {"pair": flags.Flag(
      parse=lambda text: tuple(map(int, text.split(":"))))})
  assert parser.parse_args(["--pair", "3:4"]).pair == (3, 4)


def test_csv_list():
  assert flags.csv_list(" a, b,,c ") == ("a", "b", "c")
  assert flags.csv_list("") == ()


def test_a_class_without_an_attributes_section_documents_nothing():

  class Plain:
    pass

  class Described:
    """Only a summary."""

  assert flags.attribute_docs(Plain) == {}
  assert flags.attribute_docs(Described) == {}

"""The output directory: refused or cleared if used; small files in it."""

import pytest

from beam import output_dir


def test_prepare_refuses_a_used_directory_unless_overwriting(tmp_path):
  earlier = tmp_path / "manifest.json"
  earlier.write_text("{}")
  with pytest.raises(ValueError, match="already holds data.*--overwrite"):
    output_dir.prepare(str(tmp_path), [str(earlier)], False, "data", ())
  output_dir.prepare(str(tmp_path), [str(earlier)], True, "data", ("vocab",))
  assert not earlier.exists()
  assert (tmp_path / "vocab").is_dir()


def test_write_text_writes_utf8_whole(tmp_path):
  path = str(tmp_path / "ids.tsv")
  assert output_dir.write_text(path, "café\t2\n") == path
  assert (tmp_path / "ids.tsv").read_bytes() == "café\t2\n".encode("utf-8")
  output_dir.write_text(path, "")  # A new file each time.
  assert (tmp_path / "ids.tsv").read_bytes() == b""

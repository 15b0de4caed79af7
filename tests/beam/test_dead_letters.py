"""Tests of beam.dead_letters: rejected rows as JSON lines."""

import glob
import json

import apache_beam as beam
from apache_beam.testing import test_pipeline

from beam import dead_letters
from tfrs_adcg import schema


def test_a_dead_letter_is_one_json_object_of_reason_and_row():
  line = dead_letters.dead_letter_line(
      (schema.MALFORMED_ROW, "a,b,\u00e9"))
  assert "\n" not in line
  assert json.loads(line) == {"reason": schema.MALFORMED_ROW,
                              "row": "a,b,\u00e9"}
  assert "\u00e9" in line  # Written as UTF-8, not escaped.


def test_a_row_json_cannot_hold_is_written_as_text():
  row = {"user_id": b"\xff", "timestamp": 1.5}
  line = dead_letters.dead_letter_line((schema.INVALID_ID, row))
  assert json.loads(line)["row"] == {"user_id": str(b"\xff"),
                                     "timestamp": 1.5}


def test_write_dead_letters_into_the_dead_letter_folder(tmp_path):
  letters = [(schema.BAD_TIMESTAMP, "u,yesterday,view,i,a"),
             (schema.DUPLICATE, "u,2026-01-01T00:00:00Z,view,i,a")]
  with test_pipeline.TestPipeline() as pipeline:
    _ = (pipeline
         | beam.Create(letters)
         | dead_letters.WriteDeadLetters(str(tmp_path), "events"))
  paths = glob.glob(str(tmp_path / schema.DEAD_LETTER_DIR / "events-*.jsonl"))
  assert paths
  written = [json.loads(line) for path in paths
             for line in open(path, encoding="utf-8")]
  assert sorted((d["reason"], d["row"]) for d in written) == sorted(letters)

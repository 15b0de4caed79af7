"""Dead letters: the rejected rows of a pipeline's input, as JSON lines.

Every row a pipeline cannot use becomes a dead letter ``(reason, row)``
rather than an error or a silent drop (the reasons are ``schema``'s drop
reasons); ``WriteDeadLetters`` writes them into the output directory's
``dead_letter/`` folder, one JSON object ``{"reason", "row"}`` a line.
"""

import json
import os
from typing import Any, Tuple

import apache_beam as beam

from tfrs_adcg import schema


def dead_letter_line(dead_letter: Tuple[str, Any]) -> str:
  """``(reason, row)`` as a JSON line; a row JSON cannot hold is a string."""
  reason, row = dead_letter
  return json.dumps({"reason": reason, "row": row}, ensure_ascii=False,
                    default=str)


class WriteDeadLetters(beam.PTransform):
  """(reason, row) to JSON lines ``dead_letter/<name>-SSSSS-of-NNNNN.jsonl``.

  Args:
    output: The pipeline's output directory.
    name: What the rows are (``events``, ``advertisers``): the file prefix.
  """

  def __init__(self, output: str, name: str):
    super().__init__()
    self._prefix = os.path.join(output, schema.DEAD_LETTER_DIR, name)

  def expand(self, dead_letters):
    return (dead_letters
            | "ToJson" >> beam.Map(dead_letter_line)
            | "Write" >> beam.io.WriteToText(self._prefix,
                                             file_name_suffix=".jsonl"))

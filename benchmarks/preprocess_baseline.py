"""Baseline of the preprocessing benchmark: the time split in one process.

What a short script would do instead of a Beam pipeline: read the whole CSV
into memory with pyarrow, validate, deduplicate, group and window with pandas
and numpy, and write the same examples (``schema.encode_example``), the
vocabularies and the candidate frequencies, under the protocol of
``beam.preprocess``'s time split with its default cutoffs: an eval cutoff, a
valid cutoff K days before it, and daily training cutoffs whose label windows
end by the valid cutoff. ``benchmarks.preprocess_bench`` times it against
``beam.preprocess`` and fails unless both write the same number of examples
per split.
"""

import bisect
import collections
import os
import time
from typing import Dict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from tfrs_adcg import schema
from tfrs_adcg import timestamps

CONVERSION_TYPES = ("checkout", "add_to_cart", "signup")
EVENT_TYPES = ("view", "add_to_cart", "checkout", "signup")
DAY = 86400


def baseline_preprocess(input_path: str, output: str, max_seq_len: int,
                        label_window_days: int) -> Dict[str, object]:
  """beam.preprocess's time split, single process: pyarrow, pandas, numpy.

  Reads the whole CSV into memory (what Beam avoids), validates like
  ``beam.parse_events`` (ISO or epoch times, ids, types, range), drops exact
  duplicates, sorts by user and time, and writes the examples of the train,
  valid and eval splits, the vocabularies and the candidate frequencies.
  The eval cutoff is the latest event time minus K days, rounded down to the
  day; the valid cutoff K days before it; the training cutoffs are daily, up
  to the valid cutoff minus K days.

  Args:
    input_path: A CSV event log of the raw schema.
    output: The directory the examples, vocabularies and frequencies go to.
    max_seq_len: Events of history per example at most (L).
    label_window_days: Days after a cutoff whose conversions label it (K).

  Returns:
    Counts: events read, events used, examples per split (every split of
    ``schema.SPLITS``, as in ``beam.preprocess``'s manifest).

  Raises:
    ValueError: if ``input_path`` has no valid event.
  """
  malformed = [0]

  def skip_row(_):
    malformed[0] += 1
    return "skip"

  table = pa_csv.read_csv(
      input_path,
      parse_options=pa_csv.ParseOptions(invalid_row_handler=skip_row),
      convert_options=pa_csv.ConvertOptions(
          column_types={name: pa.string() for name in schema.RAW_COLUMNS},
          strings_can_be_null=False))
  read = table.num_rows + malformed[0]
  times = pc.strptime(table[schema.RAW_TIMESTAMP], format="%Y-%m-%dT%H:%M:%SZ",
                      unit="s", error_is_null=True)
  frame = pd.DataFrame({
      "user": table[schema.RAW_USER_ID].to_numpy(zero_copy_only=False),
      "time": pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False),
      "type": table[schema.RAW_EVENT_TYPE].to_numpy(zero_copy_only=False),
      "item": table[schema.RAW_ITEM_ID].to_numpy(zero_copy_only=False),
      "advertiser": table[schema.RAW_ADVERTISER_ID].to_numpy(
          zero_copy_only=False)})
  unparsed = np.flatnonzero(np.isnan(frame["time"].to_numpy()))
  raw_times = table[schema.RAW_TIMESTAMP]
  for row in unparsed:  # Epoch numbers, other ISO forms: as beam.event_times.
    try:
      frame.iloc[row, 1] = timestamps.parse_timestamp(
          raw_times[int(row)].as_py())
    except (ValueError, OverflowError):
      pass
  valid = ((frame["user"] != "") & (frame["advertiser"] != "") &
           frame["time"].notna() & frame["type"].isin(EVENT_TYPES) &
           frame["time"].between(946684800, time.time() + DAY))
  frame = frame[valid].astype({"time": np.int64}).drop_duplicates()
  frame = frame.sort_values(["user", "time", "type", "item", "advertiser"],
                            kind="stable")

  if frame.empty:
    raise ValueError(f"{input_path} has no valid event: no cutoff to split "
                     "at.")

  latest = int(frame["time"].max()) - label_window_days * DAY
  eval_cutoff = latest - latest % DAY
  users = frame["user"].to_numpy()
  starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
  ends = np.r_[starts[1:], len(users)]
  times_all = frame["time"].to_numpy()
  types_all = frame["type"].tolist()
  items_all = frame["item"].tolist()
  advertisers_all = frame["advertiser"].tolist()
  converted = frame["type"].isin(CONVERSION_TYPES).to_numpy()

  os.makedirs(os.path.join(output, schema.VOCAB_DIR), exist_ok=True)
  writers = {split: tf.io.TFRecordWriter(
      os.path.join(output, f"{split}-00000-of-00001{schema.TFRECORD_SUFFIX}"),
      options="GZIP") for split in schema.SPLITS}
  examples = dict.fromkeys(schema.SPLITS, 0)
  positives = collections.Counter()
  eval_day = eval_cutoff // DAY
  valid_day = eval_day - label_window_days
  split_of_day = {valid_day: schema.VALID, eval_day: schema.EVAL}
  for start, end in zip(starts, ends):
    user_times = times_all[start:end].tolist()
    conversions = np.flatnonzero(converted[start:end]) + start
    conversion_times = times_all[conversions].tolist()
    first_day = user_times[0] // DAY
    # From the first training cutoff whose label window reaches the user's
    # first event to the last one, whose window ends at the valid cutoff.
    steps = valid_day - first_day
    cutoff_days = list(range(valid_day - label_window_days - steps,
                             valid_day - label_window_days + 1))
    cutoff_days += [valid_day, eval_day]
    for cutoff_day in cutoff_days:
      cutoff = cutoff_day * DAY
      history_end = bisect.bisect_left(user_times, cutoff)
      low = bisect.bisect_right(conversion_times, cutoff)
      high = bisect.bisect_right(conversion_times,
                                 cutoff + label_window_days * DAY)
      if not history_end or low == high:
        continue
      window = conversions[low:high]
      label_advertisers = sorted({advertisers_all[i] for i in window})
      label_items = sorted({items_all[i] for i in window} - {""})
      begin = start + max(0, history_end - max_seq_len)
      stop = start + history_end
      record = schema.encode_example(
          users[start], cutoff * timestamps.MILLISECONDS_PER_SECOND, {
              schema.TIMESTAMP: [
                  time * timestamps.MILLISECONDS_PER_SECOND
                  for time in user_times[begin - start:history_end]],
              schema.EVENT_TYPE: types_all[begin:stop],
              schema.ITEM_ID: items_all[begin:stop],
              schema.ADVERTISER_ID: advertisers_all[begin:stop],
          }, label_advertisers, label_items)
      split = split_of_day.get(cutoff_day, schema.TRAIN)
      writers[split].write(record)
      examples[split] += 1
      if split == schema.TRAIN:
        positives.update(label_advertisers)
  for writer in writers.values():
    writer.close()

  for feature, column in ((schema.ADVERTISER_ID, "advertiser"),
                          (schema.ITEM_ID, "item"),
                          (schema.EVENT_TYPE, "type")):
    counts = frame[column][frame[column] != ""].value_counts()
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    with open(schema.vocab_path(output, feature), "w", encoding="utf-8") as f:
      f.writelines(f"{id_}\t{n}\n" for id_, n in ordered)
  # As beam.vocabulary: most positives first, half a positive for a
  # candidate with none, 1 / candidates for each when no candidate has any.
  candidates = sorted(((advertiser, positives[advertiser])
                       for advertiser in frame["advertiser"].unique()),
                      key=lambda pair: (-pair[1], pair[0]))
  total = sum(positives.values())
  with open(os.path.join(output, schema.CANDIDATE_FREQUENCIES), "w",
            encoding="utf-8") as f:
    for advertiser, n in candidates:
      probability = max(n, 0.5) / total if total else 1.0 / len(candidates)
      f.write(f"{advertiser}\t{n}\t{probability!r}\n")
  return {"events_read": read, "events_used": len(frame),
          "examples": examples}

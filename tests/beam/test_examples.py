"""Examples of a tiny hand-made event log, written out by hand.

Four users, a dozen events with a timestamp tie, events exactly at day and
cutoff boundaries, a duplicate and five malformed rows; L = 3, K = 2 days,
eval cutoff 2026-01-10T00:00:00Z, so the valid cutoff is Jan 8 and the
training cutoffs are Jan 6, 5, 4...
"""

import collections
import dataclasses
import random

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf  # pylint: disable=g-bad-import-order
from beam import config as config_lib
from beam import counts
from beam import event_log
from beam import examples
from beam import timeline
from tfrs_adcg import schema
from tfrs_adcg import timestamps

GOLDEN_CSV = """\
user_id,timestamp,event_type,item_id,advertiser_id
u1,2026-01-05T10:00:00Z,view,i1,a1
u1,2026-01-06T09:00:00Z,view,i2,a2
u1,2026-01-06T09:00:00Z,add_to_cart,i2,a2
u1,2026-01-07T00:00:00Z,checkout,i2,a2
u1,2026-01-08T12:00:00Z,view,i3,a3
u1,2026-01-08T12:00:00Z,view,i3,a3
u1,2026-01-09T08:00:00Z,signup,,a3
u1,2026-01-11T10:00:00Z,checkout,i1,a1
u2,2026-01-09T23:59:59Z,view,i1,a1
u2,2026-01-10T00:00:00Z,checkout,i1,a1
u2,1768003201,checkout,i4,a4
u3,2026-01-09T12:00:00Z,view,"i,9",a2
u4,2026-01-13T00:00:00Z,checkout,i1,a1
u5,yesterday,view,i1,a1
u5,2026-01-09T12:00:00Z,click,i1,a1
,2026-01-09T12:00:00Z,view,i1,a1
u5,1970-01-01T00:00:00Z,view,i1,a1
u5,2026-01-09T12:00:00Z,view
"""

GOLDEN_FLAGS = ["--max_seq_len", "3", "--label_window_days", "2",
                "--eval_cutoff", "2026-01-10T00:00:00Z", "--min_time",
                "2020-01-01", "--max_time", "2030-01-01"]


def t(iso: str) -> int:
  """Epoch seconds, as the pipeline's events carry times."""
  return timestamps.parse_timestamp(iso)


def ms(iso: str) -> int:
  """Epoch milliseconds, as examples carry times."""
  return timestamps.parse_timestamp_ms(iso)


def event(iso, event_type, item, advertiser):
  """A history event of an example (its time in milliseconds)."""
  return (ms(iso), event_type, item, advertiser)


VIEW_A1 = event("2026-01-05T10:00:00Z", "view", "i1", "a1")
CART_A2 = event("2026-01-06T09:00:00Z", "add_to_cart", "i2", "a2")
VIEW_A2 = event("2026-01-06T09:00:00Z", "view", "i2", "a2")
CHECKOUT_A2 = event("2026-01-07T00:00:00Z", "checkout", "i2", "a2")
VIEW_A3 = event("2026-01-08T12:00:00Z", "view", "i3", "a3")
SIGNUP_A3 = event("2026-01-09T08:00:00Z", "signup", "", "a3")
CHECKOUT_A1 = event("2026-01-11T10:00:00Z", "checkout", "i1", "a1")
U2_VIEW = event("2026-01-09T23:59:59Z", "view", "i1", "a1")
U2_CHECKOUT_A1 = event("2026-01-10T00:00:00Z", "checkout", "i1", "a1")
U2_CHECKOUT_A4 = event("2026-01-10T00:00:01Z", "checkout", "i4", "a4")


def golden_config(tmp_path, *flags) -> config_lib.PreprocessConfig:
  path = tmp_path / "events.csv"
  path.write_text(GOLDEN_CSV)
  config, _ = config_lib.parse_args(
      ["--input", str(path), "--output", str(tmp_path / "out")] +
      GOLDEN_FLAGS + list(flags))
  return config


def decode(record: bytes):
  """(user, cutoff, history events, label advertisers, label items)."""
  example = tf.train.Example.FromString(record)
  feature = example.features.feature

  def strings(name):
    return tuple(v.decode() for v in feature[name].bytes_list.value)

  history = tuple(zip(feature[schema.TIMESTAMP].int64_list.value,
                      strings(schema.EVENT_TYPE), strings(schema.ITEM_ID),
                      strings(schema.ADVERTISER_ID)))
  return (strings(schema.USER_ID)[0],
          feature[schema.CUTOFF].int64_list.value[0], history,
          strings(schema.LABEL_ADVERTISER_IDS), strings(schema.LABEL_ITEM_IDS))


def decode_batch(batch):
  """The decoded examples of a batch, which must all be of one user."""
  decoded = [decode(record) for record in batch]
  assert len({example[0] for example in decoded}) == 1, decoded
  return decoded


def read_events(pipeline, config):
  return pipeline | event_log.ReadEvents(config.input, config.input_format,
                                         config.event_types, config.min_time,
                                         config.max_time, config.dedup_shards,
                                         grouped=True)


def test_time_split_golden_examples(tmp_path):
  # Eval cutoff Jan 10, K = 2 days: the valid cutoff is Jan 8 (its window
  # ends at the eval cutoff) and training cutoffs are Jan 6, 5, 4...
  config = golden_config(tmp_path)
  train = [
      # Cutoff Jan 6: the checkout at exactly Jan 7 00:00 is inside (Jan 6,
      # Jan 8]; the cart at 09:00 ties with a view and sorts first.
      ("u1", ms("2026-01-06T00:00:00Z"), (VIEW_A1,), ("a2",), ("i2",)),
  ]
  valid = [
      # Cutoff Jan 8: the last 3 events; the duplicate view counts once.
      ("u1", ms("2026-01-08T00:00:00Z"), (CART_A2, VIEW_A2, CHECKOUT_A2),
       ("a3",), ()),
  ]
  evaluation = [
      ("u1", ms("2026-01-10T00:00:00Z"), (CHECKOUT_A2, VIEW_A3, SIGNUP_A3),
       ("a1",), ("i1",)),
      # The checkout at the eval cutoff itself is neither history nor label.
      ("u2", ms("2026-01-10T00:00:00Z"), (U2_VIEW,), ("a4",), ("i4",)),
  ]
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    cutoff = read.time_range | beam.Map(examples.resolve_eval_cutoff, config)
    out = read.events | examples.TimeSplitExamples(config, cutoff)
    assert_that(out[schema.TRAIN] | "DecodeTrain" >> beam.FlatMap(decode_batch),
                equal_to(train), label="Train")
    assert_that(out[schema.VALID] | "DecodeValid" >> beam.FlatMap(decode_batch),
                equal_to(valid), label="Valid")
    assert_that(out[schema.EVAL] | "DecodeEval" >> beam.FlatMap(decode_batch),
                equal_to(evaluation), label="Eval")
    assert_that(
        out[counts.COUNTS] | "Sum" >> beam.CombinePerKey(sum),
        equal_to([
            (examples.USERS, 4), (examples.EVENTS_USED, 12),
            ("examples/train", 1), ("examples/valid", 1), ("examples/eval", 2),
            ("positives/train", 1), ("positives/valid", 1),
            ("positives/eval", 2),
            # u1 at Jan 5 (checkout ahead, no history before) and u2 at the
            # valid cutoff (the checkout at Jan 10 00:00 closes its window).
            ("examples_skipped/no_history", 2),
            # u3 at the eval cutoff (views only).
            ("examples_skipped/no_positive", 1),
        ]), label="Counts")
    # Only the training split's labels are candidate positives.
    assert_that(
        out[examples.POSITIVES] | "SumPositives" >> beam.CombinePerKey(sum),
        equal_to([("a2", 1)]), label="Positives")


def test_time_split_cut_points_keep_eval_out_of_training_and_valid(tmp_path):
  # Every training label window ends at or before the valid cutoff, the
  # valid window at the eval cutoff; histories end at their cutoffs.
  config = golden_config(tmp_path)
  window = config.label_window_seconds * timestamps.MILLISECONDS_PER_SECOND
  eval_cutoff = ms("2026-01-10T00:00:00Z")
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    cutoff = read.time_range | beam.Map(examples.resolve_eval_cutoff, config)
    out = read.events | examples.TimeSplitExamples(config, cutoff)
    decoded = {split: out[split] | f"Decode{split}" >> beam.FlatMap(
        decode_batch) for split in schema.SPLITS}

    def check(last_window_end):
      def holds(examples_of_split):
        for _, example_cutoff, history, _, _ in examples_of_split:
          assert example_cutoff + window <= last_window_end, example_cutoff
          assert all(event[0] < example_cutoff for event in history)
        return True
      return holds

    for split, end in ((schema.TRAIN, eval_cutoff - window),
                       (schema.VALID, eval_cutoff)):
      assert_that(decoded[split], check(end), label=f"Cut{split}")
    assert_that(decoded[schema.VALID]
                | beam.Map(lambda example: example[1]),
                equal_to([eval_cutoff - window]), label="ValidCutoff")


def test_time_split_stride_and_default_eval_cutoff(tmp_path):
  # Without --eval_cutoff: the latest valid event (u4, Jan 13 00:00) minus
  # two days, floored to the day: Jan 11; valid cutoff Jan 9. Stride 3:
  # training cutoffs Jan 7, 4, 1...
  config = dataclasses.replace(
      golden_config(tmp_path, "--train_stride_days", "3"), eval_cutoff=None)
  assert examples.resolve_eval_cutoff(
      (0, t("2026-01-13T00:00:00Z")), config) == t("2026-01-11T00:00:00Z")
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    cutoff = read.time_range | beam.Map(examples.resolve_eval_cutoff, config)
    out = read.events | examples.TimeSplitExamples(config, cutoff)
    assert_that(
        out[schema.VALID] | "DecodeValid" >> beam.FlatMap(decode_batch),
        equal_to([
            ("u1", ms("2026-01-09T00:00:00Z"), (VIEW_A2, CHECKOUT_A2, VIEW_A3),
             ("a3",), ()),
        ]), label="Valid")
    assert_that(
        out[schema.EVAL] | "DecodeEval" >> beam.FlatMap(decode_batch),
        equal_to([
            ("u1", ms("2026-01-11T00:00:00Z"),
             (CHECKOUT_A2, VIEW_A3, SIGNUP_A3), ("a1",), ("i1",)),
        ]), label="Eval")
    assert_that(
        out[counts.COUNTS] | "Sum" >> beam.CombinePerKey(sum),
        equal_to([
            (examples.USERS, 4), (examples.EVENTS_USED, 12),
            ("examples/valid", 1), ("examples/eval", 1),
            ("positives/valid", 1), ("positives/eval", 1),
            # u2 at the valid cutoff and u4 at the eval cutoff (its checkout
            # at Jan 13 00:00 is the last second of the window).
            ("examples_skipped/no_history", 2),
            # u1 at Jan 7 (its checkout is at the cutoff itself, its signup
            # after Jan 9 00:00), u2 and u3 at the eval cutoff. Jan 4 has
            # neither history nor labels.
            ("examples_skipped/no_positive", 3),
        ]), label="Counts")


def test_leave_last_out_golden_examples(tmp_path):
  config = golden_config(tmp_path, "--split", "leave_last_out",
                         "--max_train_targets", "1")
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    out = read.events | examples.LeaveLastOutExamples(config)
    assert_that(
        out[schema.TRAIN] | "DecodeTrain" >> beam.FlatMap(decode_batch),
        # Only the latest training target (max_train_targets=1): the cart
        # at Jan 6 09:00 is dropped.
        equal_to([("u1", CHECKOUT_A2[0], (VIEW_A1, CART_A2, VIEW_A2),
                   ("a2",), ("i2",))]), label="Train")
    assert_that(
        out[schema.VALID] | "DecodeValid" >> beam.FlatMap(decode_batch),
        equal_to([
            ("u1", SIGNUP_A3[0], (VIEW_A2, CHECKOUT_A2, VIEW_A3), ("a3",), ()),
            ("u2", U2_CHECKOUT_A1[0], (U2_VIEW,), ("a1",), ("i1",)),
        ]), label="Valid")
    assert_that(
        out[schema.EVAL] | "DecodeEval" >> beam.FlatMap(decode_batch),
        equal_to([
            ("u1", CHECKOUT_A1[0], (CHECKOUT_A2, VIEW_A3, SIGNUP_A3),
             ("a1",), ("i1",)),
            ("u2", U2_CHECKOUT_A4[0], (U2_VIEW, U2_CHECKOUT_A1), ("a4",),
             ("i4",)),
        ]), label="Eval")
    assert_that(
        out[counts.COUNTS] | "Sum" >> beam.CombinePerKey(sum),
        equal_to([
            (examples.USERS, 4), (examples.EVENTS_USED, 12),
            ("examples/train", 1), ("examples/valid", 2),
            ("examples/eval", 2), ("positives/train", 1),
            ("positives/valid", 2), ("positives/eval", 2),
            ("examples_skipped/no_history", 1),  # u4's only event.
        ]), label="Counts")


def test_leave_last_out_tie_is_not_history(tmp_path):
  # The cart at Jan 6 09:00 ties with a view: the view is not strictly
  # before it, so only the Jan 5 view is its history.
  config = golden_config(tmp_path, "--split", "leave_last_out",
                         "--max_train_targets", "5")
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    out = read.events | examples.LeaveLastOutExamples(config)
    assert_that(
        out[schema.TRAIN] | beam.FlatMap(decode_batch),
        equal_to([
            ("u1", CART_A2[0], (VIEW_A1,), ("a2",), ("i2",)),
            ("u1", CHECKOUT_A2[0], (VIEW_A1, CART_A2, VIEW_A2), ("a2",),
             ("i2",)),
        ]))


def test_examples_keep_the_milliseconds_of_events_within_one_second(tmp_path):
  # A view 250 ms after a cart, both before a checkout 150 ms later: the
  # history is ordered by milliseconds and carries them, and so does the
  # target's cutoff.
  path = tmp_path / "events.csv"
  path.write_text(
      "user_id,timestamp,event_type,item_id,advertiser_id\n"
      "u1,2026-01-05T10:00:00.750Z,view,i2,a2\n"
      "u1,2026-01-05T10:00:00.500Z,add_to_cart,i1,a1\n"
      "u1,2026-01-05T10:00:00.900Z,checkout,i2,a2\n")
  config, _ = config_lib.parse_args(
      ["--input", str(path), "--output", str(tmp_path / "out"),
       "--split", "leave_last_out", "--min_time", "2020-01-01",
       "--max_time", "2030-01-01"])
  second = ms("2026-01-05T10:00:00Z")
  with test_pipeline.TestPipeline() as pipeline:
    read = read_events(pipeline, config)
    out = read.events | examples.LeaveLastOutExamples(config)
    assert_that(
        out[schema.EVAL] | beam.FlatMap(decode_batch),
        equal_to([("u1", second + 900,
                   ((second + 500, "add_to_cart", "i1", "a1"),
                    (second + 750, "view", "i2", "a2")), ("a2",), ("i2",))]))


def _reference_time_split(user, events_, eval_cutoff, config):
  """Time-split examples and counts, cutoff by cutoff from all events."""
  day, offset, window = DAY, config.day_offset, config.label_window_days
  eval_day = (eval_cutoff - offset) // day
  valid_day = eval_day - window
  first_day = (min(events_)[0] - offset) // day
  steps = (valid_day - first_day) // config.train_stride_days
  cutoff_days = list(range(
      valid_day - window - steps * config.train_stride_days,
      valid_day - window + 1, config.train_stride_days))
  split_of_day = {valid_day: schema.VALID, eval_day: schema.EVAL}
  conversions = {e for e in events_ if e[1] in config.conversion_types}
  records = collections.defaultdict(list)
  count = collections.Counter({examples.USERS: 1,
                               examples.EVENTS_USED: len(events_)})
  positives = collections.Counter()
  for cutoff_day in cutoff_days + [valid_day, eval_day]:
    cutoff = cutoff_day * day + offset
    history = sorted(e for e in events_ if e[0] < cutoff)[-config.max_seq_len:]
    labels = [e for e in conversions
              if cutoff < e[0] <= cutoff + window * day]
    advertisers = sorted({e[3] for e in labels})
    items = sorted({e[2] for e in labels if e[2]})
    if not history or not advertisers:
      if history or advertisers:
        reason = examples.NO_HISTORY if advertisers else examples.NO_POSITIVE
        count[f"{examples.EXAMPLES_SKIPPED}/{reason}"] += 1
      continue
    split = split_of_day.get(cutoff_day, schema.TRAIN)
    records[split].append(schema.encode_example(
        user, timestamps.milliseconds(cutoff),
        examples.history_columns(history), advertisers, items))
    candidates = items if config.task == schema.ITEM_TASK else advertisers
    count[f"{examples.EXAMPLES}/{split}"] += 1
    count[f"{examples.POSITIVE_COUNTS}/{split}"] += len(candidates)
    if split == schema.TRAIN:
      positives.update(candidates)
  return dict(records), count, positives


DAY = timestamps.DAY_SECONDS


def test_time_split_equals_a_cutoff_by_cutoff_reference(tmp_path):
  rng = random.Random(7)
  start = t("2026-01-01T00:00:00Z")
  seen = collections.Counter()
  for case in range(12):
    stride, window = rng.choice([1, 2, 3]), rng.choice([1, 2, 7])
    eval_cutoff = start + 20 * DAY + rng.choice([0, 1, 3600, DAY - 1])
    config = golden_config(
        tmp_path, "--max_seq_len", str(rng.choice([1, 3, 20])),
        "--label_window_days", str(window), "--train_stride_days",
        str(stride), "--task", rng.choice(schema.TASKS), "--eval_cutoff",
        str(eval_cutoff))
    # Events on day boundaries (conversions at a cutoff, at the end of a
    # label window) and inside days, ties included.
    events_ = list({
        (eval_cutoff + rng.randrange(-25, 10) * DAY
         + rng.choice([-1, 0, 0, 1, rng.randrange(DAY)]),
         rng.choice(["view", "view", "checkout", "signup"]),
         rng.choice(["", "i1", "i2", "ï3"]), rng.choice(["a1", "a2", "ä3"]))
        for _ in range(rng.randrange(1, 60))})
    combine = timeline.DayTimelineFn(config.max_seq_len,
                                     config.conversion_types,
                                     config.day_offset)
    accumulator = combine.create_accumulator()
    for i in range(0, len(events_), 7):
      combine.add_input(accumulator, events_[i:i + 7])
    fn = examples._TimeSplitFn(config)  # pylint: disable=protected-access
    fn.start_bundle()
    outputs = list(fn.process(("u", combine.extract_output(accumulator)),
                              eval_cutoff))
    finished = collections.defaultdict(dict)
    for output in fn.finish_bundle():
      name, value = output.value.value
      finished[output.tag][name] = value
    records, count, positives = _reference_time_split("u", events_,
                                                      eval_cutoff, config)
    assert {output.tag: output.value for output in outputs} == records, case
    assert finished[counts.COUNTS] == count, case
    assert finished.get(examples.POSITIVES, {}) == positives, case
    seen.update(count)
  # The cases had examples of both splits and skipped cutoffs of both kinds.
  assert all(seen[f"{examples.EXAMPLES}/{split}"] for split in
             schema.SPLITS), seen
  assert all(seen[f"{examples.EXAMPLES_SKIPPED}/{reason}"] for reason in
             (examples.NO_HISTORY, examples.NO_POSITIVE)), seen

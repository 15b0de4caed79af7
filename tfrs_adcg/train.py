"""Trains the retrieval model on a preprocessed data dir and evaluates it.

    python -m tfrs_adcg.train --data data/ --model_dir runs/x \
        [--epochs 100] [--steps_per_epoch 100] [--no_logq] [--pooling last]
        [--strategy default|mirrored|multi_worker] [--export_dir serving/adcg]
    python -m tfrs_adcg.train --data item_data/ --model_dir runs/items \
        --item_catalog items.parquet [--no_pretrained] \
        [--advertiser_model_dir runs/x]

Writes into ``--model_dir``: ``config.json``, ``assets/`` (the vocabularies,
so the directory is self-contained), ``checkpoints/`` (one per epoch), ``best/``
(the weights of the best validation epoch), ``tensorboard/``,
``training_log.csv`` (one row per epoch) and ``metrics.json``
(Recall@10/50/100 and NDCG@10 on the valid and the eval split for the model
and both baselines; the eval table is also printed).

Running the same command again (after a kill, or with more ``--epochs``)
resumes after the last checkpoint and ends as an uninterrupted run would:
the input stream continues after the batches the checkpoint's epochs read,
and early stopping keeps its state. A resumed run must keep the settings of
``config.RESUME_FIELDS`` (the data, the model spec, the learning rate, the
batch size, the seed); it is refused, naming the fields, if it does not.

``--max_seq_len`` may not exceed the history length the data was
preprocessed with (its manifest's ``config.max_seq_len``): longer histories
are not in the data, so such a run is refused.

A truncated or corrupted shard of ``--data`` ends the run with an error that
names it (``data.CorruptShardError``). The command ends such an error, and
any other bad flag or input (a ``ValueError``), with one line
``tfrs_adcg.train: error: ...`` and exit status 2.

Validation (early stopping, the best epoch) uses the ``valid`` split; the
``eval`` split is read once, at the end, by the chosen weights.

The task (advertisers or items as candidates) is the one the data was
preprocessed for (``beam.preprocess --task``); ``--task`` may state it and
must then agree. The item task needs ``--item_catalog`` (Parquet, or TFRecord
shards): it is the content of every item, the corpus of evaluation and of the
exported index; ``metrics.json`` then also holds cold-start recall and the
item baselines.

``--strategy multi_worker`` reads the cluster from ``TF_CONFIG``; start the
same command on every worker. Worker 0 (or the chief) writes the model dir;
every worker must be able to read it (a shared filesystem or bucket), as
every worker resumes from its checkpoints. After a kill, start every worker
again.

This module is the command line: flags to a ``TrainConfig``, then
``training.train`` and, with ``--export_dir``, ``export.savedmodel``. It is
the one module of ``tfrs_adcg`` that imports ``export``.
"""

import argparse
import sys
from typing import Optional, Sequence

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)

from tfrs_adcg import command_log
from tfrs_adcg import flags
from tfrs_adcg import negatives
from tfrs_adcg import schema
from tfrs_adcg import training
from tfrs_adcg.config import DENSE_TARGETS, LEARNING_RATE_SCHEDULES
from tfrs_adcg.config import STRATEGIES
from tfrs_adcg.config import TrainConfig
from tfrs_adcg.model_spec import OBJECTIVES, POOLINGS


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
  """Command-line flags to a ``TrainConfig``: a flag per field, its help the
  field's documentation."""
  from export import index  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  flags.add_flags(parser, TrainConfig, {
      "learning_rate_schedule": flags.Flag(choices=LEARNING_RATE_SCHEDULES),
      "negatives": flags.Flag(choices=negatives.KINDS),
      "objective": flags.Flag(choices=OBJECTIVES),
      "dense_target": flags.Flag(choices=DENSE_TARGETS),
      "pooling": flags.Flag(choices=POOLINGS),
      "history_item_ids": flags.Flag(names=(
          "--history_item_ids", "--no_history_item_ids",
          "--no-history_item_ids")),
      "strategy": flags.Flag(choices=STRATEGIES),
      "export_index": flags.Flag(choices=index.INDEX_KINDS),
      "task": flags.Flag(choices=schema.TASKS),
  })
  return flags.from_args(TrainConfig, parser.parse_args(argv))


def main(argv: Optional[Sequence[str]] = None) -> training.TrainResult:
  """Trains as the flags say; with ``--export_dir``, the chief then exports
  the best weights for serving."""
  command_log.configure()
  config = parse_args(argv)
  result = training.train(config)
  if config.export_dir and result.chief:
    from export import savedmodel  # pylint: disable=g-import-not-at-top
    savedmodel.export(model_dir=config.model_dir,
                      export_dir=config.export_dir,
                      index=config.export_index, k=100)
  return result


if __name__ == "__main__":
  try:
    main()
  except ValueError as e:  # A bad flag or input: its message, no trace.
    print(f"tfrs_adcg.train: error: {e}", file=sys.stderr)
    sys.exit(2)

"""tfrs-adcg: ads candidate generation by behavioral sequence modeling.

Importing this package selects tf-keras (Keras 2) for TensorFlow, which
TensorFlow Recommenders requires. It is the one place that does so: ``beam``
and ``export`` import this package before anything imports TensorFlow.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

if "tensorflow" in sys.modules:  # pragma: no cover - depends on import order
  import tensorflow as _tf

  if not _tf.keras.__name__.startswith("tf_keras"):
    raise ImportError(
        "TensorFlow was imported before tfrs_adcg with Keras 3 selected; "
        "TensorFlow Recommenders needs tf-keras. Import tfrs_adcg first or "
        "set TF_USE_LEGACY_KERAS=1 in the environment.")

__version__ = "0.1.0"

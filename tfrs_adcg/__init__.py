"""tfrs-adcg: ads candidate generation by behavioral sequence modeling.

Importing this package selects tf-keras (Keras 2) for TensorFlow, which
TensorFlow Recommenders requires. It is the one place that does so: ``beam``
and ``export`` import this package before anything imports TensorFlow. It
also quiets what every process would print before doing anything: the C++
log of TensorFlow below errors that stop it (its CUDA, oneDNN and CPU
banners; ``TF_CPP_MIN_LOG_LEVEL`` in the environment wins), and the
FutureWarnings about Python and grpcio versions that google-api-core and
google-auth (Beam's GCP extra) print at import (``-W``, ``PYTHONWARNINGS``,
or a command line's ``-v`` or ``--log_level`` win).
"""

import os
import sys
import warnings

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# A command line's -v or --log_level (beam.logs) asks for every library's
# warnings, those printed while importing included.
_VERBOSE_FLAGS = ("-v", "--verbose", "--log_level")
if not sys.warnoptions and not any(
    arg.split("=", 1)[0] in _VERBOSE_FLAGS for arg in sys.argv[1:]):
  warnings.filterwarnings("ignore", category=FutureWarning, module="google")

if "tensorflow" in sys.modules:  # pragma: no cover - depends on import order
  import tensorflow as _tf

  if not _tf.keras.__name__.startswith("tf_keras"):
    raise ImportError(
        "TensorFlow was imported before tfrs_adcg with Keras 3 selected; "
        "TensorFlow Recommenders needs tf-keras. Import tfrs_adcg first or "
        "set TF_USE_LEGACY_KERAS=1 in the environment.")

__version__ = "0.1.0"

"""Export of trained towers as TF Serving SavedModels, and their checks."""

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)

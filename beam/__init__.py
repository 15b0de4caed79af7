"""Apache Beam pipelines of tfrs-adcg: preprocessing and batch candidates."""

import tfrs_adcg  # noqa: F401  (selects tf-keras before TensorFlow loads)

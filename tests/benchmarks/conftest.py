"""Makes the repository's ``benchmarks`` package importable in these tests.

``benchmarks/`` is not installed by setup.py (it is not part of the library),
and pytest runs with ``--import-mode=importlib``, which puts no directory on
``sys.path``; the repository root is added here.
"""

import pathlib
import sys

_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
  sys.path.insert(0, _ROOT)

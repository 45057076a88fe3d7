"""Doctest collection: skip a module whose examples need an optional backend that is absent.

``structmat.dask`` imports Dask only inside its functions, so the module
imports anywhere, but its examples build Dask arrays; tests/test_dask.py
skips the same way (``importorskip("dask")``).
"""

from __future__ import annotations

import importlib.util

collect_ignore = [] if importlib.util.find_spec("dask") else ["structmat/dask"]

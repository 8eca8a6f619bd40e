"""Lazy re-export of the sweep-dataset API from the top-level package.

``fieldmovie.open_sweep`` is resolved on first use, so that ``import fieldmovie`` works
without the optional xarray/dask dependencies (``pip install 'fieldmovie[dataset]'``).
"""

from __future__ import annotations

from typing import Any

#: public name -> module that defines it
LAZY_NAMES = {
    "open_sweep": "fieldmovie.workflow.dataset",
    "open_sweep_observables": "fieldmovie.workflow.dataset",
    "export_sweep": "fieldmovie.workflow.dataset",
}


def __getattr__(name: str) -> Any:
    """Module ``__getattr__`` for :mod:`fieldmovie`: import a lazily exported name."""
    import importlib

    module = LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'fieldmovie' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

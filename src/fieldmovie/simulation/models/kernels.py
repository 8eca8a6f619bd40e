"""Fused elementwise kernels of the exponential integrators (numba when importable).

Each kernel does in one pass what numpy does in two or three (with temporaries).  The
numba versions are compiled without ``fastmath`` (no reassociation, no fused
multiply-add), so they round exactly like the numpy expressions they replace (a real
coefficient times a complex spectrum as a complex product, as numpy does): results are
bit-identical with
and without numba (tests/test_models.py checks it).  Spectra are complex arrays; a real
coefficient broadcasts over their leading batch axes (``x.size`` a multiple of its size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["KERNEL_SETS", "kernel_set"]


def _axpby_numpy(a: np.ndarray, x: np.ndarray, b: np.ndarray, y: np.ndarray,
                 out: np.ndarray) -> None:  # fmt: skip
    """``out = a * x + b * y``."""
    tmp = b * y
    np.multiply(a, x, out=out)
    out += tmp


def _etd_correct_numpy(a: np.ndarray, p: np.ndarray, n1: np.ndarray, n0: np.ndarray,
                       out: np.ndarray) -> None:  # fmt: skip
    """``out = a + p * (n1 - n0)``."""
    tmp = n1 - n0
    tmp *= p
    np.add(a, tmp, out=out)


def _numba_kernels() -> dict[str, Callable[..., Any]] | None:
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, fastmath=False)
    def axpby(a, x, b, y, out):  # noqa: ANN001, ANN202
        a, b = a.ravel(), b.ravel()
        x, y, o = x.reshape(-1), y.reshape(-1), out.reshape(-1)
        m = a.size
        for j in range(x.size // m):
            s = j * m
            for i in range(m):
                o[s + i] = complex(a[i]) * x[s + i] + complex(b[i]) * y[s + i]

    @numba.njit(cache=True, fastmath=False)
    def etd_correct(a, p, n1, n0, out):  # noqa: ANN001, ANN202
        p = p.ravel()
        a, n1, n0, o = a.reshape(-1), n1.reshape(-1), n0.reshape(-1), out.reshape(-1)
        m = p.size
        for j in range(a.size // m):
            s = j * m
            for i in range(m):
                o[s + i] = a[s + i] + complex(p[i]) * (n1[s + i] - n0[s + i])

    return {"axpby": axpby, "etd_correct": etd_correct}


KERNEL_SETS = ("auto", "numba", "numpy")
_NUMPY = {"axpby": _axpby_numpy, "etd_correct": _etd_correct_numpy}
_cache: dict[str, dict[str, Callable[..., Any]] | None] = {}


def kernel_set(request: str = "auto") -> tuple[str, dict[str, Callable[..., Any]]]:
    """``(name, kernels)`` for ``request``: ``auto`` is numba when it imports, else numpy.

    numba is imported and the kernels compiled (or loaded from numba's cache) on first use.
    """
    if request not in KERNEL_SETS:
        raise ValueError(f"kernels {request!r} is not one of {', '.join(KERNEL_SETS)}")
    if request == "numpy":
        return "numpy", _NUMPY
    if "numba" not in _cache:
        _cache["numba"] = _numba_kernels()
    compiled = _cache["numba"]
    if compiled is None:
        if request == "numba":
            raise ValueError("kernels 'numba' needs numba: pip install numba")
        return "numpy", _NUMPY
    return "numba", compiled

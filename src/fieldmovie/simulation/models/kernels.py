"""Fused elementwise kernels of the ETDRK2 integrator (numba when requested and importable).

Each kernel does in one pass what numpy does in three to five (with a temporary). The
numba versions are compiled without ``fastmath`` (no reassociation, no fused
multiply-add) and evaluate the same real operations in the same order as the numpy
versions, so results are bit-identical with and without numba (tests/test_models.py
checks it).

Spectra are passed as ``float64`` views of complex arrays, shaped ``(n_components, m)``
(``m`` = twice the number of modes). Real coefficients are *interleaved* (each entry
repeated for the real and the imaginary part, :func:`~.integrators.interleaved`) to the
same shape for numpy, and given once per mode, ``(n_components, m / 2)``, for numba (half
the memory traffic, the same products; ``kernels["per_mode"]`` says which). The single
source spectrum ``g`` is ``(1, m)`` and broadcasts over the components, or has one row
per component. ``k0`` adds a
constant to the real part of every component's mean mode (element 0), e.g. Gray-Scott's
feed term ``F``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KERNEL_SETS", "kernel_set"]


def _predict_numpy(s: np.ndarray, g: np.ndarray, e: np.ndarray, p1: np.ndarray,
                   k0: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:  # fmt: skip
    """``out = e * s + p1 * g``, plus ``k0`` on the mean."""
    np.multiply(p1, g, out=tmp)
    np.multiply(e, s, out=out)
    out += tmp
    out[:, 0] += k0


def _correct_numpy(a: np.ndarray, g1: np.ndarray, g0: np.ndarray, p2: np.ndarray,
                   out: np.ndarray, tmp: np.ndarray) -> None:  # fmt: skip
    """``out = a + p2 * (g1 - g0)``."""
    d = np.subtract(g1, g0, out=tmp[: len(g1)])
    np.multiply(p2, d, out=out)
    out += a  # IEEE addition commutes: the same bits as a + p2 * d


def _uvv_numpy(u: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """``out = u * v * v``."""
    np.multiply(u, v, out=out)
    out *= v


def _cubic_numpy(c: np.ndarray, a: float, out: np.ndarray) -> None:
    """``out = (c * c - a) * c`` (``c^3 - a c``)."""
    np.multiply(c, c, out=out)
    out -= a
    out *= c


def _numba_kernels() -> dict[str, Any] | None:
    try:
        import numba
    except ImportError:
        return None

    jit = numba.njit(cache=True, fastmath=False, boundscheck=False)

    # coefficients once per mode (e[c, j] for the float pair 2j, 2j + 1)
    # (one source row for all components, or one per component)
    @jit
    def _check(s, g, e, p, out):  # noqa: ANN001, ANN202
        # no bounds checks in the loops: a layout mix-up must not write out of bounds
        ok = s.shape == out.shape and g.shape[1] == s.shape[1]
        ok = ok and (g.shape[0] == 1 or g.shape[0] == s.shape[0])
        ok = ok and e.shape[0] == s.shape[0] and p.shape == e.shape
        if not (ok and 2 * e.shape[1] == s.shape[1]):
            raise ValueError("numba kernels: arrays of mismatched shapes")

    @jit
    def predict(s, g, e, p1, k0, out, tmp):  # noqa: ANN001, ANN202, ARG001
        _check(s, g, e, p1, out)
        for c in range(s.shape[0]):
            r = c if g.shape[0] > 1 else 0
            for j in range(e.shape[1]):
                ec, pc = e[c, j], p1[c, j]
                out[c, 2 * j] = ec * s[c, 2 * j] + pc * g[r, 2 * j]
                out[c, 2 * j + 1] = ec * s[c, 2 * j + 1] + pc * g[r, 2 * j + 1]
            out[c, 0] += k0[c]

    @jit
    def correct(a, g1, g0, p2, out, tmp):  # noqa: ANN001, ANN202, ARG001
        _check(a, g1, p2, p2, out)
        _check(a, g0, p2, p2, out)
        for c in range(a.shape[0]):
            r = c if g1.shape[0] > 1 else 0
            for j in range(p2.shape[1]):
                pc, i = p2[c, j], 2 * j
                out[c, i] = a[c, i] + pc * (g1[r, i] - g0[r, i])
                out[c, i + 1] = a[c, i + 1] + pc * (g1[r, i + 1] - g0[r, i + 1])

    @jit
    def uvv(u, v, out):  # noqa: ANN001, ANN202
        u, v, o = u.reshape(-1), v.reshape(-1), out.reshape(-1)
        for i in range(o.size):
            o[i] = u[i] * v[i] * v[i]

    @jit
    def cubic(c, a, out):  # noqa: ANN001, ANN202
        c, o = c.reshape(-1), out.reshape(-1)
        for i in range(o.size):
            o[i] = (c[i] * c[i] - a) * c[i]

    return {"predict": predict, "correct": correct, "uvv": uvv, "cubic": cubic,
            "per_mode": True}  # fmt: skip


KERNEL_SETS = ("auto", "numba", "numpy")
_NUMPY = {"predict": _predict_numpy, "correct": _correct_numpy, "uvv": _uvv_numpy,
          "cubic": _cubic_numpy, "per_mode": False}  # fmt: skip
_cache: dict[str, dict[str, Any] | None] = {}


def kernel_set(request: str = "auto") -> tuple[str, dict[str, Any]]:
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

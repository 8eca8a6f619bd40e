"""Exponential time integrators for ``w_t = L w + N(w)`` with diagonal ``L`` (plain functions).

``L`` is real and diagonal in Fourier space. Coefficient arrays are kept *interleaved*
(each entry repeated twice along the last axis, see :func:`interleaved`) so that a
complex spectrum times a real coefficient is one real elementwise product on the
``float64`` view of the complex array: half the work of numpy's complex multiply and
bit-identical to it.

* :func:`etdrk2` -- Cox & Matthews ETDRK2, second order.
* :func:`etdrk4` -- Cox & Matthews ETDRK4 with the phi-functions evaluated stably
  (Kassam & Trefethen 2005), fourth order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from .kernels import kernel_set
from .spectral import SpectralOperators

__all__ = [
    "Etdrk2Coefficients",
    "Etdrk4Coefficients",
    "etdrk2",
    "etdrk2_coefficients",
    "etdrk4",
    "etdrk4_coefficients",
    "interleaved",
    "phi_functions",
    "rmul",
]


def phi_functions(z: np.ndarray, order: int) -> list[np.ndarray]:
    """``phi_1 .. phi_order`` of real ``z`` (``phi_j(z) = sum_m z^m / (m + j)!``).

    Uses the closed form for ``|z| >= 1`` and a Taylor series below, avoiding the
    cancellation of the closed form near ``z = 0``.
    """
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1.0
    zs = np.where(small, z, 0.0)
    zl = np.where(small, 1.0, z)
    out: list[np.ndarray] = []
    # closed form recursion: phi_{j+1} = (phi_j - 1/j!) / z, phi_0 = exp(z)
    phi_large = np.exp(zl)
    for j in range(order):
        phi_large = (phi_large - 1.0 / math.factorial(j)) / zl
        series = np.zeros_like(zs)
        for m in range(25, -1, -1):
            series = series * zs + 1.0 / math.factorial(m + j + 1)
        out.append(np.where(small, series, phi_large))
    return out


def interleaved(coefficient: np.ndarray) -> np.ndarray:
    """Real ``coefficient`` repeated twice along the last axis, to multiply a complex view."""
    return np.ascontiguousarray(np.repeat(np.asarray(coefficient, dtype=float), 2, axis=-1))


def rmul(coefficient: np.ndarray, z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = coefficient * z`` for an interleaved real coefficient and complex ``z``."""
    np.multiply(coefficient, z.view(np.float64), out=out.view(np.float64))
    return out


class Etdrk2Coefficients(NamedTuple):
    """``exp(L dt)``, ``dt phi1(L dt)``, ``dt phi2(L dt)`` (real, C-contiguous)."""

    expz: np.ndarray
    phi1: np.ndarray
    phi2: np.ndarray


def etdrk2_coefficients(lin: np.ndarray, dt: float) -> Etdrk2Coefficients:
    """ETDRK2 coefficients for the real diagonal operator ``lin`` and step ``dt``."""
    z = lin * dt
    phi1, phi2 = phi_functions(z, 2)
    c = np.ascontiguousarray
    return Etdrk2Coefficients(c(np.exp(z)), c(dt * phi1), c(dt * phi2))


def etdrk2(
    w: np.ndarray,
    n: int,
    coeffs: Etdrk2Coefficients,
    nonlinear: Callable[[np.ndarray, np.ndarray], None],
    sp: SpectralOperators,
    kernels: Mapping[str, Callable[..., None]] | None = None,
) -> np.ndarray:
    """``n`` ETDRK2 steps of ``w_t = L w + N(w)`` from the real-space state ``w``.

    ``nonlinear(w, out)`` writes the Fourier transform of ``N(w)`` into ``out``.
    Per step: ``a = e^{Lh} w + h phi1 N(w)``, ``w <- a + h phi2 (N(a) - N(w))``, each
    update one fused kernel (:func:`~.kernels.kernel_set`; numpy when not given).
    Returns a new real-space array.
    """
    axpby, correct = (kernels or kernel_set("numpy")[1]).values()
    w_hat = sp.forward(w)
    n0, n1, a_hat = (np.empty_like(w_hat) for _ in range(3))
    a = np.empty_like(w)
    w = w.copy()
    for _ in range(n):
        nonlinear(w, n0)
        axpby(coeffs.expz, w_hat, coeffs.phi1, n0, a_hat)
        sp.inverse(a_hat, out=a)
        nonlinear(a, n1)
        correct(a_hat, coeffs.phi2, n1, n0, w_hat)
        sp.inverse(w_hat, out=w)
    return w


class Etdrk4Coefficients(NamedTuple):
    """ETDRK4 coefficients (Cox & Matthews), interleaved."""

    e2: np.ndarray
    e: np.ndarray
    q: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    f3: np.ndarray


def etdrk4_coefficients(lin: np.ndarray, dt: float) -> Etdrk4Coefficients:
    """ETDRK4 coefficients for the real diagonal operator ``lin`` and step ``dt``."""
    z = lin * dt
    half1 = phi_functions(0.5 * z, 1)[0]
    phi1, phi2, phi3 = phi_functions(z, 3)
    return Etdrk4Coefficients(
        interleaved(np.exp(0.5 * z)),
        interleaved(np.exp(z)),
        interleaved(0.5 * dt * half1),
        interleaved(dt * (phi1 - 3.0 * phi2 + 4.0 * phi3)),
        interleaved(2.0 * dt * (phi2 - 2.0 * phi3)),
        interleaved(dt * (4.0 * phi3 - phi2)),
    )


def etdrk4(
    v: np.ndarray,
    n: int,
    c: Etdrk4Coefficients,
    nonlinear: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """``n`` ETDRK4 steps of ``v_t = L v + N(v)`` on the spectrum ``v`` (returns a new one).

    ``nonlinear(v)`` maps a spectrum to the spectrum of ``N``.
    """
    t1, t2 = np.empty_like(v), np.empty_like(v)
    for _ in range(n):
        nv = nonlinear(v)
        ev = rmul(c.e2, v, np.empty_like(v))
        a = ev + rmul(c.q, nv, t1)
        na = nonlinear(a)
        b = ev + rmul(c.q, na, t1)
        nb = nonlinear(b)
        np.subtract(2.0 * nb, nv, out=t2)
        cc = rmul(c.e2, a, np.empty_like(v)) + rmul(c.q, t2, t1)
        nc = nonlinear(cc)
        np.add(na, nb, out=t2)
        v_new = rmul(c.e, v, np.empty_like(v))
        v_new += rmul(c.f1, nv, t1)
        v_new += rmul(c.f2, t2, t1)
        v_new += rmul(c.f3, nc, t1)
        v = v_new
    return v

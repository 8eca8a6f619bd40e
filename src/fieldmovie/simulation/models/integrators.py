"""Exponential time integrators for ``w_t = L w + N(w)`` with diagonal ``L`` (plain functions).

``L`` is real and diagonal in Fourier space. Coefficient arrays are kept *interleaved*
(each entry repeated twice along the last axis, see :func:`interleaved`) so that a
complex spectrum times a real coefficient is one real elementwise product on the
``float64`` view of the complex array: half the work of numpy's complex multiply and
bit-identical to it.

* :func:`etdrk2` -- Cox & Matthews ETDRK2, second order, for nonlinear terms with a
  single source field (Gray-Scott's ``u v^2``, Cahn-Hilliard's chemical potential).
* :func:`etdrk4` -- Cox & Matthews ETDRK4 with the phi-functions evaluated stably
  (Kassam & Trefethen 2005), fourth order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .spectral import SpectralOperators

__all__ = [
    "Etdrk2Coefficients",
    "Etdrk2Workspace",
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
    """ETDRK2 coefficients, interleaved, shaped ``(n_components, 2 * n_modes)``.

    ``expz = exp(L dt)``, ``p1 = dt phi1(L dt) c / N``, ``p2 = dt phi2(L dt) c / N`` for the
    coupling ``c`` of the source spectrum and ``N`` grid points (the unnormalised forward
    transform's factor, folded in here instead of an extra pass); ``k0`` (per component)
    is ``dt phi1(L_0 dt) f`` for the constant part ``f`` of the nonlinear term.
    ``per_mode`` holds ``(expz, p1, p2)`` once per mode, ``(n_components, n_modes)``, for
    the numba kernels (half the memory traffic; the same products).
    """

    expz: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    k0: np.ndarray
    per_mode: tuple[np.ndarray, np.ndarray, np.ndarray]


def etdrk2_coefficients(
    lin: np.ndarray,
    dt: float,
    coupling: np.ndarray | float = 1.0,
    constant: np.ndarray | None = None,
    n_points: int = 1,
    half_axis_first: bool = False,
) -> Etdrk2Coefficients:
    """ETDRK2 coefficients for the real diagonal operator ``lin`` ``(n_components, *spectral)``.

    The nonlinear term is ``N_i = coupling_i * F(g) / n_points + constant_i`` (see
    :func:`etdrk2`). ``half_axis_first``: flatten the modes in the order of the FFT
    backend's workspace spectra (:meth:`~.fft.FFTWBackend.spectral_buffer`).
    """
    lin = np.asarray(lin, dtype=float)
    z = lin * dt
    phi1, phi2 = phi_functions(z, 2)
    c = np.broadcast_to(np.asarray(coupling, dtype=float), z.shape) / n_points
    rows = z.shape[0]

    f = np.zeros(rows) if constant is None else np.asarray(constant, dtype=float)
    k0 = dt * phi1.reshape(rows, -1)[:, 0] * f

    def flat(a: np.ndarray) -> np.ndarray:
        if half_axis_first and a.ndim > 2:
            a = np.moveaxis(a, -1, 1)
        return np.ascontiguousarray(a).reshape(rows, -1)

    modes = [flat(a) for a in (np.exp(z), dt * phi1 * c, dt * phi2 * c)]
    e, p1, p2 = (interleaved(a) for a in modes)
    return Etdrk2Coefficients(e, p1, p2, k0, (modes[0], modes[1], modes[2]))


class Etdrk2Workspace:
    """Buffers and FFT plans of :func:`etdrk2` for one grid (reused across calls).

    ``x`` holds the real-space state (``n_components`` fields), ``g`` the source field(s),
    ``g_hat`` and ``g1_hat`` its spectra at the state and the predictor, ``s`` the state's
    spectrum (scaled so that the unnormalised inverse transform gives the state), ``buf``
    the predictor's spectrum.
    """

    def __init__(self, sp: SpectralOperators, n_components: int, n_sources: int = 1) -> None:
        fft = sp.fft
        self.x = fft.empty_real((n_components,))
        self.g = fft.empty_real((n_sources,))
        # spectra: contiguous storage (for the kernels, in the order of ``half_axis_first``)
        # and the standard-shaped view of it (for the plans)
        g_hat, self.g_hat = fft.spectral_buffer((n_sources,))  # of g(w)
        g1_hat, self.g1_hat = fft.spectral_buffer((n_sources,))  # of g(a)
        s, self.s = fft.spectral_buffer((n_components,))
        buf, self.buf = fft.spectral_buffer((n_components,))
        self.half_axis_first = fft.half_axis_first
        self.r2c = fft.plan_r2c(self.g, self.g_hat)
        self.r2c_1 = fft.plan_r2c(self.g, self.g1_hat)
        self.c2r_buf = fft.plan_c2r(self.buf, self.x)
        self.c2r_s = fft.plan_c2r(self.s, self.x)
        self.r2c_x = fft.plan_r2c(self.x, self.s)  # destroys x
        rows = n_components
        self.gv = g_hat.view(np.float64).reshape(n_sources, -1)
        self.g1v = g1_hat.view(np.float64).reshape(n_sources, -1)
        self.sv = s.view(np.float64).reshape(rows, -1)
        self.bufv = buf.view(np.float64).reshape(rows, -1)
        self.tmp = np.empty_like(self.sv)
        self.scale = 1.0 / math.prod(sp.grid.shape)


def etdrk2(
    w: np.ndarray,
    n: int,
    coeffs: Etdrk2Coefficients,
    source: Callable[[np.ndarray, np.ndarray], None],
    ws: Etdrk2Workspace,
    kernels: Mapping[str, Any],
) -> np.ndarray:
    """``n`` ETDRK2 steps of ``w_t = L w + N(w)`` from the real-space state ``w``.

    The nonlinear term has one source field for all components, ``N_i(w) = c_i F(g(w)) +
    f_i``, or one per component (``g_i``), with ``source(w, out)`` writing the real
    field(s) ``g(w)`` (shape ``(n_sources, *grid)``, as allocated in ``ws``) and the
    coupling ``c`` and constant ``f`` folded into ``coeffs``. Per step (Cox & Matthews)
    ``a = e^{Lh} w + h phi1 N(w)``, ``w <- a + h phi2 (N(a) - N(w))``: two forward
    transforms of the source field(s), two inverse transforms of the state, and two
    fused updates (:mod:`~.kernels`), all on the buffers of ``ws`` (no copies, no
    normalisation pass). Returns a new real-space array.
    """
    predict, correct = kernels["predict"], kernels["correct"]
    np.copyto(ws.x, w)
    ws.r2c_x()
    ws.s *= ws.scale
    np.copyto(ws.x, w)
    e, p1, p2 = coeffs.per_mode if kernels["per_mode"] else coeffs[:3]
    k0 = coeffs.k0
    x, g, sv, bufv, gv, g1v, tmp = ws.x, ws.g, ws.sv, ws.bufv, ws.gv, ws.g1v, ws.tmp
    for _ in range(n):
        source(x, g)
        ws.r2c()
        predict(sv, gv, e, p1, k0, bufv, tmp)  # buf = a_hat
        ws.c2r_buf()
        source(x, g)
        ws.r2c_1()
        correct(bufv, g1v, gv, p2, sv, tmp)  # s = new w_hat
        ws.c2r_s()
    return x.copy()


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

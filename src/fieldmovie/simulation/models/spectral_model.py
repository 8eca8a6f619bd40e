"""Shared machinery of the built-in Fourier-spectral models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import Model
from .fft import BACKENDS, resolve_backend
from .grid import Grid
from .integrators import Etdrk2Coefficients, Etdrk2Workspace, etdrk2, etdrk2_coefficients
from .kernels import KERNEL_SETS, kernel_set
from .spectral import SpectralOperators, spectral_tail

__all__ = ["SemilinearModel", "SpectralModel"]


class SpectralModel(Model):
    """A model on a periodic grid with FFT transforms in ``self.spectral``.

    Option ``fft``: ``"auto"`` (default: pyFFTW when installed, else numpy), ``"numpy"``
    or ``"fftw"``; ``fft_backend`` names the one in use (record it with a run: the two
    agree to ~1e-15 relative, not bit for bit).  Option ``kernels``: ``"numpy"`` (default),
    ``"numba"`` or ``"auto"`` (numba when installed) for the fused integrator updates; both
    round identically (``kernels_name`` names the one in use).  numba saves 10-20 % per
    step but costs ~0.6 s of CPU per process to import and load its cache, so it pays
    only for segments of several thousand steps.
    :meth:`resolution` measures the spectral tail; above :attr:`resolution_limit` = 1e-4
    (of the fluctuation energy in the highest third of modes) a field counts as
    under-resolved: for Gray-Scott a tail of 1e-4 goes with ~1 % field error against a
    converged run, 2e-3 with 10-25 % (docs/models.md).
    """

    extra_options: ClassVar[dict[str, Any]] = {"fft": "auto", "kernels": "numpy"}
    resolution_limit: ClassVar[float | None] = 1e-4
    #: maximum mode number of the smooth random initial field
    init_modes: ClassVar[int] = 4

    def __init__(
        self,
        grid: Grid,
        parameters: Mapping[str, float] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(grid, parameters, options)
        self.spectral = SpectralOperators(grid, fft=self.options["fft"])
        self.fft_backend: str = self.spectral.fft_backend
        self.kernels_name, self.kernels = kernel_set(self.options["kernels"])
        self._coefficient_cache: dict[float, Any] = {}
        self._validate()

    def _check_extra_option(self, key: str, value: Any) -> Any:
        if key == "fft":
            try:
                return resolve_backend(value) if value != "auto" else value
            except (ValueError, TypeError):
                raise ValueError(
                    f"model option 'fft' of model {self.name!r} must be one of "
                    f"{', '.join(BACKENDS)}, got {value!r}"
                ) from None
        if key == "kernels":
            if value not in KERNEL_SETS:
                raise ValueError(
                    f"model option 'kernels' of model {self.name!r} must be one of "
                    f"{', '.join(KERNEL_SETS)}, got {value!r}"
                )
            return value
        return super()._check_extra_option(key, value)

    def _validate(self) -> None:
        """Model-specific parameter checks (raise ValueError)."""

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise ValueError(f"model {self.name!r}: {message}")

    def coefficients(self, dt: float) -> Any:
        """Step-size dependent coefficients, cached per ``dt`` (a pure cache)."""
        coeffs = self._coefficient_cache.get(dt)
        if coeffs is None:
            if len(self._coefficient_cache) >= 8:
                self._coefficient_cache.clear()
            coeffs = self._coefficient_cache[dt] = self.make_coefficients(dt)
        return coeffs

    def make_coefficients(self, dt: float) -> Any:
        """Integrator coefficients for step ``dt``."""
        raise NotImplementedError

    def resolution(self, state: np.ndarray) -> dict[str, float]:
        """Per component: fraction of fluctuation energy in the highest third of modes."""
        tail = spectral_tail(self.spectral, np.asarray(state, dtype=np.float64))
        return {c: float(t) for c, t in zip(self.components, tail, strict=True)}


class SemilinearModel(SpectralModel):
    """``w_t = L w + N(w)`` with diagonal real ``L``, integrated with ETDRK2.

    The nonlinear term is given by real source fields ``g(w)``:
    ``N_i(w) = coupling_i * F(g(w)) + constant_i`` with one source shared by all
    components (``n_sources = 1``; Gray-Scott: ``g = u v^2``, coupling ``(-1, 1)``,
    constant ``(F, 0)``; Cahn-Hilliard: ``g = c^3 - (1 + S) c``, coupling ``-D k^2``), so
    a step transforms one field forward twice and the state back twice; or, for any other
    nonlinear term, one source per component (``n_sources = len(components)``,
    ``g_i = N_i``, coupling 1). Subclasses give :meth:`linear_operator`, :meth:`source`
    and, where needed, :meth:`coupling` and :meth:`constant`; ``integrate`` is shared.
    """

    order: ClassVar[float | None] = 2.0
    #: number of real source fields: 1 (shared by all components) or one per component
    n_sources: ClassVar[int] = 1

    def linear_operator(self) -> np.ndarray:
        """Real ``L`` broadcastable to ``(n_components, *spectral_shape)``."""
        raise NotImplementedError

    def source(self, w: np.ndarray, out: np.ndarray) -> None:
        """Write the real source field(s) ``g(w)`` (``(n_sources, *grid.shape)``) into ``out``."""
        raise NotImplementedError

    def coupling(self) -> np.ndarray | float:
        """Real multiplier of ``F(g)`` per component, broadcastable like ``L``."""
        return 1.0

    def constant(self) -> np.ndarray | None:
        """Constant part of ``N`` per component (``None``: zero)."""
        return None

    def nonlinear(self, w: np.ndarray) -> np.ndarray:
        """The spectrum of ``N(w)`` (``numpy.fft.rfftn`` layout), for checks and analysis."""
        g = np.empty((self.n_sources, *self.grid.shape))
        self.source(w, g)
        shape = (len(self.components), *self.spectral.spectral_shape)
        out = np.broadcast_to(self.coupling(), shape) * self.spectral.forward(g)
        f = self.constant()
        if f is not None:
            out[(Ellipsis, *(0,) * self.grid.dim)] += np.asarray(f) * math.prod(self.grid.shape)
        return out

    def make_coefficients(self, dt: float) -> Etdrk2Coefficients:
        shape = (len(self.components), *self.spectral.spectral_shape)
        lin = np.broadcast_to(self.linear_operator(), shape)
        return etdrk2_coefficients(lin, dt, self.coupling(), self.constant(),
                                   math.prod(self.grid.shape),
                                   self.spectral.fft.half_axis_first)  # fmt: skip

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        coeffs = self.coefficients((t1 - t0) / n)
        ws = self.__dict__.get("_etdrk2_workspace")
        if ws is None:  # buffers and FFT plans, made once per model
            if self.n_sources not in (1, len(self.components)):
                raise ValueError(
                    f"model {self.name!r}: n_sources must be 1 or the number of components "
                    f"({len(self.components)}), got {self.n_sources!r}"
                )
            ws = Etdrk2Workspace(self.spectral, len(self.components), self.n_sources)
            self._etdrk2_workspace = ws
        return etdrk2(state, n, coeffs, self.source, ws, self.kernels)

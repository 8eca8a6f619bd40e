"""Linear diffusion, deterministic (exact) and with additive noise."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .integrators import interleaved, rmul
from .spectral import smooth_random_field
from .spectral_model import SpectralModel

__all__ = ["Diffusion", "NoisyDiffusion"]


class Diffusion(SpectralModel):
    """Linear diffusion ``c_t = D lap(c)``.

    Solved exactly in Fourier space (``c_hat(t1) = exp(-D k^2 (t1 - t0)) c_hat(t0)``)
    in a single step, so the result is independent of any time step: the options
    ``rtol`` and ``dt`` are accepted and have no effect.  The initial state is a smooth
    zero-mean, unit-variance random field of the lowest Fourier modes (``|m| <= 4`` per
    axis).  The mean is conserved.
    """

    name: ClassVar[str] = "diffusion"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"D": 1.0}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    dt_max: float = math.inf
    order: ClassVar[float | None] = 1.0
    error_constant: ClassVar[float | None] = 0.0  # exact: any rtol is met in one step

    def _validate(self) -> None:
        self._require(self.params["D"] >= 0, "diffusivity D must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return smooth_random_field(self.grid, rng, self.init_modes)[np.newaxis].copy()

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        sp = self.spectral
        decay = np.exp(-self.params["D"] * sp.k2 * (t1 - t0))
        return sp.inverse(sp.forward(state) * decay)


class NoisyDiffusion(SpectralModel):
    """Stochastic diffusion ``c_t = D lap(c) - decay c + sigma xi`` (``stochastic = True``).

    Exponential Euler with ``dt_max = 0.1`` (option ``dt`` changes it; ``rtol`` is not
    available: the noise realisation depends on the step): each step adds independent
    Gaussian noise ``sigma sqrt(dt) N(0, 1)`` at every grid point (drawn from the ``rng``
    passed to :meth:`advance`, one ``standard_normal(grid.shape)`` call per step) and then
    applies the exact linear propagator ``exp(-(D k^2 + decay) dt)``.  The noise is per
    grid point, i.e. not scaled with the cell volume.  With ``decay > 0`` the field
    reaches a statistically stationary state; with ``decay = 0`` the mean performs a
    random walk.  The initial state is the same kind of smooth random field as for
    ``diffusion``.
    """

    name: ClassVar[str] = "noisy_diffusion"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"D": 1.0, "sigma": 0.1, "decay": 0.1}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    stochastic: ClassVar[bool] = True
    dt_max: float = 0.1

    def _validate(self) -> None:
        self._require(self.params["D"] >= 0, "diffusivity D must be >= 0")
        self._require(self.params["decay"] >= 0, "decay must be >= 0")
        self._require(self.params["sigma"] >= 0, "noise amplitude sigma must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return smooth_random_field(self.grid, rng, self.init_modes)[np.newaxis].copy()

    resolution_limit: ClassVar[float | None] = None

    def resolution(self, state: np.ndarray) -> None:
        """Not measured: the white forcing puts energy into every mode by design."""
        return None

    def make_coefficients(self, dt: float) -> np.ndarray:
        p = self.params
        return interleaved(np.exp(-(p["D"] * self.spectral.k2 + p["decay"]) * dt))

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        sp = self.spectral
        dt = (t1 - t0) / n
        propagator = self.coefficients(dt)
        amplitude = self.params["sigma"] * math.sqrt(dt)
        u_hat = sp.forward(state)
        noise_hat = np.empty_like(u_hat)
        for _ in range(n):
            noise = rng.standard_normal(self.grid.shape)
            u_hat += amplitude * sp.forward(noise[np.newaxis], out=noise_hat)
            rmul(propagator, u_hat, u_hat)
        return sp.inverse(u_hat)

"""Gray-Scott reaction-diffusion (Pearson 1993)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .spectral import low_pass
from .spectral_model import SemilinearModel

__all__ = ["GrayScott"]


class GrayScott(SemilinearModel):
    """Gray-Scott reaction-diffusion (Pearson 1993)::

        u_t = Du lap(u) - u v^2 + F (1 - u)
        v_t = Dv lap(v) + u v^2 - (F + k) v

    Defaults ``F = 0.04, k = 0.06, Du = 2e-5, Dv = 1e-5`` are Pearson's values, meant
    for a domain of side length ~2-2.5 resolved with ``dx <~ 0.0105`` (the default sweep:
    192^2 on 2.0; 192^2 on 2.5 is at the resolution limit, 128^2 on 2.5 far beyond it).

    Integrator: ETDRK2 (Cox & Matthews) with the linear part (diffusion and the linear
    decay terms) treated exactly in Fourier space and ``u v^2`` explicitly (one transform
    of ``u v^2`` serves both fields; the feed ``F`` enters the mean mode); second order.
    Step from ``rtol`` (default 3e-3 relative error per ``advance`` interval) with the
    calibrated error model ``err = C T dt^2``, ``C = 4e-5``, capped at ``dt_max = 2``
    (``T = 100``: ``dt = 0.87``).

    Initial state: ``u = 1, v = 0`` with a centred box of side ``length / 5`` per
    axis set to ``u = 1/2, v = 1/4``, plus Gaussian noise of standard deviation
    0.01 on both fields everywhere, smoothed on the grid scale
    (:func:`~fieldmovie.simulation.models.spectral.low_pass`) so that the initial state is
    resolved; ``v`` can be slightly negative (by up to ~0.03) at the start.
    """

    name: ClassVar[str] = "gray_scott"
    components: ClassVar[tuple[str, ...]] = ("u", "v")
    parameters: ClassVar[dict[str, float]] = {"F": 0.04, "k": 0.06, "Du": 2e-5, "Dv": 1e-5}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    dt_max: float = 2.0
    # err <= C T dt^2 with C = 1.6e-5 .. 3.1e-5 measured over the default sweep's corners
    # (tests/test_convergence.py); 4e-5 keeps a margin
    error_constant: ClassVar[float | None] = 4e-5
    default_rtol: ClassVar[float | None] = 3e-3
    seed_fraction: ClassVar[float] = 0.2
    noise: ClassVar[float] = 0.01

    def _validate(self) -> None:
        p = self.params
        self._require(p["Du"] >= 0 and p["Dv"] >= 0, "diffusivities Du, Dv must be >= 0")
        self._require(p["F"] >= 0 and p["k"] >= 0, "rates F, k must be >= 0")

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        state = np.zeros(self.state_shape)
        state[0] = 1.0
        box = np.ones(self.grid.shape, dtype=bool)
        for axis, (x, L) in enumerate(zip(self.grid.coordinates(), self.grid.length, strict=True)):
            inside = np.abs(x - 0.5 * L) <= 0.5 * self.seed_fraction * L
            view = [1] * self.grid.dim
            view[axis] = x.size
            box &= inside.reshape(view)
        state[0][box] = 0.5
        state[1][box] = 0.25
        state += self.noise * rng.standard_normal(self.state_shape)
        # smooth on the grid scale: a resolved start (no clipping: it would add kinks)
        return low_pass(self.grid, state)

    def linear_operator(self) -> np.ndarray:
        p, k2 = self.params, self.spectral.k2
        return np.stack([-(p["Du"] * k2 + p["F"]), -(p["Dv"] * k2 + p["F"] + p["k"])])

    def source(self, w: np.ndarray, out: np.ndarray) -> None:
        self.kernels["uvv"](w[0], w[1], out[0])

    def coupling(self) -> np.ndarray:
        return np.array([-1.0, 1.0]).reshape((2,) + (1,) * self.grid.dim)

    def constant(self) -> np.ndarray:
        return np.array([self.params["F"], 0.0])

"""User models for the workflow tests (``model: "models_for_tests:<Name>"``).

``tests/data`` is put on ``PYTHONPATH`` by ``tests/workflow_helpers.py`` so that the
Snakemake jobs can import this module.

* :class:`NanAfter`: exponential decay that turns NaN (or +inf with ``inf=1``) at one grid
  point from ``t_nan`` on.
* :class:`SlowDiffusion`: the built-in ``diffusion`` model that sleeps
  ``$FIELDMOVIE_TEST_SLEEP`` seconds in every ``advance`` call (default 0), so that a
  segment job takes long enough to be killed while it runs; the sleep does not change the
  results.
* :func:`decay_1d`: a duck-typed factory (not a ``Model`` subclass) for 1D grids only.
* :func:`pde_brusselator`: a py-pde expression PDE (``model: "pde:models_for_tests:
  pde_brusselator"``); py-pde is imported only when it is built.
"""

from __future__ import annotations

import math
import os
import time
from typing import ClassVar

import numpy as np

from fieldmovie.simulation.models import Diffusion, Model

SLEEP_ENV = "FIELDMOVIE_TEST_SLEEP"


class NanAfter(Model):
    """``c_t = -rate c``; from ``t >= t_nan`` on one grid point is NaN (+inf if ``inf``)."""

    name: ClassVar[str] = "nan_after"
    components: ClassVar[tuple[str, ...]] = ("c",)
    parameters: ClassVar[dict[str, float]] = {"t_nan": 1.0, "rate": 0.5, "inf": 0.0}
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-0.9, 0.9, size=self.state_shape)

    def integrate(
        self, u: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        out = u * math.exp(-self.params["rate"] * (t1 - t0))
        if t1 >= self.params["t_nan"]:
            out[(0,) * out.ndim] = math.inf if self.params["inf"] else math.nan
        return out


class SlowDiffusion(Diffusion):
    """Built-in diffusion, sleeping ``$FIELDMOVIE_TEST_SLEEP`` seconds per ``advance``."""

    name: ClassVar[str] = "slow_diffusion"

    def integrate(
        self, u: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        time.sleep(float(os.environ.get(SLEEP_ENV, "0") or 0))
        return super().integrate(u, t0, t1, n, rng)


class _Decay1D:
    def __init__(self, grid, parameters) -> None:  # noqa: ANN001
        self.grid = grid
        self.rate = parameters["rate"]

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, 1.0, size=(1, *self.grid.shape))

    def advance(self, state, t0, t1, rng):  # noqa: ANN001, ANN201
        return state * math.exp(-self.rate * (t1 - t0))


def decay_1d(grid, parameters):  # noqa: ANN001, ANN201
    """Duck-typed factory of a 1D-only decay model."""
    return _Decay1D(grid, parameters)


decay_1d.components = ("c",)
decay_1d.parameters = {"rate": 1.0}
decay_1d.dims = (1,)


def pde_brusselator(parameters):  # noqa: ANN001, ANN201
    """The Brusselator as a py-pde expression PDE (periodic grid)."""
    import pde

    a, b, d = parameters["a"], parameters["b"], parameters["d"]
    return pde.PDE(
        {
            "u": f"{d} * laplace(u) + {a} - ({b} + 1) * u + u**2 * v",
            "v": f"{10 * d} * laplace(v) + {b} * u - u**2 * v",
        }
    )


def _brusselator_start(grid, parameters, rng):  # noqa: ANN001, ANN202
    import pde

    a, b = parameters["a"], parameters["b"]
    u = pde.ScalarField(grid, a + 0.1 * rng.standard_normal(grid.shape), label="u")
    v = pde.ScalarField(grid, b / a + 0.1 * rng.standard_normal(grid.shape), label="v")
    return pde.FieldCollection([u, v])


pde_brusselator.parameters = {"a": 1.0, "b": 3.0, "d": 0.1}
pde_brusselator.dt = 0.01
pde_brusselator.initial_state = _brusselator_start

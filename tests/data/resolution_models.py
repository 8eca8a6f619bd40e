"""Test models of the workflow tests: a model that reports its resolution per frame."""

from __future__ import annotations

import numpy as np

from fieldmovie.simulation.models import BUILTIN_MODELS

Diffusion = BUILTIN_MODELS["diffusion"]


class TailGrows(Diffusion):
    """Diffusion whose "spectral tail" is the time itself: over the limit from t > 1."""

    name = "tail_grows"
    resolution_limit = 1.0

    def advance(self, state, t0, t1, rng):  # noqa: ANN001, ANN201
        self._t = t1
        return super().advance(state, t0, t1, rng)

    def resolution(self, state: np.ndarray) -> dict[str, float]:
        return {"c": float(getattr(self, "_t", 0.0))}

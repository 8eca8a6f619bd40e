"""Simulation: grids, built-in PDE models, user-model loading and the segment runner."""

from .models import BUILTIN_MODELS, Grid, Model, resolve_model
from .segment import SimulationError, load_state, run_segment, segment_times

__all__ = [
    "BUILTIN_MODELS",
    "Grid",
    "Model",
    "SimulationError",
    "load_state",
    "resolve_model",
    "run_segment",
    "segment_times",
]

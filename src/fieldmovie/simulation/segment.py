"""Running one segment of a simulation: resume from the saved state, write a movie segment.

Segment ``k`` covers frames at ``k*T + i*frame_interval`` (``i = 0 .. frames_per_segment-1``,
``T = frame_interval * frames_per_segment``) and saves the exact float64 state (and the
random generator's state) at ``(k+1)*T``. The model is always advanced from frame time to
frame time with the same expressions, so a run resumed from any saved state gives frames
bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..movie.atomic import atomic_path, remove_stale_temporaries
from ..movie.probe import times_path
from ..movie.writer import MovieWriter
from .models import Grid, Model, resolve_model

__all__ = ["SimulationError", "SegmentResult", "load_state", "run_segment", "segment_times"]

log = logging.getLogger(__name__)

#: settings that must agree between a saved state and the segment that resumes from it
_CHAIN_KEYS = ("model", "parameters", "seed", "grid_shape", "grid_length", "frame_interval",
               "frames_per_segment")  # fmt: skip


class SimulationError(RuntimeError):
    """A simulation produced non-finite values or cannot resume from its saved state."""


@dataclass
class SegmentResult:
    """What :func:`run_segment` did."""

    frames: int
    t_start: float
    t_end: float
    simulate_seconds: float
    encode_seconds: float


def segment_times(frame_interval: float, frames_per_segment: int, k: int) -> list[float]:
    """Frame times of segment ``k`` and, last, the time of the state it saves."""
    seg = frame_interval * frames_per_segment
    return [k * seg + i * frame_interval for i in range(frames_per_segment)] + [(k + 1) * seg]


def _model(settings: Mapping[str, Any]) -> Model:
    grid = Grid(tuple(settings["grid_shape"]), tuple(settings["grid_length"]))
    return resolve_model(settings["model"])(grid, settings["parameters"])


def _where(settings: Mapping[str, Any], k: int) -> str:
    return f"sweep {settings['sweep']!r}, point {settings['point']!r}, segment {k}"


def load_state(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any], float, dict]:
    """Read a saved state: (state array, generator state, time, settings)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = np.array(npz["state"], dtype=np.float64)
            rng_state = json.loads(str(npz["rng_state"]))
            t = float(npz["t"])
            settings = json.loads(str(npz["settings"]))
    except (OSError, KeyError, ValueError) as exc:
        raise SimulationError(f"saved state {path} cannot be read: {exc}") from None
    return state, rng_state, t, settings


def save_state(
    path: str | os.PathLike, state: np.ndarray, rng: np.random.Generator, t: float,
    settings: Mapping[str, Any], segment: int,
) -> None:  # fmt: skip
    """Write the exact state atomically (float64 array, generator state as JSON, time)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            state=state,
            rng_state=np.array(json.dumps(rng.bit_generator.state)),
            t=np.float64(t),
            segment=np.int64(segment),
            settings=np.array(json.dumps(dict(settings), sort_keys=True)),
        )


def _check_finite(state: np.ndarray, settings: Mapping[str, Any], k: int, t: float) -> None:
    if not np.isfinite(state).all():
        comps = resolve_model(settings["model"]).components
        bad = [comps[c] for c in range(state.shape[0]) if not np.isfinite(state[c]).all()]
        raise SimulationError(
            f"{_where(settings, k)}: the simulation produced non-finite values (NaN/inf) in "
            f"component(s) {bad} at t={t!r}; earlier segments are kept. Reduce the time step "
            "or check the parameters."
        )


def run_segment(
    settings: Mapping[str, Any],
    k: int,
    movie: str | os.PathLike,
    state_out: str | os.PathLike,
    state_in: str | os.PathLike | None = None,
) -> SegmentResult:
    """Simulate segment ``k`` of one point and write its movie, ``.times`` and end state.

    Args:
        settings: the point's settings (:meth:`fieldmovie.workflow.Sweep.segment_settings`).
        k: segment index; ``k > 0`` resumes from ``state_in`` (segment ``k-1``'s state).
        movie: output movie segment (``.mkv``); its ``.times`` goes next to it.
        state_out: output ``.npz`` with the exact state at the segment's end.
        state_in: saved state to resume from (required for ``k > 0``).
    """
    for output in (movie, times_path(movie), state_out):
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted job", stale)
    model = _model(settings)
    times = segment_times(settings["frame_interval"], settings["frames_per_segment"], k)
    if k == 0:
        rng = np.random.default_rng(int(settings["seed"]))
        state = model.initial_state(rng)
    else:
        if state_in is None:
            raise SimulationError(f"{_where(settings, k)}: needs the state of segment {k - 1}")
        state, rng_state, t_saved, saved = load_state(state_in)
        for key in _CHAIN_KEYS:
            if saved.get(key) != settings.get(key):
                raise SimulationError(
                    f"{_where(settings, k)}: saved state {state_in} was made with {key}="
                    f"{saved.get(key)!r}, this segment has {settings.get(key)!r}"
                )
        if t_saved != times[0]:
            raise SimulationError(
                f"{_where(settings, k)}: saved state {state_in} is at t={t_saved!r}, "
                f"the segment starts at t={times[0]!r}"
            )
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_state
    _check_finite(state, settings, k, times[0])

    components = list(model.components)
    ranges = settings["range"]
    info = {
        "sweep": settings["sweep"],
        "point": settings["point"],
        "model": settings["model"],
        "parameters": dict(model.params),
        "seed": settings["seed"],
        "segment": k,
        "frame_interval": settings["frame_interval"],
        "software": {
            "fieldmovie": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    t_sim = t_enc = 0.0
    with MovieWriter(
        movie,
        components=components,
        grid_shape=tuple(settings["grid_shape"]),
        vmin=[ranges[c][0] for c in components],
        vmax=[ranges[c][1] for c in components],
        bits=int(settings["bits"]),
        info=info,
        grid_length=tuple(settings["grid_length"]),
        periodic=True,
    ) as writer:
        for i in range(len(times) - 1):
            t0 = time.perf_counter()
            writer.append(state, times[i])
            t1 = time.perf_counter()
            state = model.advance(state, times[i], times[i + 1], rng)
            _check_finite(state, settings, k, times[i + 1])
            t_enc += t1 - t0
            t_sim += time.perf_counter() - t1
        t0 = time.perf_counter()
    t_enc += time.perf_counter() - t0
    save_state(state_out, state, rng, times[-1], settings, k)
    log.info(
        "%s: %d frames t=%s..%s, simulate %.2f s, encode %.2f s",
        _where(settings, k), len(times) - 1, times[0], times[-2], t_sim, t_enc,
    )  # fmt: skip
    return SegmentResult(len(times) - 1, times[0], times[-1], t_sim, t_enc)

"""Running one segment of a simulation: resume from the saved state, write a movie segment.

Segment ``k`` covers frames at ``k*T + i*frame_interval`` (``i = 0 .. frames_per_segment-1``,
``T = frame_interval * frames_per_segment``) and saves the exact float64 state (and the
random generator's state) at ``(k+1)*T``. The model is always advanced from frame time to
frame time with the same expressions, so a run resumed from any saved state gives frames
bit-identical to an uninterrupted run.

A running segment logs a progress line at least every 10 s or 10 % of its frames, and the
model's resolution check (when it has one) for every frame.  The per-frame resolution
values go into the segment movie's info (:func:`resolution_info`, key ``"resolution"``)
and into the saved state; :func:`~fieldmovie.movie.concat.concat_movies` merges them into
the joined movie's info.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._version import __version__
from ..movie.atomic import atomic_path, remove_stale_temporaries
from ..movie.metadata import MAX_METADATA_BYTES
from ..movie.probe import times_path
from ..movie.writer import MovieWriter
from .models import Grid, Model, resolve_model
from .spec import SegmentSpec

__all__ = [
    "SegmentResult",
    "SegmentSpec",
    "SimulationError",
    "build_model",
    "load_state",
    "resolution_info",
    "run_segment",
    "segment_times",
]

log = logging.getLogger(__name__)

#: a progress line at least this often (seconds) ...
PROGRESS_SECONDS = 10.0
#: ... and at least every this fraction of the segment's frames
PROGRESS_FRACTION = 0.1


class SimulationError(RuntimeError):
    """A simulation produced non-finite values, is under-resolved in strict mode, or cannot
    resume from its saved state."""


@dataclass
class SegmentResult:
    """What :func:`run_segment` did."""

    frames: int
    t_start: float
    t_end: float
    simulate_seconds: float
    encode_seconds: float
    #: per frame: the model's resolution measure (component -> value), when it has one
    resolution: list[dict[str, float] | None] = field(default_factory=list)


def segment_times(frame_interval: float, frames_per_segment: int, k: int) -> list[float]:
    """Frame times of segment ``k`` and, last, the time of the state it saves."""
    seg = frame_interval * frames_per_segment
    return [k * seg + i * frame_interval for i in range(frames_per_segment)] + [(k + 1) * seg]


def build_model(spec: SegmentSpec, previous: Mapping[str, Any] | None = None) -> Model:
    """``resolve_model(spec.model)(grid, parameters, options=spec.model_options)``, planned
    for one segment (:meth:`~fieldmovie.simulation.models.Model.plan_segment`; ``previous``:
    the plan saved with the state the segment resumes from)."""
    grid = Grid(spec.grid_shape, spec.grid_length)
    model_class = resolve_model(spec.model)
    if spec.model_options:  # models without options keep working
        model = model_class(grid, dict(spec.parameters), options=dict(spec.model_options))
    else:
        model = model_class(grid, dict(spec.parameters))
    model.plan_segment(spec.frame_interval, spec.frames_per_segment, previous)
    return model


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
    resolution: list[dict[str, float] | None] | None = None,
    plan: Mapping[str, Any] | None = None,
) -> None:  # fmt: skip
    """Write the exact state atomically (float64 array, generator state as JSON, time, the
    per-frame resolution measures of the segment and the model's plan)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            state=state,
            rng_state=np.array(json.dumps(rng.bit_generator.state)),
            t=np.float64(t),
            segment=np.int64(segment),
            settings=np.array(json.dumps(dict(settings), sort_keys=True)),
            resolution=np.array(json.dumps(resolution or [])),
            plan=np.array(json.dumps(dict(plan or {}), sort_keys=True)),
        )


def saved_plan(path: str | os.PathLike) -> dict[str, Any]:
    """The model plan saved with a state (``{}`` for states saved before plans existed)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["plan"])) if "plan" in npz.files else {}
    except (OSError, ValueError) as exc:
        raise SimulationError(f"saved state {path} cannot be read: {exc}") from None


def _check_finite(state: np.ndarray, spec: SegmentSpec, k: int, t: float) -> None:
    if not np.isfinite(state).all():
        comps = resolve_model(spec.model).components
        bad = [comps[c] for c in range(state.shape[0]) if not np.isfinite(state[c]).all()]
        raise SimulationError(
            f"{spec.where(k)}: the simulation produced non-finite values (NaN/inf) in "
            f"component(s) {bad} at t={t!r}; earlier segments are kept. Reduce the time step "
            "or check the parameters."
        )


class Progress:
    """Progress lines of a segment: frames done/total, simulated time, rate and ETA."""

    def __init__(self, where: str, total: int, t_end: float) -> None:
        self.where, self.total, self.t_end = where, total, t_end
        self.start = self.last = time.monotonic()
        self.step = max(1, int(total * PROGRESS_FRACTION))
        self.next_frame = self.step

    def update(self, done: int, t: float) -> None:
        """Called after ``done`` frames, the model now at time ``t``."""
        now = time.monotonic()
        if done < self.total and done < self.next_frame and now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        self.next_frame = done + self.step
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        log.info(
            "%s: progress %d/%d frames (%.0f%%), t=%.6g of %.6g, %.3g frames/s, ETA %.0f s",
            self.where, done, self.total, 100.0 * done / self.total, t, self.t_end, rate, eta,
        )  # fmt: skip


def _resolution(
    model: Model, state: np.ndarray, spec: SegmentSpec, k: int, t: float
) -> dict[str, float] | None:
    """The model's resolution measure of ``state``; warns (or fails if strict) above the limit."""
    measure = getattr(model, "resolution", None)
    if measure is None:
        return None
    values = measure(state)
    limit = getattr(model, "resolution_limit", None)
    if values is None or limit is None:
        return None if values is None else {c: float(v) for c, v in values.items()}
    values = {c: float(v) for c, v in values.items()}
    over = {c: v for c, v in values.items() if not v <= limit}
    if over:
        message = (
            f"{spec.where(k)}: under-resolved at t={t!r}: spectral tail "
            + ", ".join(f"{c}={v:.3g}" for c, v in over.items())
            + f" above the limit {limit:.3g} (refine the grid or lower the time step)"
        )
        if spec.strict:
            raise SimulationError(message + "; strict: true, so the segment fails")
        log.warning("%s", message)
    return values


#: significant digits of the per-frame resolution values in the movie's info (the maxima
#: are kept exactly): 2000 frames x 2 components take ~36 KB of the 64 KiB metadata
RESOLUTION_DIGITS = 3
#: bytes of the metadata that close() adds after the resolution record is set
METADATA_MARGIN = 2048
#: what ``resolution_info`` measures
RESOLUTION_MEASURE = "spectral_tail: fraction of fluctuation energy in the highest third of modes"


def resolution_info(
    values: list[dict[str, float] | None], limit: float | None
) -> dict[str, Any] | None:
    """The ``"resolution"`` record of a segment movie's info, or None when not measured.

    ``{"measure": ..., "limit": limit, "max": {component: exact maximum},
    "frames": {component: [value per frame, rounded to RESOLUTION_DIGITS significant
    digits]}}``; frames in movie order.
    """
    if not values or any(v is None for v in values):
        return None
    components = list(values[0])
    frames = {c: [float(f"{v[c]:.{RESOLUTION_DIGITS}g}") for v in values] for c in components}
    return {
        "measure": RESOLUTION_MEASURE,
        "limit": limit,
        "max": {c: max(v[c] for v in values) for c in components},
        "frames": frames,
    }


def _record_resolution(writer: MovieWriter, record: dict[str, Any] | None) -> None:
    """Put the resolution record into the movie's info before ``close()`` rewrites it.

    Per-frame values that would push the metadata over its 64 KiB limit are left out
    (``frames_omitted`` says where they are: the saved state); the maxima always fit.
    """
    if record is None:
        return
    writer.meta.info["resolution"] = record
    # close() still adds the envelope and the times digest: keep a margin for them
    if len(writer.meta.to_json().encode()) > MAX_METADATA_BYTES - METADATA_MARGIN:
        writer.meta.info["resolution"] = {
            **{k: v for k, v in record.items() if k != "frames"},
            "frames_omitted": "over the 64 KiB metadata limit; per-frame values are in the "
            "segment's saved state (.npz key 'resolution')",
        }


def _start_state(
    spec: SegmentSpec, model: Model, k: int, t0: float, state_in: str | os.PathLike | None
) -> tuple[np.ndarray, np.random.Generator]:
    """Fresh initial state for segment 0, else the checked saved state of segment k-1."""
    if k == 0:
        rng = np.random.default_rng(spec.seed)
        return model.initial_state(rng), rng
    if state_in is None:
        raise SimulationError(f"{spec.where(k)}: needs the state of segment {k - 1}")
    state, rng_state, t_saved, saved = load_state(state_in)
    mismatch = spec.chain_mismatch(saved)
    if mismatch:
        key, theirs, mine = mismatch
        raise SimulationError(
            f"{spec.where(k)}: saved state {state_in} was made with {key}={theirs!r}, "
            f"this segment has {mine!r}"
        )
    if t_saved != t0:
        raise SimulationError(
            f"{spec.where(k)}: saved state {state_in} is at t={t_saved!r}, "
            f"the segment starts at t={t0!r}"
        )
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    return state, rng


def _movie_info(spec: SegmentSpec, model: Model, k: int) -> dict[str, Any]:
    return {
        "sweep": spec.sweep,
        "point": spec.point,
        "model": spec.model,
        "model_options": dict(spec.model_options),
        "parameters": dict(model.params),
        "seed": spec.seed,
        "segment": k,
        "frame_interval": spec.frame_interval,
        "resolution_limit": getattr(model, "resolution_limit", None),
        # numpy and FFTW agree to ~1e-15, not bit for bit: say which one made the frames
        "fft_backend": getattr(model, "fft_backend", None),
        # py-pde models: which right-hand side (spectral, numpy, numba) made the frames
        **({"rhs_backend": model.rhs_backend} if hasattr(model, "rhs_backend") else {}),
        "software": {
            "fieldmovie": __version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def run_segment(
    spec: SegmentSpec | Mapping[str, Any],
    k: int,
    movie: str | os.PathLike,
    state_out: str | os.PathLike,
    state_in: str | os.PathLike | None = None,
) -> SegmentResult:
    """Simulate segment ``k`` of one point and write its movie, ``.times`` and end state.

    Args:
        spec: the point's :class:`SegmentSpec` (or its dict,
            :meth:`fieldmovie.workflow.Sweep.segment_settings`).
        k: segment index; ``k > 0`` resumes from ``state_in`` (segment ``k-1``'s state).
        movie: output movie segment (``.mkv``); its ``.times`` goes next to it.
        state_out: output ``.npz`` with the exact state at the segment's end.
        state_in: saved state to resume from (required for ``k > 0``).
    """
    spec = SegmentSpec.coerce(spec)
    for output in (movie, times_path(movie), state_out):
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted job", stale)
    # a resumed segment keeps the choices of the run's first (e.g. py-pde's rhs backend)
    previous = saved_plan(state_in) if k > 0 and state_in is not None else None
    model = build_model(spec, previous)
    times = spec.frame_times(k)
    state, rng = _start_state(spec, model, k, times[0], state_in)
    _check_finite(state, spec, k, times[0])
    components = list(model.components)
    progress = Progress(spec.where(k), len(times) - 1, times[-1])
    resolution: list[dict[str, float] | None] = []
    t_sim = t_enc = 0.0
    with MovieWriter(
        movie,
        components=components,
        grid_shape=spec.grid_shape,
        range={c: spec.ranges.get(c, "auto") for c in components},
        tolerance=dict(spec.tolerance) or None,
        bits=spec.bits,
        info=_movie_info(spec, model, k),
        grid_length=spec.grid_length,
        periodic=True,
    ) as writer:
        for i in range(len(times) - 1):
            resolution.append(_resolution(model, state, spec, k, times[i]))
            t0 = time.perf_counter()
            try:
                writer.append(state, times[i])
            except ValueError as exc:  # e.g. storage.tolerance missed: name point and segment
                raise SimulationError(f"{spec.where(k)}: {exc}") from None
            t1 = time.perf_counter()
            state = model.advance(state, times[i], times[i + 1], rng)
            _check_finite(state, spec, k, times[i + 1])
            t_enc += t1 - t0
            t_sim += time.perf_counter() - t1
            progress.update(i + 1, times[i + 1])
        limit = getattr(model, "resolution_limit", None)
        _record_resolution(writer, resolution_info(resolution, limit))
        t0 = time.perf_counter()
    t_enc += time.perf_counter() - t0
    save_state(state_out, state, rng, times[-1], spec.as_dict(), k, resolution, model.plan)
    log.info(
        "%s: %d frames t=%s..%s, simulate %.2f s, encode %.2f s",
        spec.where(k), len(times) - 1, times[0], times[-2], t_sim, t_enc,
    )  # fmt: skip
    return SegmentResult(len(times) - 1, times[0], times[-1], t_sim, t_enc, resolution)

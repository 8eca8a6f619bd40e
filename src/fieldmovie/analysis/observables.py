"""Observables of stored fields, per frame and per run, from a small registry.

Every observable is one function registered with :func:`observable`: it gets one component
of one frame (:class:`Field`) and returns a float (or None where it is not defined). Adding
an observable is adding one such function. The built-in ones, for a component ``<name>``:

* ``<name>_mean``, ``<name>_std``, ``<name>_min``, ``<name>_max`` over the grid;
* ``<name>_clipped`` (components stored with a *fixed* range only: an ``auto`` range is
  each frame's own min and max, so nothing is clipped): fraction of grid points at or
  beyond the storage range, i.e.
  ``x <= vmin`` or ``x >= vmax``. Stored values are clipped to ``[vmin, vmax]`` before
  quantization, so after decoding a clipped value sits exactly *at* a bound; a value that
  merely happened to equal a bound counts too. The comparison allows a tolerance of
  ``1e-6 * (vmax - vmin)`` plus a few floating-point ulps, far below one quantization step,
  so the rounding of ``vmin + q * step`` does not hide a value at the bound. NaN when the
  range is degenerate (``vmin >= vmax``) or not finite.
* ``<name>_length_scale`` (1D, 2D and 3D grids): the characteristic length ``2*pi/k*`` with
  ``k*`` the first moment of the radially averaged structure factor (see
  :func:`structure_factor`), in the units of ``grid_length`` (grid cells when it is unknown).
  NaN for a constant field. It is the standard coarsening/pattern measure of Cahn-Hilliard,
  Gray-Scott and Kuramoto-Sivashinsky runs and is cheap, so it is computed for every model.

Per run (:func:`compute_observables`, :func:`write_observables_csv`): one row per frame,
streamed so that only one frame is in memory at a time. Per sweep tables and plots are in
:mod:`fieldmovie.analysis.summary` and :mod:`fieldmovie.analysis.plots`.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..movie.atomic import atomic_path

__all__ = [
    "OBSERVABLES",
    "OBSERVABLE_LABELS",
    "Field",
    "compute_observables",
    "frame_observables",
    "length_scale",
    "observable",
    "per_component",
    "structure_factor",
    "write_observables_csv",
]

GridLength = float | Sequence[float] | None


# -- structure factor ----------------------------------------------------------------------
def _grid_lengths(shape: tuple[int, ...], grid_length: GridLength) -> tuple[float, ...]:
    """Side lengths of the grid: ``grid_length`` broadcast to every axis, cells if None."""
    if grid_length is None:
        return tuple(float(n) for n in shape)
    if isinstance(grid_length, numbers.Real):
        return (float(grid_length),) * len(shape)
    lengths = tuple(float(v) for v in grid_length)
    if len(lengths) != len(shape):
        raise ValueError(f"grid_length {lengths} does not match a grid of shape {shape}")
    if not all(math.isfinite(v) and v > 0 for v in lengths):
        raise ValueError(f"grid_length {lengths} must be positive and finite")
    return lengths


@lru_cache(maxsize=32)
def _radial_bins(
    shape: tuple[int, ...], lengths: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Shell index and weight of every ``rfftn`` mode, the shell sizes and the shell width.

    Shell ``j`` holds the modes with ``|k|`` closest to ``j * dk``, ``dk = 2*pi / max(L)``.
    In the half spectrum of ``rfftn`` every mode of the last axis except ``k=0`` and the
    Nyquist frequency stands for itself and its mirror image, hence weight 2.
    """
    ndim = len(shape)
    kmag2 = np.zeros(shape[:-1] + (shape[-1] // 2 + 1,))
    for axis, (n, length) in enumerate(zip(shape, lengths, strict=True)):
        spacing = length / n
        if axis == ndim - 1:
            k = 2 * np.pi * np.fft.rfftfreq(n, spacing)
        else:
            k = 2 * np.pi * np.fft.fftfreq(n, spacing)
        kmag2 += (k**2).reshape((-1,) + (1,) * (ndim - 1 - axis))
    n_last = shape[-1]
    weight_last = np.full(n_last // 2 + 1, 2.0)
    weight_last[0] = 1.0
    if n_last % 2 == 0:
        weight_last[-1] = 1.0
    weights = np.broadcast_to(weight_last, kmag2.shape).ravel().copy()
    extended = [length for n, length in zip(shape, lengths, strict=True) if n > 1]
    dk = 2 * np.pi / max(extended) if extended else 1.0
    index = np.rint(np.sqrt(kmag2) / dk).astype(np.intp).ravel()
    counts = np.bincount(index, weights=weights)
    shells = np.flatnonzero(counts > 0)
    shells = shells[shells > 0]
    for arr in (index, weights, counts, shells):
        arr.flags.writeable = False
    return index, weights, counts, shells, dk


def structure_factor(
    field: np.ndarray, grid_length: GridLength = None
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged structure factor ``S(k)`` of one scalar field on a periodic grid.

    ``S(k) = |FFT(c - mean(c))|**2 / N`` (``N`` grid points; with this normalisation the
    average of ``S`` over all modes is the variance of the field), averaged over shells of
    ``|k|``: shell ``j`` collects the modes whose ``|k|`` rounds to ``j * dk`` with
    ``dk = 2*pi / max(grid_length)``, and is reported at its centre ``k = j * dk``.

    Args:
        field: array of shape ``grid_shape`` (1 to 3 axes).
        grid_length: physical side length of the grid (one value per axis, or one for all);
            None measures lengths in grid cells (spacing 1).

    Returns:
        ``(k, S)``: the centres of the non-empty shells with ``k > 0`` (the ``k = 0`` mode is
        excluded; it is zero after removing the mean) and the shell averages of ``S``.
    """
    f = np.asarray(field, dtype=np.float64)
    if f.ndim not in (1, 2, 3):
        raise ValueError(f"field of shape {f.shape}: expected 1 to 3 axes")
    lengths = _grid_lengths(f.shape, grid_length)
    index, weights, counts, shells, dk = _radial_bins(f.shape, lengths)
    power = np.abs(np.fft.rfftn(f - f.mean())) ** 2 / f.size
    sums = np.bincount(index, weights=weights * power.ravel(), minlength=counts.size)
    return shells * dk, sums[shells] / counts[shells]


def length_scale(field: np.ndarray, grid_length: GridLength = None) -> float:
    """Characteristic length ``2*pi/k*`` of a field, ``k* = sum(k S(k)) / sum(S(k))``.

    ``S(k)`` is the radially averaged structure factor of :func:`structure_factor` (``k > 0``).
    A sine wave ``sin(2*pi*m*x/L)`` gives exactly ``L/m``. The result is in the units of
    ``grid_length`` (grid cells when None); NaN for a constant or non-finite field.
    """
    f = np.asarray(field, dtype=np.float64)
    if f.size == 0 or not np.all(np.isfinite(f)) or f.min() == f.max():
        return math.nan
    k, s = structure_factor(f, grid_length)
    total = float(s.sum())
    if not total > 0:
        return math.nan
    k_star = float((k * s).sum()) / total
    return 2 * np.pi / k_star if k_star > 0 else math.nan


# -- the registry --------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One component of one frame, as an observable sees it."""

    values: np.ndarray  #: as decoded (any float dtype)
    f64: np.ndarray  #: the same values in float64
    vmin: float  #: lower end of the storage range
    vmax: float  #: upper end of the storage range
    grid_length: GridLength  #: physical side lengths (None: grid cells)
    fixed: bool = True  #: stored with a fixed range (values outside were clipped)


#: suffix -> (description used in plot labels, function); filled by :func:`observable`
OBSERVABLES: dict[str, tuple[str, Callable[[Field], float | None]]] = {}
#: suffix -> description, in registration order (column order of the tables)
OBSERVABLE_LABELS: dict[str, str] = {}


def observable(suffix: str, label: str) -> Callable:
    """Register ``function(field: Field) -> float | None`` as the observable ``<name>_<suffix>``.

    None means "not defined for this field" (the column is left out).
    """

    def register(function: Callable[[Field], float | None]) -> Callable[[Field], float | None]:
        OBSERVABLES[suffix] = (label, function)
        OBSERVABLE_LABELS[suffix] = label
        return function

    return register


@observable("mean", "mean")
def _mean(f: Field) -> float:
    return float(f.f64.mean())


@observable("std", "standard deviation")
def _std(f: Field) -> float:
    return float(f.f64.std())


@observable("min", "minimum")
def _min(f: Field) -> float:
    return float(f.f64.min())


@observable("max", "maximum")
def _max(f: Field) -> float:
    return float(f.f64.max())


@observable("clipped", "fraction clipped")
def _clipped(f: Field) -> float:
    """Fraction at or beyond ``[vmin, vmax]`` (tolerance: see the module docstring)."""
    if not f.fixed:
        return None
    lo, hi, values = f.vmin, f.vmax, f.values
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        return math.nan
    eps = np.finfo(values.dtype).eps if np.issubdtype(values.dtype, np.floating) else 0.0
    tol = 1e-6 * (hi - lo) + 4 * eps * max(abs(lo), abs(hi))
    at_bounds = np.count_nonzero((values <= lo + tol) | (values >= hi - tol))
    return at_bounds / values.size


@observable("length_scale", "length scale 2\u03c0/k*")
def _length_scale(f: Field) -> float | None:
    if f.f64.ndim not in (1, 2, 3):
        return None
    return float(length_scale(f.f64, f.grid_length))


# -- per frame -----------------------------------------------------------------------------
def per_component(values: float | Sequence[float], n: int, what: str) -> list[float]:
    """``values`` as one float per component (one value for all is accepted)."""
    if isinstance(values, numbers.Real):
        return [float(values)] * n
    out = [float(v) for v in values]
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} values for {n} components")
    return out


def frame_observables(
    data: np.ndarray,
    *,
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    components: Sequence[str],
    grid_length: GridLength = None,
    fixed: Sequence[bool] | None = None,
) -> dict[str, float]:
    """Observables of one frame ``data`` of shape ``(n_components, *grid_shape)``.

    Args:
        data: the frame (any float dtype; statistics are computed in float64).
        vmin, vmax: storage range of each component (one value for all is accepted).
        components: component names, used as column prefixes.
        grid_length: physical side lengths of the grid (None: grid cells).
        fixed: per component, whether it was stored with a fixed range (default: all);
            ``<name>_clipped`` exists only for those.

    Returns:
        ``"<name>_<suffix>"`` for every component and every registered observable (see the
        module docstring), as Python floats.
    """
    arr = np.asarray(data)
    names = list(components)
    if arr.ndim < 2 or arr.shape[0] != len(names):
        raise ValueError(
            f"frame of shape {arr.shape} does not match {len(names)} components "
            "(expected (n_components, *grid_shape))"
        )
    lows = per_component(vmin, len(names), "vmin")
    highs = per_component(vmax, len(names), "vmax")
    flags = [True] * len(names) if fixed is None else [bool(x) for x in fixed]
    out: dict[str, float] = {}
    for name, values, lo, hi, fix in zip(names, arr, lows, highs, flags, strict=True):
        field = Field(values, np.asarray(values, dtype=np.float64), lo, hi, grid_length, fix)
        for suffix, (_, function) in OBSERVABLES.items():
            value = function(field)
            if value is not None:
                out[f"{name}_{suffix}"] = float(value)
    return out


# -- per run -------------------------------------------------------------------------------
def compute_observables(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    components: Sequence[str],
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    grid_length: GridLength = None,
    fixed: Sequence[bool] | None = None,
) -> pd.DataFrame:
    """One row per frame: ``time`` and the :func:`frame_observables` of the frame.

    ``frames`` is consumed one frame at a time (a :class:`~fieldmovie.movie.MovieReader` or
    any iterable of ``(t, data)``); only the small rows are kept.
    """
    rows = []
    iterator = iter(frames)
    try:
        for t, data in iterator:
            row = {"time": float(t)}
            row.update(
                frame_observables(
                    data,
                    vmin=vmin,
                    vmax=vmax,
                    components=components,
                    grid_length=grid_length,
                    fixed=fixed,
                )
            )
            rows.append(row)
    finally:
        # end a generator (a MovieReader stream) now, not at garbage collection, so that
        # its FFmpeg process is reaped even when a frame raises
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    if rows:
        return pd.DataFrame(rows)
    # keep the header so that an empty run still gives a well-formed table
    flags = [True] * len(components) if fixed is None else list(fixed)
    columns = ["time"] + [
        f"{name}_{s}"
        for name, fix in zip(components, flags, strict=True)
        for s in OBSERVABLES
        if fix or s != "clipped"
    ]
    return pd.DataFrame(rows, columns=columns)


def write_observables_csv(reader_like: Any, path: str | os.PathLike) -> pd.DataFrame:
    """Stream a reader through :func:`compute_observables` and write the table as CSV.

    Args:
        reader_like: iterable of ``(t, data)`` with attributes ``components``, ``vmin``,
            ``vmax`` and optionally ``grid_length`` and ``meta.modes`` (a MovieReader:
            only components with a fixed storage range get a clipped fraction).
        path: output CSV, written atomically (temporary file in the same folder, renamed).

    Returns:
        The table that was written.
    """
    df = compute_observables(
        reader_like,
        components=list(reader_like.components),
        vmin=reader_like.vmin,
        vmax=reader_like.vmax,
        grid_length=getattr(reader_like, "grid_length", None),
        fixed=_fixed_components(reader_like),
    )
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, na_rep="NaN")
    return df


def _fixed_components(reader_like: Any) -> list[bool] | None:
    """Which components a reader stores with a fixed range (None: not known, all)."""
    modes = getattr(getattr(reader_like, "meta", None), "modes", None)
    return None if modes is None else [m == "fixed" for m in modes]


def __getattr__(name: str) -> Any:
    # the rule scripts import the per-sweep summary from here; it lives in .summary (which
    # imports this module, hence not imported at the top)
    if name == "write_sweep_summary":
        from .summary import write_sweep_summary

        return write_sweep_summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Observables of stored fields, per frame and per sweep.

Per frame (:func:`frame_observables`), for every component ``<name>``:

* ``<name>_mean``, ``<name>_std``, ``<name>_min``, ``<name>_max`` over the grid;
* ``<name>_clipped``: fraction of grid points at or beyond the storage range, i.e.
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
streamed so that only one frame is in memory at a time.

Per sweep (:func:`summarize`, :func:`plot_summary`): one row per run (parameters, seed,
final-frame observables) and a PNG of the key observables against the swept parameters.
"""

from __future__ import annotations

import math
import numbers
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..movie.atomic import atomic_path

__all__ = [
    "OBSERVABLE_LABELS",
    "compute_observables",
    "final_observables",
    "frame_observables",
    "key_observables",
    "length_scale",
    "plot_summary",
    "structure_factor",
    "summarize",
    "write_observables_csv",
]

#: observable suffix -> human readable description (used in plot labels)
OBSERVABLE_LABELS: dict[str, str] = {
    "mean": "mean",
    "std": "standard deviation",
    "min": "minimum",
    "max": "maximum",
    "clipped": "fraction clipped",
    "length_scale": "length scale 2\u03c0/k*",
}

#: observables plotted by default in the sweep summary
KEY_SUFFIXES = ("mean", "length_scale")

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


# -- per frame -----------------------------------------------------------------------------
def _per_component(values: float | Sequence[float], n: int, what: str) -> list[float]:
    if isinstance(values, numbers.Real):
        return [float(values)] * n
    out = [float(v) for v in values]
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} values for {n} components")
    return out


def _clipped_fraction(f: np.ndarray, lo: float, hi: float) -> float:
    """Fraction of ``f`` at or beyond ``[lo, hi]`` (tolerance: see the module docstring)."""
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        return math.nan
    eps = np.finfo(f.dtype).eps if np.issubdtype(f.dtype, np.floating) else 0.0
    tol = 1e-6 * (hi - lo) + 4 * eps * max(abs(lo), abs(hi))
    at_bounds = np.count_nonzero((f <= lo + tol) | (f >= hi - tol))
    return at_bounds / f.size


def frame_observables(
    data: np.ndarray,
    *,
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    components: Sequence[str],
    grid_length: GridLength = None,
    model: str | None = None,
) -> dict[str, float]:
    """Observables of one frame ``data`` of shape ``(n_components, *grid_shape)``.

    Args:
        data: the frame (any float dtype; statistics are computed in float64).
        vmin, vmax: storage range of each component (one value for all is accepted).
        components: component names, used as column prefixes.
        grid_length: physical side lengths of the grid (None: grid cells).
        model: name of the PDE model. Reserved for model-specific observables; today every
            model gets the same set (the length scale is computed for all 1-3D grids).

    Returns:
        ``{"<name>_mean", "<name>_std", "<name>_min", "<name>_max", "<name>_clipped",
        "<name>_length_scale"}`` for every component, as Python floats (see the module
        docstring for the definitions).
    """
    del model  # no model-specific observables yet
    arr = np.asarray(data)
    names = list(components)
    if arr.ndim < 2 or arr.shape[0] != len(names):
        raise ValueError(
            f"frame of shape {arr.shape} does not match {len(names)} components "
            "(expected (n_components, *grid_shape))"
        )
    lows = _per_component(vmin, len(names), "vmin")
    highs = _per_component(vmax, len(names), "vmax")
    out: dict[str, float] = {}
    for name, field, lo, hi in zip(names, arr, lows, highs, strict=True):
        f64 = np.asarray(field, dtype=np.float64)
        out[f"{name}_mean"] = float(f64.mean())
        out[f"{name}_std"] = float(f64.std())
        out[f"{name}_min"] = float(f64.min())
        out[f"{name}_max"] = float(f64.max())
        out[f"{name}_clipped"] = float(_clipped_fraction(np.asarray(field), lo, hi))
        if f64.ndim in (1, 2, 3):
            out[f"{name}_length_scale"] = float(length_scale(f64, grid_length))
    return out


# -- per run -------------------------------------------------------------------------------
def compute_observables(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    components: Sequence[str],
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    grid_length: GridLength = None,
    model: str | None = None,
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
                    data, vmin=vmin, vmax=vmax, components=components,
                    grid_length=grid_length, model=model,
                )
            )  # fmt: skip
            rows.append(row)
    finally:
        # end a generator (a MovieReader stream) now, not at garbage collection, so that
        # its FFmpeg process is reaped even when a frame raises
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    columns = ["time"]
    if not rows:  # keep the header so an empty run still gives a well-formed table
        for name in components:
            columns += [f"{name}_{s}" for s in OBSERVABLE_LABELS]
    return pd.DataFrame(rows, columns=None if rows else columns)


def write_observables_csv(
    reader_like: Any, path: str | os.PathLike, *, model: str | None = None
) -> pd.DataFrame:
    """Stream a reader through :func:`compute_observables` and write the table as CSV.

    Args:
        reader_like: iterable of ``(t, data)`` with attributes ``components``, ``vmin``,
            ``vmax`` and optionally ``grid_length`` and ``info`` (a MovieReader).
        path: output CSV, written atomically (temporary file in the same folder, renamed).
        model: model name; defaults to ``reader_like.info["model"]`` when present.

    Returns:
        The table that was written.
    """
    if model is None:
        info = getattr(reader_like, "info", None) or {}
        model = info.get("model") if isinstance(info, Mapping) else None
    df = compute_observables(
        reader_like,
        components=list(reader_like.components),
        vmin=reader_like.vmin,
        vmax=reader_like.vmax,
        grid_length=getattr(reader_like, "grid_length", None),
        model=model,
    )
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, na_rep="NaN")
    return df


# -- per sweep -----------------------------------------------------------------------------
def final_observables(source: Any) -> dict[str, Any]:
    """The observables of the last frame of a run.

    ``source`` may be a mapping (returned as a dict), a DataFrame or list of row dicts
    (last row), or the path of a CSV written by :func:`write_observables_csv` (last row).
    """
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str | os.PathLike):
        source = pd.read_csv(source)
    if isinstance(source, pd.DataFrame):
        if source.empty:
            return {}
        return {k: _plain(v) for k, v in source.iloc[-1].items()}
    rows = list(source)
    return dict(rows[-1]) if rows else {}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (for tidy tables)."""
    return value.item() if isinstance(value, np.generic) else value


def summarize(
    points: Iterable[Mapping[str, Any]],
    *,
    parameters_key: str = "parameters",
    seed_key: str = "seed",
    observables_key: str = "observables",
) -> pd.DataFrame:
    """One row per run: parameter columns, ``seed``, other scalar keys, final observables.

    Each point is a mapping such as ``{"parameters": {"F": 0.04, "k": 0.06}, "seed": 1,
    "observables": ..., "run": "a1b2"}`` where ``observables`` is anything
    :func:`final_observables` accepts (a dict of final values, the per-frame DataFrame, or
    the path of the observables CSV). Points without ``parameters`` are taken as flat rows.
    Columns are ordered parameters, seed, other keys, observables; a name used both as a
    parameter and an observable raises ValueError.
    """
    rows: list[dict[str, Any]] = []
    param_cols: dict[str, None] = {}
    other_cols: dict[str, None] = {}
    obs_cols: dict[str, None] = {}
    for point in points:
        row: dict[str, Any] = {}
        params = dict(point.get(parameters_key) or {})
        obs = final_observables(point[observables_key]) if observables_key in point else {}
        clash = set(params) & (set(obs) | {seed_key})
        if clash:
            raise ValueError(f"names used both as parameters and observables: {sorted(clash)}")
        row.update(params)
        param_cols.update(dict.fromkeys(params))
        for key, value in point.items():
            if key in (parameters_key, observables_key):
                continue
            if key != seed_key:
                other_cols[key] = None
            row[key] = value
        for key, value in obs.items():
            if key in row:
                raise ValueError(f"observable {key!r} clashes with a column of the point")
            row[key] = value
        obs_cols.update(dict.fromkeys(obs))
        rows.append(row)
    has_seed = any(seed_key in row for row in rows)
    columns = [*param_cols, *([seed_key] if has_seed else []), *other_cols, *obs_cols]
    return pd.DataFrame(rows, columns=columns)


def key_observables(columns: Iterable[str]) -> list[str]:
    """The observables plotted by default: ``<name>_mean`` and ``<name>_length_scale``."""
    cols = list(columns)
    return [c for c in cols if any(c.endswith("_" + s) for s in KEY_SUFFIXES)]


def _describe(column: str, units: Mapping[str, str]) -> str:
    """``u_length_scale`` -> ``u: length scale 2π/k* [units]``."""
    label = column
    for suffix in sorted(OBSERVABLE_LABELS, key=len, reverse=True):
        if column.endswith("_" + suffix) and len(column) > len(suffix) + 1:
            label = f"{column[: -len(suffix) - 1]}: {OBSERVABLE_LABELS[suffix]}"
            break
    unit = units.get(column)
    return f"{label} [{unit}]" if unit else label


def _fmt(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:.4g}"
    return str(value)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _line_panel(ax, df: pd.DataFrame, x: str, y: str, groups: list[str], units) -> None:  # noqa: ANN001
    """Observable ``y`` against parameter ``x``: mean over seeds (error bar: std), one line
    per combination of the ``groups`` parameters, individual runs as faint dots."""
    data = df[[x, y, *groups]].copy()
    data[y] = pd.to_numeric(data[y], errors="coerce")
    numeric_x = _is_numeric(data[x])
    if not numeric_x:  # categorical axis in sorted order
        cats = sorted(data[x].dropna().unique(), key=str)
        data[x] = data[x].map({c: i for i, c in enumerate(cats)})
        ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    grouped = list(data.groupby(groups, dropna=False, sort=True)) if groups else [((), data)]
    colors = _group_colors(len(grouped))
    for (key, part), color in zip(grouped, colors, strict=True):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{g}={_fmt(v)}" for g, v in zip(groups, key, strict=True)) or None
        stats = part.groupby(x, sort=True)[y].agg(["mean", "std", "count"])
        err = stats["std"].where(stats["count"] > 1)
        ax.errorbar(
            stats.index.to_numpy(dtype=float),
            stats["mean"].to_numpy(),
            yerr=None if err.isna().all() else err.fillna(0).to_numpy(),
            marker="o",
            ms=4,
            lw=1.5,
            capsize=3,
            color=color,
            label=label,
        )
        if (stats["count"] > 1).any():
            ax.plot(part[x], part[y], ".", color=color, alpha=0.35, ms=4)
    xs = data[x].to_numpy(dtype=float)
    xs = xs[np.isfinite(xs)]
    if numeric_x and xs.size and xs.min() > 0 and xs.max() / xs.min() >= 100:
        ax.set_xscale("log")
    elif numeric_x and 1 < len(np.unique(xs)) <= 8:  # tick exactly at the swept values
        ticks = np.unique(xs)
        ax.set_xticks(ticks, [_fmt(v) for v in ticks])
    ax.set_xlabel(_describe(x, units))
    ax.set_ylabel(_describe(y, units))
    ax.grid(True, alpha=0.3)
    if groups and len(grouped) <= 4:
        ax.legend(fontsize="small", loc="best")
    elif groups and len(grouped) <= 12:  # beside the axes, not over the data
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif groups:
        ax.text(
            0.01, 0.99, f"{len(grouped)} lines (one per {', '.join(groups)})",
            transform=ax.transAxes, va="top", fontsize="small",
        )  # fmt: skip


def _group_colors(n: int) -> list:
    import matplotlib

    if n <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _heatmap_panel(ax, fig, df: pd.DataFrame, x: str, y: str, obs: str, units) -> None:  # noqa: ANN001
    """Observable ``obs`` (mean over seeds) on the grid of the values of ``x`` and ``y``."""
    import matplotlib

    data = df[[x, y, obs]].copy()
    data[obs] = pd.to_numeric(data[obs], errors="coerce")
    xs, ys = _sorted_values(data[x]), _sorted_values(data[y])
    table = data.groupby([y, x])[obs].mean().unstack(x).reindex(index=ys, columns=xs)
    values = np.ma.masked_invalid(table.to_numpy(dtype=float))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    if values.count() == 0:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        image = None
    else:
        image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, interpolation="none")
        cbar = fig.colorbar(image, ax=ax)
        cbar.set_label(_describe(obs, units))
    _ticks(ax.set_xticks, xs)
    _ticks(ax.set_yticks, ys)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(_describe(x, units))
    ax.set_ylabel(_describe(y, units))
    if image is not None and len(xs) <= 12 and len(ys) <= 12:
        lo, hi = float(values.min()), float(values.max())
        for (i, j), v in np.ndenumerate(values.filled(np.nan)):
            if np.isfinite(v):
                bright = (v - lo) / (hi - lo) > 0.6 if hi > lo else False
                ax.text(
                    j, i, f"{v:.3g}", ha="center", va="center", fontsize="small",
                    color="black" if bright else "white",
                )  # fmt: skip


def _sorted_values(series: pd.Series) -> list:
    values = list(series.dropna().unique())
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def _ticks(setter, values: list) -> None:  # noqa: ANN001
    step = max(1, math.ceil(len(values) / 10))
    positions = list(range(0, len(values), step))
    setter(positions, [_fmt(values[i]) for i in positions])


def plot_summary(
    df: pd.DataFrame,
    swept_parameters: Sequence[str],
    observables: Sequence[str] | None,
    path: str | os.PathLike,
    *,
    units: Mapping[str, str] | None = None,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """PNG of final observables against the swept parameters, one row of panels each.

    * no swept parameter: the observable for each run (against the seed);
    * one swept parameter: a line (mean over seeds, error bar = std over seeds, faint dots
      = individual runs);
    * two: a heatmap over the parameter grid (mean over seeds, cells annotated, grey = no
      finite value) and lines against the first parameter, one per value of the second;
    * three or more: lines against each swept parameter, one per combination of the others.

    Args:
        df: table from :func:`summarize`.
        swept_parameters: columns of ``df`` that vary in the sweep.
        observables: columns to plot; None picks :func:`key_observables` (mean and length
            scale of every component).
        path: output PNG, written atomically.
        units: optional ``column -> unit`` strings added to axis labels.
        title: figure title (default: a description of the sweep).
        dpi: resolution of the PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    units = dict(units or {})
    swept = list(swept_parameters)
    missing = [c for c in swept if c not in df.columns]
    if missing:
        raise ValueError(f"swept parameters not in the table: {missing}")
    obs = list(observables) if observables is not None else key_observables(df.columns)
    obs = [o for o in obs if o in df.columns]
    if not obs:
        raise ValueError("no observables to plot (none of them is a column of the table)")

    n_cols = max(1, len(swept)) if len(swept) != 2 else 2
    fig = Figure(figsize=(5.6 * n_cols, 3.9 * len(obs) + 0.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(obs), n_cols, squeeze=False)
    table = df.reset_index(drop=True)
    for row, name in zip(axes, obs, strict=True):
        if not swept:
            x = "seed" if "seed" in table.columns else None
            data = table if x else table.assign(run=np.arange(len(table)))
            _line_panel(row[0], data, x or "run", name, [], units)
            row[0].set_title(_describe(name, units), fontweight="bold")
        elif len(swept) == 1:
            _line_panel(row[0], table, swept[0], name, [], units)
            row[0].set_title(f"{_describe(name, units)} vs {swept[0]}", fontweight="bold")
        elif len(swept) == 2:
            x, y = swept
            _heatmap_panel(row[0], fig, table, x, y, name, units)
            row[0].set_title(f"{_describe(name, units)} over ({x}, {y})", fontweight="bold")
            _line_panel(row[1], table, x, name, [y], units)
            row[1].set_title(f"{_describe(name, units)} vs {x}", fontweight="bold")
        else:
            for ax, x in zip(row, swept, strict=True):
                _line_panel(ax, table, x, name, [p for p in swept if p != x], units)
                ax.set_title(f"{_describe(name, units)} vs {x}", fontweight="bold")
    if title is None:
        seeds = table["seed"].nunique() if "seed" in table.columns else 1
        what = ", ".join(swept) if swept else "no swept parameter"
        title = (
            f"Final-frame observables: {len(table)} runs, sweep over {what}"
            f" ({seeds} seed{'s' if seeds != 1 else ''} per point; mean \u00b1 std)"
        )
    # wrap so that the title fits the figure (about 11 characters per inch at this size)
    width_chars = max(30, int(fig.get_figwidth() * 11))
    fig.suptitle(textwrap.fill(title, width_chars), fontsize="large")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def write_sweep_summary(
    points: Sequence[Mapping[str, Any]],
    swept_parameters: Sequence[str],
    csv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    title: str | None = None,
) -> pd.DataFrame:
    """Per-sweep table (one row per point: parameters, seed, final observables) and plot.

    ``points`` are mappings as :func:`summarize` takes them, e.g. with ``observables`` the
    path of the point's observables CSV. Both files are written atomically.
    """
    df = summarize(points)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, na_rep="NaN")
    plot_summary(df, list(swept_parameters), None, png_path, title=title)
    return df

"""Plots of per-sweep tables: final observables against the swept parameters."""

from __future__ import annotations

import math
import numbers
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..movie.atomic import atomic_path
from .observables import OBSERVABLE_LABELS

__all__ = ["KEY_SUFFIXES", "key_observables", "plot_phase_diagram", "plot_summary"]

#: observables plotted by default in the sweep summary
KEY_SUFFIXES = ("mean", "length_scale")


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
        _observable_row(fig, row, table, swept, name, units)
    # wrap so that the title fits the figure (about 11 characters per inch at this size)
    width_chars = max(30, int(fig.get_figwidth() * 11))
    title = _default_title(table, swept) if title is None else title
    fig.suptitle(textwrap.fill(title, width_chars), fontsize="large")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def _observable_row(fig, row, table: pd.DataFrame, swept: list[str], name: str, units) -> None:  # noqa: ANN001
    """The panels of one observable (see :func:`plot_summary` for the layouts)."""
    label = _describe(name, units)
    if not swept:
        x = "seed" if "seed" in table.columns else None
        data = table if x else table.assign(run=np.arange(len(table)))
        _line_panel(row[0], data, x or "run", name, [], units)
        row[0].set_title(label, fontweight="bold")
    elif len(swept) == 1:
        _line_panel(row[0], table, swept[0], name, [], units)
        row[0].set_title(f"{label} vs {swept[0]}", fontweight="bold")
    elif len(swept) == 2:
        x, y = swept
        _heatmap_panel(row[0], fig, table, x, y, name, units)
        row[0].set_title(f"{label} over ({x}, {y})", fontweight="bold")
        _line_panel(row[1], table, x, name, [y], units)
        row[1].set_title(f"{label} vs {x}", fontweight="bold")
    else:
        for ax, x in zip(row, swept, strict=True):
            _line_panel(ax, table, x, name, [p for p in swept if p != x], units)
            ax.set_title(f"{label} vs {x}", fontweight="bold")


def _default_title(table: pd.DataFrame, swept: list[str]) -> str:
    seeds = table["seed"].nunique() if "seed" in table.columns else 1
    what = ", ".join(swept) if swept else "no swept parameter"
    return (
        f"Final-frame observables: {len(table)} runs, sweep over {what}"
        f" ({seeds} seed{'s' if seeds != 1 else ''} per point; mean \u00b1 std)"
    )


def plot_phase_diagram(
    table: pd.DataFrame,
    x: str,
    y: str,
    path: str | os.PathLike,
    value: str | None = None,
    *,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """PNG heatmap of ``value`` (mean over repeated rows, e.g. seeds) over the ``(x, y)``
    parameter grid, cells annotated; ``value`` defaults to the last column of ``table``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    value = value or str(table.columns[-1])
    for column in (x, y, value):
        if column not in table.columns:
            raise ValueError(f"phase diagram: no column {column!r} in {list(table.columns)}")
    fig = Figure(figsize=(6.2, 4.8), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    _heatmap_panel(ax, fig, table, x, y, value, {})
    ax.set_title(title or f"{_describe(value, {})} over ({x}, {y})", fontweight="bold")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path

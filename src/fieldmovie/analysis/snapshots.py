"""A PNG of snapshots of a run: a few frames drawn with matplotlib, axes and colour bars."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..movie.atomic import atomic_path
from .observables import per_component
from .render import movie_color_range

__all__ = ["snapshot_indices", "write_movie_snapshots", "write_snapshots"]


def snapshot_indices(n_frames: int, count: int = 6) -> list[int]:
    """``count`` frame indices evenly spread over ``n_frames``, first and last included."""
    if n_frames <= 0 or count <= 0:
        return []
    if count == 1:
        return [n_frames - 1]
    picks = np.rint(np.linspace(0, n_frames - 1, min(count, n_frames))).astype(int)
    return sorted({int(i) for i in picks})


def write_snapshots(
    frames_by_index: Sequence[tuple[float, np.ndarray]],
    output_png: str | os.PathLike,
    *,
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    components: Sequence[str],
    cmap: str = "viridis",
    grid_length: float | Sequence[float] | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """PNG grid of snapshots: one row per frame, one column per component.

    2D fields are drawn as images (x right, y up) and 3D fields as their middle z-slice,
    each column with its own fixed colour range ``[vmin_c, vmax_c]`` and colour bar, so rows
    compare directly; 1D fields are drawn as line plots with the y range ``[vmin_c, vmax_c]``.
    Axes are in the units of ``grid_length`` (grid cells when None).

    Args:
        frames_by_index: the chosen ``(t, data)`` frames, e.g. those at
            :func:`snapshot_indices` of a reader.
        output_png: the PNG, written atomically.
        vmin, vmax, components, cmap: as for :func:`write_preview`.
        grid_length: physical side lengths of the grid.
        title: figure title.
        dpi: resolution of the PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frames = [(float(t), np.asarray(d)) for t, d in frames_by_index]
    if not frames:
        raise ValueError("write_snapshots: no frames")
    names = list(components)
    lows = per_component(vmin, len(names), "vmin")
    highs = per_component(vmax, len(names), "vmax")
    grid = frames[0][1].shape[1:]
    lengths = _lengths(grid, grid_length)
    aspect = lengths[1] / lengths[0] if len(grid) >= 2 else 0.45
    panel_w = 3.6
    panel_h = min(max(panel_w * aspect, 1.6), 6.0) + 0.5
    fig = Figure(
        figsize=(panel_w * len(names) + 0.4, panel_h * len(frames) + 0.6),
        dpi=dpi,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(frames), len(names), squeeze=False)
    for row, (t, data) in zip(axes, frames, strict=True):
        for c, ax in enumerate(row):
            _panel(fig, ax, data[c], lows[c], highs[c], lengths, cmap)
            where = f", z = {grid[2] // 2}" if len(grid) == 3 else ""
            ax.set_title(f"{names[c]}   t = {t:.6g}{where}", fontsize="medium")
    if title:
        fig.suptitle(title)
    output_png = Path(output_png)
    with atomic_path(output_png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return output_png


def _lengths(grid: tuple[int, ...], grid_length: float | Sequence[float] | None) -> tuple:
    if grid_length is None:
        return tuple(float(n) for n in grid)
    if isinstance(grid_length, numbers.Real):
        return (float(grid_length),) * len(grid)
    return tuple(float(v) for v in grid_length)


def _panel(fig, ax, field: np.ndarray, lo: float, hi: float, lengths: tuple, cmap: str) -> None:  # noqa: ANN001
    """One component of one frame: a line plot (1D) or an image (2D, 3D middle z-slice)."""
    import matplotlib

    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.5")
    finite = math.isfinite(lo) and math.isfinite(hi) and hi > lo
    if field.ndim == 1:
        x = (np.arange(field.shape[0]) + 0.5) * (lengths[0] / field.shape[0])
        ax.plot(x, field, lw=1.2, color=colormap(0.35))
        if finite:
            ax.set_ylim(lo, hi)
        ax.set_xlim(0, lengths[0])
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
        return
    sl = field if field.ndim == 2 else field[:, :, field.shape[2] // 2]
    image = ax.imshow(
        np.ma.masked_invalid(sl.T),
        origin="lower",
        extent=(0, lengths[0], 0, lengths[1]),
        cmap=colormap,
        vmin=lo if finite else None,
        vmax=hi if finite else None,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, shrink=0.9)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def write_movie_snapshots(
    reader: Any, output: str | os.PathLike, *, count: int = 6, cmap: str = "viridis"
) -> Path:
    """Snapshots of a :class:`~fieldmovie.movie.MovieReader`: ``count`` frames evenly spaced
    across the run, decoded by seeking (not the whole movie)."""
    indices = snapshot_indices(len(reader), count)
    info = reader.info
    lows, highs = movie_color_range(reader)
    return write_snapshots(
        list(zip(reader.times[indices], reader.read_frames(indices), strict=True)),
        output,
        vmin=lows,
        vmax=highs,
        components=reader.components,
        cmap=cmap,
        grid_length=reader.grid_length,
        title=f"{info.get('sweep', '')} {info.get('point', '')}".strip() or None,
    )

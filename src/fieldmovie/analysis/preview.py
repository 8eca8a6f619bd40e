"""A browser-playable H.264 preview movie of a run (colour-mapped, time and names drawn).

The stored FFV1 movies are exact but not viewable in a browser. :func:`write_preview`
colour-maps each frame (:func:`~fieldmovie.analysis.render.colormap_frame`), draws the time
and component names with Pillow and streams the pictures into :func:`encode_h264` (libx264,
yuv420p, mp4 with ``+faststart``: plays in every browser). Snapshots (a PNG) are in
:mod:`fieldmovie.analysis.snapshots`; their names are re-exported here.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..movie.atomic import atomic_path
from ..movie.backends import Backend
from ..movie.backends import encode_h264 as backend_encode_h264
from .observables import per_component
from .render import GAP, colormap_frame, draw_text, render_text, text_height, text_width
from .snapshots import snapshot_indices, write_movie_snapshots, write_snapshots

__all__ = [
    "GAP",
    "colormap_frame",
    "encode_h264",
    "render_text",
    "snapshot_indices",
    "write_movie_snapshots",
    "write_preview",
    "write_snapshots",
]

#: the preview is upscaled (nearest neighbour, integer factor) to at least this height
MIN_PREVIEW_HEIGHT = 256
#: ... as long as the preview stays at most this wide
MAX_UPSCALED_WIDTH = 1280
#: grids wider than this (all components side by side) are decimated by an integer stride
MAX_PREVIEW_WIDTH = 1920


def encode_h264(
    pictures: Iterable[np.ndarray],
    path: str | os.PathLike,
    *,
    fps: float,
    threads: int | None = None,
    crf: int = 20,
    preset: str = "medium",
    backend: str | Backend | None = None,
) -> int:
    """Encode rgb24 pictures ``(h, w, 3)`` uint8 (even h and w) as an H.264 mp4 at ``path``.

    yuv420p, BT.709 limited range, ``+faststart``, through the FFmpeg backend seam
    (:func:`fieldmovie.movie.backends.encode_h264`; ``backend`` as for ``MovieWriter``).
    ``path`` is written as given (callers write to a temporary name and rename). Returns
    the number of pictures encoded.

    Raises:
        ValueError: no pictures, or pictures of different shapes.
        FFmpegError: FFmpeg is missing or failed (what it said is attached).
    """
    return backend_encode_h264(
        path, pictures, fps=fps, threads=int(threads or 0), crf=crf, preset=preset,
        backend=backend,
    )  # fmt: skip


@dataclass
class _Layout:
    """Geometry of the preview pictures, fixed by the first frame."""

    frame_shape: tuple[int, ...]
    sub: tuple[slice, ...]  #: decimation of the grid
    scale: int
    body: tuple[int, int]  #: height, width of the colour-mapped components
    header_h: int
    line_h: int
    font: int  #: text size in px
    size: tuple[int, int]  #: height, width of the whole (even) picture
    name_row: np.ndarray  #: the component names, drawn once


def _decimation(shape: tuple[int, ...], n_components: int) -> int:
    """Stride that makes the picture of a frame at most ``MAX_PREVIEW_WIDTH`` wide."""
    width = shape[0] * n_components + GAP * (n_components - 1)
    return max(1, math.ceil(width / MAX_PREVIEW_WIDTH))


def _auto_scale(pic_h: int, pic_w: int, n_components: int) -> int:
    """Integer magnification to reach ``MIN_PREVIEW_HEIGHT`` within ``MAX_UPSCALED_WIDTH``."""
    scale = max(1, math.ceil(MIN_PREVIEW_HEIGHT / pic_h))
    fit = (MAX_UPSCALED_WIDTH - GAP * (n_components - 1)) // max(pic_w * n_components, 1)
    return max(1, min(scale, fit))


def _format_time(t: float) -> str:
    return f"t = {t:.6g}"


def _layout(first: np.ndarray, names: list[str], scale: int | None, labels: bool) -> _Layout:
    n = len(names)
    stride = _decimation(first.shape[1:], n)
    sub = (slice(None),) + (slice(None, None, stride),) * (first.ndim - 1)
    probe = colormap_frame(first[sub], 0.0, 1.0)
    pic_h, pic_w = probe.shape[0], (probe.shape[1] - GAP * (n - 1)) // n
    scale = int(scale) if scale is not None else _auto_scale(pic_h, pic_w, n)
    body_h, body_w = pic_h * scale, n * pic_w * scale + (n - 1) * GAP
    font = max(10, min(16, body_h // 24))  # the text grows with the picture
    line_h = text_height(font) + 4
    header_h = 2 * line_h if labels else 0
    width = max(body_w, text_width(_format_time(-1.23456e-10), font) + 8) if labels else body_w
    height = header_h + body_h
    height, width = height + height % 2, width + width % 2
    name_row = np.zeros((line_h if labels else 0, width, 3), dtype=np.uint8)
    if labels:
        panel_w = pic_w * scale
        for c, name in enumerate(names):
            text = name
            while len(text) > 1 and text_width(text, font) > panel_w:  # shorten to fit
                text = text[:-2] + "."
            x = c * (panel_w + GAP) + max(0, (panel_w - text_width(text, font)) // 2)
            draw_text(name_row, text, x, 2, font)
    return _Layout(
        first.shape, sub, scale, (body_h, body_w), header_h, line_h, font, (height, width),
        name_row,
    )  # fmt: skip


def _pictures(
    frames: Iterator[tuple[float, np.ndarray]],
    layout: _Layout,
    lows: list[float],
    highs: list[float],
    cmap: str,
) -> Iterator[np.ndarray]:
    """The rgb24 preview picture of every frame (one canvas, refilled)."""
    canvas = np.zeros((*layout.size, 3), dtype=np.uint8)
    top, (body_h, body_w) = layout.header_h, layout.body
    for t, data in frames:
        data = np.asarray(data)
        if data.shape != layout.frame_shape:
            expected = layout.frame_shape
            raise ValueError(f"frame at t={t} has shape {data.shape}, expected {expected}")
        canvas.fill(0)
        canvas[top : top + body_h, :body_w] = colormap_frame(
            data[layout.sub], lows, highs, cmap, scale=layout.scale
        )
        if top:
            draw_text(canvas, _format_time(float(t)), 4, 2, layout.font)
            canvas[layout.line_h : top] = layout.name_row
        yield canvas


def _first_frame(iterator: Iterator, n_components: int) -> tuple[float, np.ndarray]:
    try:
        t0, first = next(iterator)
    except StopIteration:
        raise ValueError("write_preview: no frames to encode") from None
    first = np.asarray(first)
    if first.ndim < 2 or first.shape[0] != n_components:
        raise ValueError(
            f"frame of shape {first.shape} does not match {n_components} components "
            "(expected (n_components, *grid_shape))"
        )
    return t0, first


def write_preview(
    frames: Iterable[tuple[float, np.ndarray]],
    output: str | os.PathLike,
    *,
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    components: Sequence[str],
    cmap: str = "viridis",
    fps: float = 10,
    scale: int | None = None,
    crf: int = 20,
    preset: str = "medium",
    labels: bool = True,
    threads: int | None = None,
    backend: str | Backend | None = None,
) -> int:
    """Encode frames as a browser-playable H.264 mp4 preview.

    Each frame is colour-mapped (each component in its own ``[vmin, vmax]``), magnified with
    nearest neighbour to at least ``MIN_PREVIEW_HEIGHT`` px as long as it stays
    ``MAX_UPSCALED_WIDTH`` wide (grids wider than ``MAX_PREVIEW_WIDTH`` are decimated by an
    integer stride instead), given a header with the time and the component names, padded
    to even width and height and encoded by :func:`encode_h264`. Frames are streamed: one
    is in memory at a time.

    Args:
        frames: iterable of ``(t, data)``, data of shape ``(n_components, *grid_shape)``.
        output: the mp4 file; written under a temporary name in the same folder and renamed
            when FFmpeg succeeded, so it never exists half-written.
        vmin, vmax: colour range of each component.
        components: component names (drawn above each component when ``labels``).
        cmap: matplotlib colormap name.
        fps: frames per second of the preview.
        scale: integer magnification; None chooses it (see above).
        crf, preset: libx264 quality and speed settings.
        labels: draw the time and the component names.
        threads: encoder threads (None: FFmpeg's choice).
        backend: the FFmpeg backend that encodes (see :class:`~fieldmovie.MovieWriter`).

    Returns:
        The number of frames written.

    Raises:
        ValueError: no frames, or frames of different shapes.
        FFmpegError: FFmpeg is missing or failed (its stderr is attached).
    """
    names = list(components)
    iterator = iter(frames)
    try:
        t0, first = _first_frame(iterator, len(names))
        lows = per_component(vmin, len(names), "vmin")
        highs = per_component(vmax, len(names), "vmax")
        layout = _layout(first, names, scale, labels)
        frames_again = itertools.chain([(t0, first)], iterator)
        with atomic_path(output) as tmp:
            return encode_h264(
                _pictures(frames_again, layout, lows, highs, cmap),
                tmp, fps=fps, threads=threads, crf=crf, preset=preset, backend=backend,
            )  # fmt: skip
    finally:
        # a generator (e.g. a MovieReader stream) must end now, not at garbage collection,
        # so that its FFmpeg process is reaped even when we stop early
        close = getattr(iterator, "close", None)
        if close is not None:
            close()

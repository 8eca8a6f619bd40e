"""Human-viewable renderings of a run: an H.264 preview movie and a PNG of snapshots.

The stored FFV1 movies are exact but not viewable in a browser. :func:`write_preview`
colour-maps each frame (:func:`colormap_frame`), stamps the time and component names with a
built-in 5x7 bitmap font and streams the pictures into FFmpeg's ``libx264`` (yuv420p, mp4
with ``+faststart``: plays in every browser). :func:`write_snapshots` draws a few frames
with matplotlib, with axes and colour bars.

Layout of a component picture:

* 2D field ``(nx, ny)``: x to the right, y up (picture row ``r`` is y index ``ny-1-r``);
* 3D field ``(nx, ny, nz)``: the middle z-slice ``nz // 2``, drawn like a 2D field;
* 1D field ``(nx,)``: a strip ``max(16, nx // 8)`` px high, x to the right.

Components are placed side by side, separated by a gap of a few pixels, each with its own
colour range ``[vmin_c, vmax_c]``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..movie._ffmpeg import FFmpegError, ffmpeg_executable, open_process
from ..movie.atomic import atomic_path
from .observables import _per_component

__all__ = [
    "colormap_frame",
    "render_text",
    "snapshot_indices",
    "write_preview",
    "write_snapshots",
]

#: the preview is upscaled (nearest neighbour, integer factor) to at least this height
MIN_PREVIEW_HEIGHT = 256
#: ... as long as the preview stays at most this wide
MAX_UPSCALED_WIDTH = 1280
#: grids wider than this (all components side by side) are decimated by an integer stride
MAX_PREVIEW_WIDTH = 1920
#: pixels between the components
GAP = 4

# -- bitmap font ---------------------------------------------------------------------------
# 5x7 glyphs, one string of 7 rows per character; '#' = ink.
_GLYPHS: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "a": "..... ..... .###. ....# .#### #...# .####",
    "b": "#.... #.... #.##. ##..# #...# #...# ####.",
    "c": "..... ..... .###. #.... #.... #...# .###.",
    "d": "....# ....# .##.# #..## #...# #...# .####",
    "e": "..... ..... .###. #...# ##### #.... .###.",
    "f": "..##. .#..# .#... ###.. .#... .#... .#...",
    "g": "..... ..... .#### #...# .#### ....# .###.",
    "h": "#.... #.... #.##. ##..# #...# #...# #...#",
    "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
    "j": "...#. ..... ..##. ...#. ...#. #..#. .##..",
    "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
    "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "m": "..... ..... ##.#. #.#.# #.#.# #...# #...#",
    "n": "..... ..... #.##. ##..# #...# #...# #...#",
    "o": "..... ..... .###. #...# #...# #...# .###.",
    "p": "..... ..... ####. #...# ####. #.... #....",
    "q": "..... ..... .##.# #..## .#### ....# ....#",
    "r": "..... ..... #.##. ##..# #.... #.... #....",
    "s": "..... ..... .###. #.... .###. ....# ####.",
    "t": ".#... .#... ###.. .#... .#... .#..# ..##.",
    "u": "..... ..... #...# #...# #...# #..## .##.#",
    "v": "..... ..... #...# #...# #...# .#.#. ..#..",
    "w": "..... ..... #...# #...# #.#.# #.#.# .#.#.",
    "x": "..... ..... #...# .#.#. ..#.. .#.#. #...#",
    "y": "..... ..... #...# #...# .#### ....# .###.",
    "z": "..... ..... ##### ...#. ..#.. .#... #####",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "=": "..... ..... ##### ..... ##### ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "|": "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
}
GLYPH_WIDTH, GLYPH_HEIGHT = 5, 7


@cache
def _glyph(char: str) -> np.ndarray:
    rows = _GLYPHS.get(char, _GLYPHS["?"]).split()
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def render_text(text: str, scale: int = 1) -> np.ndarray:
    """Boolean mask of ``text`` in the built-in 5x7 font, ``7*scale`` px high.

    Characters are 6 px apart (1 px spacing) before scaling; characters without a glyph are
    drawn as ``?``.
    """
    n = len(text)
    mask = np.zeros((GLYPH_HEIGHT, max(n * (GLYPH_WIDTH + 1) - 1, 0)), dtype=bool)
    for i, char in enumerate(text):
        x0 = i * (GLYPH_WIDTH + 1)
        mask[:, x0 : x0 + GLYPH_WIDTH] = _glyph(char)
    if scale > 1:
        mask = mask.repeat(scale, axis=0).repeat(scale, axis=1)
    return mask


def _draw_text(
    image: np.ndarray, text: str, x: int, y: int, scale: int, color: Sequence[int] = (255,) * 3
) -> None:
    """Paint ``text`` into ``image`` (H, W, 3) with its top-left corner at ``(x, y)``; clipped."""
    mask = render_text(text, scale)
    h, w = image.shape[:2]
    mh, mw = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + mw, w), min(y + mh, h)
    if x1 <= x0 or y1 <= y0:
        return
    region = image[y0:y1, x0:x1]
    region[mask[y0 - y : y1 - y, x0 - x : x1 - x]] = color


# -- colour mapping ------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _lut(cmap: str) -> np.ndarray:
    """257 x 3 uint8 table: 256 colours of ``cmap`` and, last, grey for NaN."""
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(
            f"unknown colormap {cmap!r}; use a matplotlib colormap name such as 'viridis', "
            "'magma', 'RdBu_r'"
        ) from None
    colors = colormap(np.linspace(0.0, 1.0, 256))[:, :3]
    table = np.empty((257, 3), dtype=np.uint8)
    table[:256] = np.rint(colors * 255)
    table[256] = 128
    table.flags.writeable = False
    return table


def _picture(field: np.ndarray) -> np.ndarray:
    """The 2D picture (rows, columns) shown for one component (see the module docstring)."""
    if field.ndim == 1:
        return np.broadcast_to(field, (max(16, field.shape[0] // 8), field.shape[0]))
    if field.ndim == 2:
        return field.T[::-1]
    if field.ndim == 3:
        return field[:, :, field.shape[2] // 2].T[::-1]
    raise ValueError(f"field of shape {field.shape}: expected 1 to 3 axes")


def _colorize(picture: np.ndarray, lo: float, hi: float, lut: np.ndarray) -> np.ndarray:
    """Map values to ``lut`` colours with ``[lo, hi]`` spanning the table; mid colour when
    the range is degenerate, grey for NaN. Never warns."""
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        return np.broadcast_to(lut[128], picture.shape + (3,))
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = (np.asarray(picture, dtype=np.float64) - lo) * (255.0 / (hi - lo))
        np.clip(scaled, 0.0, 255.0, out=scaled)
        np.rint(scaled, out=scaled)
    index = np.where(np.isnan(scaled), 256.0, scaled).astype(np.intp)
    return lut[index]


def colormap_frame(
    data: np.ndarray,
    vmin: float | Sequence[float],
    vmax: float | Sequence[float],
    cmap: str = "viridis",
    *,
    scale: int = 1,
    gap: int = GAP,
    background: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Colour-map one frame ``(n_components, *grid_shape)`` into a uint8 RGB picture.

    Args:
        data: the frame; grids of 1 to 3 axes (see the module docstring for the layout).
        vmin, vmax: colour range of each component (one value for all is accepted).
            A degenerate (``vmin >= vmax``) or non-finite range paints the mid colour;
            NaN values are grey.
        cmap: matplotlib colormap name.
        scale: integer nearest-neighbour magnification of each component picture.
        gap: pixels of ``background`` between components (not scaled).
        background: RGB colour of the gaps.

    Returns:
        Array ``(height, width, 3)`` of uint8.
    """
    arr = np.asarray(data)
    if arr.ndim < 2:
        raise ValueError(f"frame of shape {arr.shape}: expected (n_components, *grid_shape)")
    n = arr.shape[0]
    lows = _per_component(vmin, n, "vmin")
    highs = _per_component(vmax, n, "vmax")
    lut = _lut(cmap)
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    pictures = [_picture(arr[c]) for c in range(n)]
    h, w = pictures[0].shape
    out = np.empty((h * scale, n * w * scale + (n - 1) * gap, 3), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    for c, (pic, lo, hi) in enumerate(zip(pictures, lows, highs, strict=True)):
        rgb = _colorize(pic, lo, hi, lut)
        if scale > 1:
            rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
        x0 = c * (w * scale + gap)
        out[:, x0 : x0 + w * scale] = rgb
    return out


# -- preview movie -------------------------------------------------------------------------
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
) -> int:
    """Encode frames as a browser-playable H.264 mp4 preview.

    Each frame is colour-mapped with :func:`colormap_frame` (each component in its own
    ``[vmin, vmax]``), magnified with nearest neighbour to at least ``MIN_PREVIEW_HEIGHT``
    px as long as it stays ``MAX_UPSCALED_WIDTH`` wide (grids wider than
    ``MAX_PREVIEW_WIDTH`` are decimated by an integer stride instead), given a
    header with the time and the component names, padded to even width and height and piped
    into ``ffmpeg -c:v libx264 -pix_fmt yuv420p -movflags +faststart`` (BT.709, limited
    range). Frames are streamed: one is in memory at a time.

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

    Returns:
        The number of frames written.

    Raises:
        ValueError: no frames, or frames of different shapes.
        FFmpegError: FFmpeg is missing or failed (its stderr is attached).
    """
    names = list(components)
    iterator = iter(frames)
    try:
        try:
            t0, first = next(iterator)
        except StopIteration:
            raise ValueError("write_preview: no frames to encode") from None
        first = np.asarray(first)
        if first.ndim < 2 or first.shape[0] != len(names):
            raise ValueError(
                f"frame of shape {first.shape} does not match {len(names)} components "
                "(expected (n_components, *grid_shape))"
            )
        frame_shape = first.shape
        n_comp = len(names)
        lows = _per_component(vmin, n_comp, "vmin")
        highs = _per_component(vmax, n_comp, "vmax")
        stride = _decimation(frame_shape[1:], n_comp)
        sub = (slice(None),) + (slice(None, None, stride),) * (first.ndim - 1)
        probe = colormap_frame(first[sub], lows, highs, cmap)
        pic_h = probe.shape[0]
        pic_w = (probe.shape[1] - GAP * (n_comp - 1)) // n_comp
        if scale is None:
            scale = _auto_scale(pic_h, pic_w, n_comp)
        scale = int(scale)
        body = colormap_frame(first[sub], lows, highs, cmap, scale=scale)
        body_h, body_w = body.shape[:2]

        # header: the time, then the component names; the font grows with the picture
        font = max(2, min(3, body_h // 128))
        line_h = (GLYPH_HEIGHT + 3) * font + 2
        header_h = 2 * line_h if labels else 0
        height = header_h + body_h
        width = max(body_w, len(_format_time(-1.23456e-10)) * 6 * font + 8) if labels else body_w
        height += height % 2
        width += width % 2
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        name_row = np.zeros((line_h if labels else 0, width, 3), dtype=np.uint8)
        if labels:  # drawn once: the names do not change
            panel_w = pic_w * scale
            for c, name in enumerate(names):
                fit = max(1, (panel_w + 1) // (6 * font))
                text = name if len(name) <= fit else name[: max(fit - 1, 1)] + "."
                text_w = len(text) * 6 * font - font
                x = c * (panel_w + GAP) + max(0, (panel_w - text_w) // 2)
                _draw_text(name_row, text, x, (line_h - GLYPH_HEIGHT * font) // 2, font)

        def picture(t: float, data: np.ndarray) -> bytes:
            data = np.asarray(data)
            if data.shape != frame_shape:
                raise ValueError(f"frame at t={t} has shape {data.shape}, expected {frame_shape}")
            canvas.fill(0)
            canvas[header_h : header_h + body_h, :body_w] = colormap_frame(
                data[sub], lows, highs, cmap, scale=scale
            )
            if labels:
                top = (line_h - GLYPH_HEIGHT * font) // 2
                _draw_text(canvas, _format_time(float(t)), 4, top, font)
                canvas[line_h:header_h] = name_row
            return canvas.tobytes()

        args = [
            ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-framerate", f"{fps:g}", "-i", "pipe:0",
            "-an", "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-color_range", "tv", "-movflags", "+faststart", "-f", "mp4",
        ]  # fmt: skip
        count = 0
        with atomic_path(output) as tmp:
            with open_process([*args, str(tmp)], stdin=True) as proc:
                broken = False
                try:
                    proc.stdin.write(picture(t0, first))
                    count = 1
                    for t, data in iterator:
                        frame = picture(t, data)
                        proc.stdin.write(frame)
                        count += 1
                except BrokenPipeError:
                    broken = True
                code = proc.wait()
                if code != 0 or broken:
                    raise FFmpegError(
                        f"ffmpeg failed writing the preview {output} (exit status {code}"
                        f"{', stopped reading its input' if broken else ''})",
                        proc.stderr,
                    )
        return count
    finally:
        # a generator (e.g. a MovieReader stream) must end now, not at garbage collection,
        # so that its FFmpeg process is reaped even when we stop early
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


# -- snapshots -----------------------------------------------------------------------------
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
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frames = [(float(t), np.asarray(d)) for t, d in frames_by_index]
    if not frames:
        raise ValueError("write_snapshots: no frames")
    names = list(components)
    n_comp = len(names)
    lows = _per_component(vmin, n_comp, "vmin")
    highs = _per_component(vmax, n_comp, "vmax")
    grid = frames[0][1].shape[1:]
    ndim = len(grid)
    if grid_length is None:
        lengths = tuple(float(n) for n in grid)
    elif isinstance(grid_length, numbers.Real):
        lengths = (float(grid_length),) * ndim
    else:
        lengths = tuple(float(v) for v in grid_length)
    aspect = lengths[1] / lengths[0] if ndim >= 2 else 0.45
    panel_w = 3.6
    panel_h = min(max(panel_w * aspect, 1.6), 6.0) + 0.5
    fig = Figure(
        figsize=(panel_w * n_comp + 0.4, panel_h * len(frames) + 0.6),
        dpi=dpi,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(frames), n_comp, squeeze=False)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.5")
    for row, (t, data) in zip(axes, frames, strict=True):
        for c, ax in enumerate(row):
            lo, hi = lows[c], highs[c]
            finite = math.isfinite(lo) and math.isfinite(hi) and hi > lo
            field = data[c]
            if ndim == 1:
                x = (np.arange(grid[0]) + 0.5) * (lengths[0] / grid[0])
                ax.plot(x, field, lw=1.2, color=colormap(0.35))
                if finite:
                    ax.set_ylim(lo, hi)
                ax.set_xlim(0, lengths[0])
                ax.set_xlabel("x")
                ax.grid(True, alpha=0.3)
            else:
                sl = field if ndim == 2 else field[:, :, field.shape[2] // 2]
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
            where = f", z = {grid[2] // 2}" if ndim == 3 else ""
            ax.set_title(f"{names[c]}   t = {t:.6g}{where}", fontsize="medium")
    if title:
        fig.suptitle(title)
    output_png = Path(output_png)
    with atomic_path(output_png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return output_png


def write_movie_snapshots(
    reader: Any, output: str | os.PathLike, *, count: int = 6, cmap: str = "viridis"
) -> Path:
    """Snapshots of a :class:`~fieldmovie.movie.MovieReader`: ``count`` frames evenly spaced
    across the run, decoded by seeking (not the whole movie)."""
    indices = snapshot_indices(len(reader), count)
    info = reader.info
    return write_snapshots(
        list(zip(reader.times[indices], reader.read_frames(indices), strict=True)),
        output,
        vmin=reader.vmin,
        vmax=reader.vmax,
        components=reader.components,
        cmap=cmap,
        grid_length=reader.grid_length,
        title=f"{info.get('sweep', '')} {info.get('point', '')}".strip() or None,
    )

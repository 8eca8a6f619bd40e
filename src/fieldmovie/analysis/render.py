"""Pictures of frames: colour ranges, colour mapping and text (drawn with Pillow).

Layout of a component picture:

* 2D field ``(nx, ny)``: x to the right, y up (picture row ``r`` is y index ``ny-1-r``);
* 3D field ``(nx, ny, nz)``: the middle z-slice ``nz // 2``, drawn like a 2D field;
* 1D field ``(nx,)``: a strip ``max(16, nx // 8)`` px high, x to the right.

Components are placed side by side, separated by a gap of a few pixels, each with its own
colour range ``[vmin_c, vmax_c]`` (:func:`movie_color_range`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .observables import per_component

__all__ = [
    "GAP",
    "colormap_frame",
    "draw_text",
    "movie_color_range",
    "render_text",
    "text_font",
]

#: pixels between the components
GAP = 4


def movie_color_range(reader: Any) -> tuple[list[float], list[float]]:
    """The colour range ``(lows, highs)`` of each component over a whole movie.

    Previews and snapshots use one range per component for all frames so that frames
    compare directly; it is the envelope ``[vmin, vmax]`` the movie records (the fixed range, or
    the min and max over all frames of an ``auto`` component). This is the one
    place that chooses it.
    """
    return list(reader.vmin), list(reader.vmax)


# -- text ----------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def text_font(size: int) -> Any:
    """Pillow's default font at ``size`` px (FreeType when available, else its bitmap)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def text_height(size: int) -> int:
    """Height in px of one line of text at ``size`` (ascent + descent)."""
    font = text_font(size)
    if hasattr(font, "getmetrics"):
        ascent, descent = font.getmetrics()
        return int(ascent + descent)
    return size  # pragma: no cover - bitmap fallback


def text_width(text: str, size: int) -> int:
    """Width in px of ``text`` at ``size``."""
    return math.ceil(text_font(size).getlength(text))


def render_text(text: str, size: int = 10) -> np.ndarray:
    """Boolean mask ``(text_height(size), text_width(text, size))`` of ``text``."""
    from PIL import Image, ImageDraw

    width = max(text_width(text, size), 1)
    image = Image.new("L", (width, text_height(size)), 0)
    ImageDraw.Draw(image).text((0, 0), text, fill=255, font=text_font(size))
    return np.asarray(image) >= 128


def draw_text(
    image: np.ndarray, text: str, x: int, y: int, size: int, color: Sequence[int] = (255,) * 3
) -> None:
    """Paint ``text`` into ``image`` (H, W, 3) with its top-left corner at ``(x, y)``; clipped."""
    mask = render_text(text, size)
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
    lows = per_component(vmin, n, "vmin")
    highs = per_component(vmax, n, "vmax")
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

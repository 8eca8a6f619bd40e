"""Quantization of float fields into gray pixels and the picture layout of a frame.

Everything here is pure numpy: no files, no processes. See ``docs/format.md``.

Layout (the raw video looks like the field):

* 1D grid ``(nx,)``: width ``nx``, height ``n_components``; row ``c`` is component ``c``.
* 2D grid ``(nx, ny)``: width ``nx``, height ``n_components * ny``; component ``c`` fills rows
  ``c*ny .. (c+1)*ny-1``; inside a block column ``i`` is x index ``i`` and row ``r`` is
  y index ``ny-1-r`` (y points up).
* 3D grid ``(nx, ny, nz)``: width ``nx``, height ``n_components * nz * ny``; the z-slices of
  component ``c`` are stacked top to bottom (block ``c*nz + k`` holds z index ``k``), each
  block laid out like a 2D field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "BIT_DEPTHS",
    "PIXEL_FORMATS",
    "dequantize",
    "encoder_settings",
    "frame_size",
    "from_picture",
    "pad_picture",
    "stored_size",
    "unpad_picture",
    "quantize",
    "to_picture",
]

#: pixel format of the single gray plane for each supported bit depth
PIXEL_FORMATS: dict[int, str] = {8: "gray", 10: "gray10le", 12: "gray12le", 16: "gray16le"}
BIT_DEPTHS = tuple(PIXEL_FORMATS)


def pixel_dtype(bits: int) -> np.dtype:
    """numpy dtype of one pixel as FFmpeg's raw video carries it."""
    return np.dtype(np.uint8) if bits == 8 else np.dtype("<u2")


def frame_size(grid_shape: Sequence[int], n_components: int) -> tuple[int, int]:
    """(width, height) of the picture holding one frame."""
    if len(grid_shape) == 1:
        return grid_shape[0], n_components
    if len(grid_shape) == 2:
        return grid_shape[0], n_components * grid_shape[1]
    if len(grid_shape) == 3:
        return grid_shape[0], n_components * grid_shape[2] * grid_shape[1]
    raise ValueError(f"grid_shape {tuple(grid_shape)} has {len(grid_shape)} axes; allowed: 1-3")


def stored_size(grid_shape: Sequence[int], n_components: int) -> tuple[int, int]:
    """(width, height) of the picture as stored: :func:`frame_size`, 1 px sides doubled.

    FFV1 at level 3 cannot code slices 1 px high or wide (FFmpeg 5.1 silently decodes
    zeros), and level 1 has no slice CRC. So a picture 1 px high (one 1D component) or wide
    (a grid of size 1 along x) is stored with that row or column twice: it stays
    CRC-protected, and the copy is compared on reading.
    """
    width, height = frame_size(grid_shape, n_components)
    return max(width, 2), max(height, 2)


def pad_picture(picture: np.ndarray) -> np.ndarray:
    """The stored picture: a 1 px high or wide picture with its row/column repeated."""
    if picture.shape[0] == 1:
        picture = np.repeat(picture, 2, axis=0)
    if picture.shape[1] == 1:
        picture = np.repeat(picture, 2, axis=1)
    return picture


def unpad_picture(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`pad_picture`; ValueError when a repeated row/column differs."""
    if picture.shape == (height, width):
        return picture
    if height == 1 and not np.array_equal(picture[0], picture[1]):
        raise ValueError("the repeated row of a 1 px high picture differs: damaged data")
    if width == 1 and not np.array_equal(picture[:, 0], picture[:, 1]):
        raise ValueError("the repeated column of a 1 px wide picture differs: damaged data")
    return picture[:height, :width]


#: FFmpeg refuses pictures with ``(width + 128) * (height + 128) >= INT_MAX / 8``
#: (``av_image_check_size``), whichever codec and container
MAX_PICTURE_AREA = (2**31 - 1) // 8
#: FFV1's encoder refuses a slice whose ``width * height * (bits + 1)`` exceeds this
#: (``8 << 24`` in ffv1enc.c, per plane; our pictures have one)
MAX_SLICE_COST = 8 << 24
#: a slice's coded size is a 24-bit field: ffv1enc asserts ``bytes < 1 << 24``
MAX_SLICE_BYTES = 1 << 24
#: worst coded bytes per pixel over ``(bits + 1) / 8``: measured 1.07 for uniform random
#: 16-bit pixels (FFmpeg 8), with a margin
WORST_EXPANSION = 1.25
#: slice counts FFmpeg 5.1 and 8 both accept (``h * v`` with ``v <= h < 2v``), fewest first
SLICE_COUNTS = sorted({h * v for v in range(2, 32) for h in range(v, 2 * v) if h * v <= 256})


def picture_problem(width: int, height: int) -> str | None:
    """Why FFmpeg cannot store a picture of this size at all, or None."""
    if (width + 128) * (height + 128) >= MAX_PICTURE_AREA:
        return (
            f"a {width}x{height} picture is larger than FFmpeg allows: it needs "
            f"(width + 128) * (height + 128) < {MAX_PICTURE_AREA} (av_image_check_size)"
        )
    return None


def encoder_settings(width: int, height: int, bits: int = 16) -> dict[str, int]:
    """FFV1 settings that round-trip a stored picture of this size exactly.

    FFmpeg 5.1 refuses ``-slices 4`` below 3 px on a side and, at ``-level 3``, silently
    decodes zeros for slices only 1 px high or wide. So: 4 slices (CRC-protected,
    threaded) from 3x3 up and a single CRC-protected slice at 2 px (level 1 for 2 px thin
    pictures beyond 352x288, where FFmpeg refuses one slice at level 3); large pictures get
    the fewest slices (6, 9, 12, ...) that FFV1's per-slice size limit allows
    (:data:`MAX_SLICE_COST`). Stored pictures are at least 2x2 (:func:`stored_size`);
    level 1 (no slice CRC) is left for 1 px pictures that only a user's own layout could
    produce. A picture that no count fits keeps 4 slices, and :func:`settings_problem`
    says why.
    """
    side = min(width, height)
    if side >= 3:
        for slices in SLICE_COUNTS:
            settings = {"level": 3, "slices": slices, "slicecrc": 1}
            if settings_problem(width, height, settings, bits) is None:
                return settings
        return {"level": 3, "slices": 4, "slicecrc": 1}
    if side == 2 and not _single_slice_refused(width, height):
        return {"level": 3, "slices": 1, "slicecrc": 1}
    # level 1: one slice without CRC (damage is caught by the frame digests of format 2)
    return {"level": 1}


def _single_slice_refused(width: int, height: int) -> bool:
    """FFmpeg's slice search at level 3 starts at 2 rows of slices for pictures wider than
    352 or higher than 288 px: ``slices=1`` is refused ("Unsupported number 1 of slices")."""
    return width > 352 or height > 288


def _fits(width: int, height: int, h: int, v: int, bits: int) -> bool:
    """FFmpeg's test of one slice grid (at most one slice per pixel, slices small enough),
    and our own: even incompressible pixels code to less than :data:`MAX_SLICE_BYTES`."""
    if h > width or v > height:
        return False
    pixels = -(-width // h) * -(-height // v)
    worst_bytes = pixels * (bits + 1) / 8 * WORST_EXPANSION
    return pixels * (bits + 1) <= MAX_SLICE_COST and worst_bytes < MAX_SLICE_BYTES


def _max_slice_pixels(bits: int) -> int:
    """The most pixels one slice may hold (:func:`_fits`)."""
    by_bytes = int(MAX_SLICE_BYTES * 8 / ((bits + 1) * WORST_EXPANSION))
    return min(MAX_SLICE_COST // (bits + 1), by_bytes)


def slice_grid(width: int, height: int, slices: int, bits: int = 16) -> tuple[int, int] | None:
    """(horizontal, vertical) slice counts FFmpeg's FFV1 encoder picks for ``slices``.

    Follows the search in ffv1enc.c: vertical counts ``v`` from 1 to 31, horizontal ``h``
    from ``v`` to ``2v - 1`` (FFmpeg 8 also tries ``h = 2v``), the first grid with
    ``h * v == slices`` that :func:`_fits`. None when there is none, or when FFmpeg 5.1
    and 8 would choose differently.
    """
    found = []
    for last in (0, 1):  # FFmpeg 5.1: h < 2v; FFmpeg 8: h <= 2v
        grid = next(
            (
                (h, v)
                for v in range(1, 32)
                for h in range(v, 2 * v + last)
                if h * v == slices and _fits(width, height, h, v, bits)
            ),
            None,
        )
        found.append(grid)
    return found[0] if found[0] == found[1] else None


def settings_problem(
    width: int, height: int, settings: dict[str, int], bits: int = 16
) -> str | None:
    """Why FFV1 settings would not round-trip a picture of this size, or None.

    At level 3, FFmpeg 5.1 decodes zeros for slices 1 px high or wide (no error anywhere);
    we require every slice to be at least 2 px on each side. FFV1 refuses slices larger
    than :data:`MAX_SLICE_COST`.
    """
    level = settings.get("level", 3)
    if level not in (0, 1, 3):
        return f"level {level} is not supported; use 1 or 3"
    slices = settings.get("slices", 1)
    if level < 3:
        if slices not in (1, 0):
            return "slices need level 3"
    elif slices == 1 and min(width, height) < 2:
        return (
            f"level 3 decodes zeros for a picture {width}x{height} (1 px high or wide); use level 1"
        )
    if level >= 3 and slices == 1 and _single_slice_refused(width, height):
        return (
            f"FFmpeg refuses 1 slice at level 3 for a {width}x{height} picture (wider than 352 "
            "or higher than 288 px); use level 1 or more slices"
        )
    if slices in (0, 1):  # (at level 3, a single slice of at most 352x288 px always fits)
        return None
    grid = slice_grid(width, height, slices, bits)
    if grid is None:
        return (
            f"FFV1 cannot split a {width}x{height} picture into {slices} slices of at most "
            f"{_max_slice_pixels(bits)} pixels each (FFmpeg 5.1 and 8 alike)"
        )
    h, v = grid
    # measured: slices of at least 2 px round-trip; so does the 2x2 grid from 3 px up (its
    # slices are 1 and 2 px); any grid on a 2 px side decodes zeros
    if (width // h >= 2 and height // v >= 2) or (h, v) == (2, 2) and min(width, height) >= 3:
        return None
    return (
        f"{slices} slices ({h}x{v}) on a {width}x{height} picture make slices under 2 px, "
        "which FFmpeg 5.1 decodes as zeros"
    )


def to_picture(pixels: np.ndarray) -> np.ndarray:
    """Lay out quantized data ``(n_components, *grid_shape)`` as a ``(height, width)`` picture."""
    n_c = pixels.shape[0]
    if pixels.ndim == 2:  # 1D grid: one row per component
        return pixels
    if pixels.ndim == 3:  # (c, x, y) -> (c, y reversed, x)
        _, nx, ny = pixels.shape
        return pixels.transpose(0, 2, 1)[:, ::-1, :].reshape(n_c * ny, nx)
    if pixels.ndim == 4:  # (c, x, y, z) -> (c, z, y reversed, x)
        _, nx, ny, nz = pixels.shape
        return pixels.transpose(0, 3, 2, 1)[:, :, ::-1, :].reshape(n_c * nz * ny, nx)
    raise ValueError(f"data of shape {pixels.shape}: expected 2 to 4 axes")


def from_picture(picture: np.ndarray, n_components: int, grid_shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`to_picture`: ``(height, width)`` -> ``(n_components, *grid_shape)``."""
    if len(grid_shape) == 1:
        return picture.reshape(n_components, grid_shape[0])
    if len(grid_shape) == 2:
        nx, ny = grid_shape
        return picture.reshape(n_components, ny, nx)[:, ::-1, :].transpose(0, 2, 1)
    nx, ny, nz = grid_shape
    return picture.reshape(n_components, nz, ny, nx)[:, :, ::-1, :].transpose(0, 3, 2, 1)


def _column(values: Sequence[float], ndim: int) -> np.ndarray:
    """Per-component values shaped to broadcast against ``(n_components, *grid)``."""
    return np.asarray(values, dtype=np.float64).reshape((-1,) + (1,) * ndim)


def quantize(
    data: np.ndarray, vmin: Sequence[float], vmax: Sequence[float], bits: int,
    *, inside: bool = False,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Round finite data ``(n_components, *grid)`` to integers in ``[0, 2**bits - 1]``.

    ``q = round((clip(x, vmin_c, vmax_c) - vmin_c) / (vmax_c - vmin_c) * (2**bits - 1))``;
    a component with ``vmin_c == vmax_c`` (a constant frame with an auto range) gives 0.
    ``inside``: the caller knows that every value lies in ``[vmin_c, vmax_c]`` (the writer
    has each component's min and max): the same result without the counting and clipping
    passes.

    Returns:
        The quantized array (dtype of :func:`pixel_dtype`) and the number of values outside
        ``[vmin_c, vmax_c]`` for each component (they are clipped).
    """
    ndim = data.ndim - 1
    lo, hi = _column(vmin, ndim), _column(vmax, ndim)
    levels = float(2**bits - 1)
    if inside:
        clipped = np.zeros(data.shape[0], dtype=np.intp)
        scaled = data - lo
    else:
        axes = tuple(range(1, data.ndim))
        clipped = np.count_nonzero(data < lo, axis=axes) + np.count_nonzero(data > hi, axis=axes)
        scaled = np.clip(data, lo, hi)
        scaled -= lo
    span = hi - lo
    scaled *= np.divide(levels, span, out=np.zeros_like(span), where=span > 0)
    np.rint(scaled, out=scaled)
    # clip again: the scale factor may round a value at vmax a hair above the top level
    np.clip(scaled, 0.0, levels, out=scaled)
    return scaled.astype(pixel_dtype(bits)), clipped


def dequantize(
    pixels: np.ndarray, vmin: Sequence[float], vmax: Sequence[float], bits: int
) -> np.ndarray:
    """Map integers back to floats: ``vmin_c + q / (2**bits - 1) * (vmax_c - vmin_c)``."""
    ndim = pixels.ndim - 1
    lo, hi = _column(vmin, ndim), _column(vmax, ndim)
    out = pixels.astype(np.float64, order="C")  # also makes strided picture views contiguous
    out *= (hi - lo) / float(2**bits - 1)
    out += lo
    return out

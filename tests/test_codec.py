"""Quantization, picture layout and the comment-tag metadata, checked against plain libav."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import comment_tag, raw_pictures, stream_facts

from fieldmovie import MovieReader, MovieWriter
from fieldmovie.movie import codec
from fieldmovie.movie.metadata import MovieMeta

pytestmark = pytest.mark.usefixtures("backend")


# ------------------------------------------------------------------ quantization


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_quantize_rounds_to_nearest_level(bits):
    levels = 2**bits - 1
    vmin, vmax = -3.0, 5.0
    step = (vmax - vmin) / levels
    x = np.array(
        [
            [
                vmin,
                vmin + 0.49 * step,
                vmin + 0.51 * step,
                vmin + 1.49 * step,
                vmin + 1.51 * step,
                vmax - 0.49 * step,
                vmax - 0.51 * step,
                vmax,
            ]
        ]
    )
    q, clipped = codec.quantize(x, [vmin], [vmax], bits)
    assert q.dtype == codec.pixel_dtype(bits)
    assert q[0].tolist() == [0, 0, 1, 1, 2, levels, levels - 1, levels]
    assert clipped.tolist() == [0]


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_quantize_error_at_most_half_a_step(bits, rng):
    vmin, vmax = np.array([-1.0, 0.0, 1e-3]), np.array([2.0, 1e4, 2e-3])
    x = vmin[:, None, None] + rng.random((3, 7, 5)) * (vmax - vmin)[:, None, None]
    q, _ = codec.quantize(x, vmin, vmax, bits)
    assert q.max() <= 2**bits - 1
    y = codec.dequantize(q, vmin, vmax, bits)
    half = 0.5 * (vmax - vmin) / (2**bits - 1)
    err = np.abs(y - x).max(axis=(1, 2))
    assert np.all(err <= half * (1 + 1e-9))


def test_quantize_clips_and_counts_per_component():
    x = np.array([[-1.0, 0.5, 2.0, 3.0], [0.0, 0.5, 1.0, 0.25]])
    q, clipped = codec.quantize(x, [0, 0], [1, 1], 8)
    assert clipped.tolist() == [3, 0]
    assert q[0].tolist() == [0, 128, 255, 255]


def test_dequantize_endpoints_exact():
    q = np.array([[0, 65535], [0, 65535]], dtype="<u2")
    y = codec.dequantize(q, [-2.5, 1e-300], [7.25, 3e-300], 16)
    assert y[0].tolist() == [-2.5, 7.25]
    assert y[1, 0] == 1e-300
    assert y[1, 1] == pytest.approx(3e-300, rel=1e-15)


@pytest.mark.parametrize("bits", [0, 1, 4, 9, 11, 15, 24, 32])
def test_unsupported_bits_rejected(tmp_path, bits):
    with pytest.raises(ValueError, match="bits"):
        MovieMeta.create(components=1, grid_shape=(4,), vmin=0, vmax=1, bits=bits)
    with pytest.raises(ValueError, match="bits"):
        MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(4,), vmin=0, vmax=1, bits=bits)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ layout (pure numpy)


@pytest.mark.parametrize(
    "grid_shape",
    [(5,), (1,), (7, 1), (1, 7), (2, 5), (4, 3, 2), (1, 1, 1), (3, 2, 4)],
    ids=lambda g: "x".join(map(str, g)),
)
@pytest.mark.parametrize("n_components", [1, 3])
def test_to_from_picture_inverse(grid_shape, n_components):
    pixels = np.arange(n_components * int(np.prod(grid_shape)), dtype=np.uint16)
    pixels = pixels.reshape(n_components, *grid_shape)
    picture = codec.to_picture(pixels)
    width, height = codec.frame_size(grid_shape, n_components)
    assert picture.shape == (height, width)
    back = codec.from_picture(np.ascontiguousarray(picture), n_components, grid_shape)
    assert np.array_equal(back, pixels)


def test_frame_size_rejects_4d():
    with pytest.raises(ValueError):
        codec.frame_size((2, 2, 2, 2), 1)


# ------------------------------------------------------------------ layout (real movies)


def expected_pixel_position(c, idx, grid_shape):
    """(row, column) of field value (component c, grid index idx) in the documented layout."""
    if len(grid_shape) == 1:
        return c, idx[0]
    if len(grid_shape) == 2:
        nx, ny = grid_shape
        i, j = idx
        return c * ny + (ny - 1 - j), i
    nx, ny, nz = grid_shape
    i, j, k = idx
    return (c * nz + k) * ny + (ny - 1 - j), i


LAYOUT_CASES = [
    # grid_shape, n_components, bits
    ((6,), 3, 8),
    ((9,), 1, 16),
    ((1,), 2, 10),
    ((5, 3), 3, 8),
    ((4, 7), 2, 16),
    ((3, 3), 1, 12),
    ((7, 1), 2, 16),
    ((1, 5), 2, 8),
    ((3, 4, 2), 2, 16),
    ((2, 3, 3), 3, 10),
]


@pytest.mark.parametrize(
    ("grid_shape", "n_components", "bits"),
    LAYOUT_CASES,
    ids=[f"{'x'.join(map(str, g))}-c{n}-b{b}" for g, n, b in LAYOUT_CASES],
)
def test_raw_video_layout_matches_documentation(tmp_path, grid_shape, n_components, bits):
    """Distinct integer levels per value; plain FFmpeg must show them where docs say."""
    n_values = n_components * int(np.prod(grid_shape))
    levels = 2**bits - 1
    assert 2 * n_values <= levels
    # level of value (c, idx) = 1 + flat index; frame 1 uses 2 * that (still distinct)
    q0 = (1 + np.arange(n_values)).reshape(n_components, *grid_shape)
    frames = np.stack([q0, 2 * q0]).astype(float)  # vmin=0, vmax=levels -> value == level
    path = tmp_path / "layout.mkv"
    with MovieWriter(
        path, components=n_components, grid_shape=grid_shape, vmin=0, vmax=levels, bits=bits
    ) as writer:
        for k, frame in enumerate(frames):
            writer.append(frame, k)

    stream = stream_facts(path)
    width, height = codec.frame_size(grid_shape, n_components)
    if len(grid_shape) == 1:
        assert (width, height) == (grid_shape[0], n_components)
    elif len(grid_shape) == 2:
        assert (width, height) == (grid_shape[0], n_components * grid_shape[1])
    else:
        assert (width, height) == (grid_shape[0], n_components * grid_shape[1] * grid_shape[2])
    # stored: a 1 px high or wide picture has that row/column twice (CRC-protected slices)
    stored_w, stored_h = max(width, 2), max(height, 2)
    assert codec.stored_size(grid_shape, n_components) == (stored_w, stored_h)
    assert (stream["width"], stream["height"]) == (stored_w, stored_h)
    assert stream["codec_name"] == "ffv1"
    assert stream["pix_fmt"] == codec.PIXEL_FORMATS[bits]

    pictures = raw_pictures(path, codec.PIXEL_FORMATS[bits], stored_w, stored_h)
    assert pictures.shape[0] == 2
    for f, frame in enumerate(frames):
        expected = np.zeros((height, width), dtype=np.int64)
        for c in range(n_components):
            for idx in np.ndindex(*grid_shape):
                row, col = expected_pixel_position(c, idx, grid_shape)
                expected[row, col] = frame[(c, *idx)]
        stored = pictures[f].astype(np.int64)
        assert np.array_equal(stored[:height, :width], expected), f"frame {f}"
        assert np.array_equal(stored, np.tile(expected, (stored_h // height, stored_w // width)))

    # and the reader turns them back into exactly those integers
    assert np.array_equal(MovieReader(path).to_array(), frames)


def test_quantization_in_a_real_movie(tmp_path):
    vmin, vmax = 1.0, 3.0
    step = (vmax - vmin) / 255
    values = [vmin, vmin + 0.49 * step, vmin + 0.51 * step, vmin + 100.49 * step, vmax]
    path = tmp_path / "q.mkv"
    with MovieWriter(path, components=1, grid_shape=(5,), vmin=vmin, vmax=vmax, bits=8) as w:
        w.append(np.array([values]), 0.0)
    picture = raw_pictures(path, "gray", 5, 2)[0, 0]  # one component: the row is stored twice
    assert picture.tolist() == [0, 0, 1, 100, 255]
    decoded = MovieReader(path)[0][0]
    assert np.all(np.abs(decoded - values) <= 0.5 * step * (1 + 1e-9))


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_metadata_in_comment_tag(tmp_path, suffix):
    path = tmp_path / f"meta{suffix}"
    info = {"model": "gray_scott", "params": {"F": 0.04, "k": 0.06}, "note": 'it\'s "quoted"'}
    with MovieWriter(
        path,
        components=["u", "v"],
        grid_shape=(4, 3),
        vmin=[0, -1],
        vmax={"u": 1, "v": 2.5},
        bits=12,
        info=info,
    ) as writer:
        writer.append(np.full((2, 4, 3), 0.5), 0.0)
    meta = json.loads(comment_tag(path))
    assert meta["format"] == "fieldmovie"
    assert meta["version"] == 2
    assert meta["components"] == ["u", "v"]
    assert meta["grid_shape"] == [4, 3]
    assert meta["vmin"] == [0.0, -1.0]
    assert meta["vmax"] == [1.0, 2.5]
    assert meta["bits"] == 12
    assert meta["info"] == info
    reader = MovieReader(path)
    assert reader.info == info
    assert reader.components == ["u", "v"]
    assert reader.vmin == [0.0, -1.0] and reader.vmax == [1.0, 2.5]
    assert reader.meta.clipped == [0, 0]


def test_metadata_json_round_trip():
    meta = MovieMeta.create(
        components=["a", "b", "c"],
        grid_shape=(3, 4, 5),
        vmin=[0, 1, 2],
        vmax=[1, 2, 3],
        bits=10,
        info={"x": [1, 2]},
        grid_length=(1.0, 2.0, 3.0),
        periodic=True,
    )
    back = MovieMeta.from_json(meta.to_json())
    assert back.components == meta.components
    assert back.grid_shape == meta.grid_shape
    assert back.vmin == meta.vmin and back.vmax == meta.vmax
    assert back.bits == 10
    assert back.info == {"x": [1, 2]}
    assert back.grid_length == (1.0, 2.0, 3.0)
    assert back.periodic == (True, True, True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vmin": 1.0, "vmax": 1.0},
        {"vmin": 2.0, "vmax": 1.0},
        {"vmin": [0, 1], "vmax": [1, 1]},
        {"vmin": [0], "vmax": [1, 1]},
        {"vmin": float("nan"), "vmax": 1.0},
        {"vmin": 0.0, "vmax": float("inf")},
    ],
)
def test_bad_ranges_rejected(tmp_path, kwargs):
    with pytest.raises(ValueError, match="vm"):
        MovieWriter(tmp_path / "m.mkv", components=["u", "v"], grid_shape=(3,), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_extreme_finite_range_round_trips_or_is_rejected(tmp_path):
    """vmin=-1e308, vmax=1e308 are finite; vmax - vmin overflows to inf.

    Either the writer refuses the range, or values must still round-trip within half a step.
    """
    vmin, vmax = -1e308, 1e308
    x = np.array([[-1e308, -5e307, 0.0, 5e307, 1e308]])
    try:
        writer = MovieWriter(
            tmp_path / "big.mkv", components=1, grid_shape=(5,), vmin=vmin, vmax=vmax, bits=16
        )
    except ValueError:
        return
    with writer:
        writer.append(x, 0.0)
    y = MovieReader(tmp_path / "big.mkv")[0]
    half_step = 0.5 * (vmax / 65535 - vmin / 65535)
    assert np.all(np.isfinite(y))
    assert np.all(np.abs(y - x) <= half_step * (1 + 1e-9))

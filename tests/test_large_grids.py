"""Grids users store: 8192x8192 2D, 256^3 with 4 components, 1D grids of 10^6 points.

Each is written, read back by seeking (the reader checks every frame's digest: the stored
pixels are bit-identical) and validated, on both backends; what FFmpeg cannot store is
refused before the first frame, naming the limit. Encoder settings follow FFmpeg's slice
search (``codec.encoder_settings``), checked here without FFmpeg for many sizes.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

from fieldmovie import MovieReader, MovieWriter, validate_movie
from fieldmovie.movie import codec


def _frame(shape: tuple[int, ...], comps: int, k: int) -> np.ndarray:
    """Values on the 16-bit grid of [0, 1] (so they round-trip exactly), varied per frame."""
    n = comps * int(np.prod(shape))
    levels = (np.arange(n, dtype=np.int64) * (2 * k + 7)) % 65536
    return (levels / 65535.0).reshape(comps, *shape)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _round_trip(tmp_path, backend, shape, comps, n_frames) -> dict:
    path = tmp_path / "big.mkv"
    started = time.monotonic()
    with MovieWriter(path, components=comps, grid_shape=shape, vmin=0, vmax=1) as writer:
        for k in range(n_frames):
            writer.append(_frame(shape, comps, k), 0.5 * k)
    written = time.monotonic()
    with MovieReader(path) as reader:
        for k in range(n_frames - 1, -1, -1):  # last first: every frame reached by seeking
            got = reader[k]
            assert got.shape == (comps, *shape)
            # the reader checked the digest: the pixels are exact; the values up to rounding
            assert np.allclose(got, _frame(shape, comps, k), rtol=0, atol=1e-12), f"frame {k}"
            del got
    read = time.monotonic()
    report = validate_movie(path)
    assert report.ok, report.problems
    figures = {"write": written - started, "read": read - written,
               "validate": time.monotonic() - read, "peak_rss_mb": _peak_rss_mb()}  # fmt: skip
    print(f"\n{backend} {shape} x{comps}, {n_frames} frame(s):", figures)
    return figures


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "comps", "n_frames"),
    [((8192, 8192), 1, 1), ((256, 256, 256), 4, 1), ((1_000_000,), 2, 2), ((1_000_000,), 1, 2),
     ((1_000_000,), 4, 2)],
)  # fmt: skip
def test_large_grids_round_trip(tmp_path, backend, shape, comps, n_frames):
    figures = _round_trip(tmp_path, backend, shape, comps, n_frames)
    # a float64 frame of 256^3 x 4 is 512 MB: the writer and reader hold a few, not dozens
    assert figures["peak_rss_mb"] < 6000


@pytest.mark.parametrize(("shape", "comps"), [((100_000,), 2), ((4000, 50), 1), ((2, 3000), 1)])
def test_wide_or_tall_thin_pictures_round_trip(tmp_path, backend, shape, comps):
    """2 px thin pictures beyond 352x288, which FFmpeg refuses as one level 3 slice."""
    _round_trip(tmp_path, backend, shape, comps, 2)


@pytest.mark.parametrize(
    ("shape", "comps"), [((20000, 20000), 1), ((512, 512, 512), 2), ((300_000_000,), 1)]
)
def test_grids_ffmpeg_cannot_store_are_refused_before_writing(tmp_path, shape, comps):
    with pytest.raises(ValueError, match="larger than FFmpeg allows") as err:
        MovieWriter(tmp_path / "m.mkv", components=comps, grid_shape=shape, vmin=0, vmax=1)
    assert str(tmp_path / "m.mkv") in str(err.value) and "av_image_check_size" in str(err.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
@pytest.mark.parametrize(
    ("width", "height"),
    [(3, 3), (64, 48), (352, 2), (353, 2), (2, 289), (1000, 3), (4096, 4096), (8192, 8192),
     (10000, 10000), (256, 262144), (1_000_000, 4), (16000, 16000)],
)  # fmt: skip
def test_encoder_settings_fit_ffmpegs_limits(width, height, bits):
    """The chosen settings pass the slice search of FFmpeg 5.1 and 8 with slices of at least
    2 px and at most MAX_SLICE_BYTES even for incompressible pixels."""
    settings = codec.encoder_settings(width, height, bits)
    assert codec.settings_problem(width, height, settings, bits) is None, settings
    if settings["level"] == 3 and settings["slices"] > 1:
        h, v = codec.slice_grid(width, height, settings["slices"], bits)
        pixels = -(-width // h) * -(-height // v)
        assert pixels * (bits + 1) <= codec.MAX_SLICE_COST
        assert pixels * (bits + 1) / 8 * codec.WORST_EXPANSION < codec.MAX_SLICE_BYTES


def test_settings_problem_names_ffmpegs_limits():
    assert "Unsupported" not in (codec.settings_problem(8192, 8192, {"slices": 4}) or "")
    assert "slices of at most" in codec.settings_problem(8192, 8192, {"slices": 4})
    assert "refuses 1 slice" in codec.settings_problem(1000, 2, {"level": 3, "slices": 1})
    assert codec.settings_problem(1000, 2, {"level": 1}) is None

"""Storage ranges (auto/fixed), tolerance, error bounds and the v2 sidecar, without FFmpeg
where possible; per-value error bounds through real movies for 1D/2D/3D and every depth."""

from __future__ import annotations

import numpy as np
import pytest

from fieldmovie import MovieFormatError, MovieReader, MovieWriter
from fieldmovie.movie import codec, ranges
from fieldmovie.movie.digests import frame_digest, metadata_digest
from fieldmovie.movie.sidecar import FrameTable, merge_tables, parse_table

pytestmark = pytest.mark.usefixtures("no_leaked_ffmpeg")


def per_frame_round_trip(data: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantize one frame with its auto range and decode it again: (decoded, bound)."""
    lo, hi = ranges.frame_range(data, [None] * data.shape[0])
    q, clipped = codec.quantize(data, lo, hi, bits)
    assert not clipped.any()
    return codec.dequantize(q, lo, hi, bits), ranges.error_bound(lo, hi, bits)


# ------------------------------------------------------------------ parsing


def test_parse_ranges_forms():
    comps = ["u", "v", "w"]
    assert ranges.parse_ranges(comps) == [None, None, None]
    assert ranges.parse_ranges(comps, 0, 1) == [(0.0, 1.0)] * 3
    assert ranges.parse_ranges(comps, ["auto", 0, 1], ["auto", 2, 3]) == [None, (0, 2), (1, 3)]
    assert ranges.parse_ranges(comps, ranges={"v": [0, 0.6]}) == [None, (0.0, 0.6), None]
    assert ranges.parse_ranges(comps, ranges={"u": "auto", "w": (1, 2)})[2] == (1.0, 2.0)
    assert ranges.parse_ranges(comps, ranges="auto") == [None] * 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vmin": "auto", "vmax": 1.0}, "both"),
        ({"vmin": [0, 1], "vmax": [1, 2, 3]}, "vmin: 2 values"),
        ({"ranges": {"x": "auto"}}, "unknown component"),
        ({"ranges": {"u": "fixed"}}, "allowed"),
        ({"ranges": {"u": [0, 1, 2]}}, "allowed"),
        ({"vmin": 0, "vmax": 1, "ranges": {"u": "auto"}}, "not both"),
        ({"vmin": "low", "vmax": "high"}, "not a number"),
    ],
)
def test_parse_ranges_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ranges.parse_ranges(["u", "v", "w"], **kwargs)


def test_parse_tolerance():
    assert ranges.parse_tolerance(["u", "v"], None) == [None, None]
    assert ranges.parse_tolerance(["u", "v"], 1e-3) == [1e-3, 1e-3]
    assert ranges.parse_tolerance(["u", "v"], {"v": 2e-3}) == [None, 2e-3]
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(ValueError, match="tolerance of component 'u'"):
            ranges.parse_tolerance(["u"], bad)


def test_bits_for_and_tolerance_message():
    assert ranges.bits_for(1.0, 0.5 / 255) == 8
    assert ranges.bits_for(1.0, 0.5 / 1023) == 10
    assert ranges.bits_for(1.0, 0.5 / 4100) == 16
    assert ranges.bits_for(1.0, 1e-9) is None
    msg = ranges.tolerance_problem("u", 1.0, 8, 1e-4)
    assert "'u'" in msg and "half step 0.00196" in msg and "bits=16" in msg
    assert "even 16 bits" in ranges.tolerance_problem("u", 1.0, 8, 1e-9)
    assert ranges.tolerance_problem("u", 1.0, 16, 1e-3) is None


# ------------------------------------------------------------------ quantization with auto ranges


@pytest.mark.parametrize("bits", codec.BIT_DEPTHS)
def test_auto_range_far_outside_presets_and_wide_spans(bits, rng):
    data = np.stack(
        [
            1e6 + 1e5 * rng.standard_normal((9, 7)),  # far outside any preset range
            -3e-4 * rng.random((9, 7)),  # tiny and negative
            np.exp(rng.uniform(np.log(1e-8), np.log(1e3), (9, 7))),  # 1e-8 ... 1e3
        ]
    )
    data[2, 0, 0], data[2, 0, 1] = 1e-8, 1e3
    decoded, bound = per_frame_round_trip(data, bits)
    err = np.abs(decoded - data).reshape(3, -1).max(axis=1)
    assert np.all(err <= bound)
    half = ranges.half_step(np.ptp(data.reshape(3, -1), axis=1), bits)
    assert np.all(bound <= half * (1 + 1e-4))  # the rounding term is small here
    assert np.all(err >= 0.2 * half)  # and the bound is not vacuous


def test_constant_component_is_exact():
    data = np.stack([np.full((4, 3), 0.1 + 0.2), np.linspace(0, 1, 12).reshape(4, 3)])
    lo, hi = ranges.frame_range(data, [None, None])
    q, _ = codec.quantize(data, lo, hi, 16)
    assert np.all(q[0] == 0)
    decoded = codec.dequantize(q, lo, hi, 16)
    assert np.array_equal(decoded[0], data[0])
    assert ranges.error_bound(lo, hi, 16)[0] == 0.0


def test_rounding_term_covers_narrow_ranges_at_large_offsets(rng):
    """Where the step is a few ulps of the values, float64 rounding dominates the bound."""
    for offset in (1e6, -7.5e12, 3e300):
        data = offset + offset * 1e-13 * rng.random((1, 50))
        for bits in codec.BIT_DEPTHS:
            decoded, bound = per_frame_round_trip(data, bits)
            assert np.abs(decoded - data).max() <= bound[0], (offset, bits)


# ------------------------------------------------------------------ sidecar and digests


def table(n=3, comps=("u", "v")):
    rng = np.random.default_rng(1)
    lo = rng.random((n, len(comps)))
    return FrameTable(
        times=[0.1 * k for k in range(n)],
        digests=[frame_digest(bytes([k])) for k in range(n)],
        vmin=lo,
        vmax=lo + 1 / 3,
        components=list(comps),
        version=2,
    )


def test_sidecar_round_trip_is_exact():
    t = table()
    data = t.to_bytes()
    assert data.splitlines()[0] == b"# fieldmovie-times 2: t digest vmin:u vmax:u vmin:v vmax:v"
    back = parse_table(data)
    assert back.version == 2 and back.components == ["u", "v"]
    assert back.times == t.times and back.digests == t.digests
    assert np.array_equal(back.vmin, t.vmin) and np.array_equal(back.vmax, t.vmax)
    assert back.to_bytes() == data


def test_sidecar_odd_component_names():
    t = table(comps=("a b", "x:y%"))
    assert parse_table(t.to_bytes()).components == ["a b", "x:y%"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda lines: lines[:1] + [lines[1] + b" 1.0"] + lines[2:], "line 2: 7 columns"),
        (lambda lines: [lines[0], lines[1].replace(b" ", b" zz", 1)] + lines[2:], "line 2"),
        (lambda lines: [b"# fieldmovie-times 3: t digest"] + lines[1:], "version '3:'"),
        (lambda lines: [lines[0].replace(b"digest", b"hash")] + lines[1:], "not a sidecar header"),
        (lambda lines: lines[:2] + [b"0.2 0123456789abcdef 1.0 0.5 0 1"], "line 3: range"),
        (lambda lines: lines[:2] + [b"0.2 0123456789abcdef nan 1 0 1"], "line 3: range"),
        (lambda lines: lines + [b"\xff"], "not a text file"),
    ],
)
def test_sidecar_errors_name_the_line(edit, match):
    lines = table().to_bytes().splitlines()
    with pytest.raises(MovieFormatError, match=match):
        parse_table(b"\n".join(edit(lines)) + b"\n", "x.times")


def test_v1_sidecar_and_merge():
    assert parse_table(b"0.0\n0.5\n").times == [0.0, 0.5]
    merged = merge_tables([table(2), table(3)])
    assert len(merged) == 5 and merged.vmin.shape == (5, 2)
    with pytest.raises(ValueError, match="versions"):
        merge_tables([table(2), parse_table(b"0.0\n")])


def test_metadata_digest_ignores_key_order_and_its_own_key():
    a = {"x": 1, "y": [1.5, "z"], "digest": "ignored"}
    assert metadata_digest(a) == metadata_digest({"y": [1.5, "z"], "x": 1})
    assert metadata_digest(a) != metadata_digest({"x": 1, "y": [1.5, "zz"]})


# ------------------------------------------------------------------ through real movies

BOUND_CASES = [((40,), 1), ((9, 7), 2), ((5, 4, 3), 2)]


@pytest.mark.parametrize("bits", codec.BIT_DEPTHS)
@pytest.mark.parametrize(("grid_shape", "n_components"), BOUND_CASES, ids=["1d", "2d", "3d"])
def test_every_value_within_its_own_frames_bound(tmp_path, rng, grid_shape, n_components, bits):
    """Per value: |decoded - exact float64| <= error_bound of its frame and component."""
    scales = [1e-6, 1.0, 1e4]
    frames = np.stack(
        [
            rng.standard_normal((n_components, *grid_shape)) * scales[k] + 10.0 ** (k - 1)
            for k in range(3)
        ]
    )
    path = tmp_path / "b.mkv"
    with MovieWriter(path, components=n_components, grid_shape=grid_shape, bits=bits) as w:
        for k, frame in enumerate(frames):
            w.append(frame, float(k))
    reader = MovieReader(path)
    decoded = reader.to_array()
    bound = reader.error_bound
    assert bound.shape == (3, n_components)
    err = np.abs(decoded - frames).reshape(3, n_components, -1)
    assert np.all(err <= bound[:, :, None])
    lo, hi = reader.frame_ranges
    assert np.array_equal(lo, frames.reshape(3, n_components, -1).min(axis=2))
    assert np.array_equal(hi, frames.reshape(3, n_components, -1).max(axis=2))
    assert np.all(bound <= ranges.half_step(hi - lo, bits) * (1 + 1e-4))
    assert reader.meta.clipped == [0] * n_components

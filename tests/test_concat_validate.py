"""concat_movies (bit-exact joins, merged times, atomicity) and validate_movie."""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np
import pytest
from conftest import (
    comment_tag,
    flip_byte_in_frame,
    packet_positions,
    wait_for_no_children,
    write_movie,
)

from fieldmovie import (
    ClippingWarning,
    MovieReader,
    MovieWriter,
    SegmentMismatchError,
    ValidationReport,
    concat_movies,
    validate_movie,
)

pytestmark = pytest.mark.usefixtures("backend")

GRID = (6, 5)


def listing(path):
    return sorted(p.name for p in path.iterdir())


@pytest.fixture
def segments(tmp_path, make_frames):
    """Three compatible segments (3, 1 and 2 frames) with increasing times."""

    def make(suffix=".mkv", **kwargs):
        paths, frames, times = [], [], []
        start = 0.0
        for s, n in enumerate((3, 1, 2)):
            f = make_frames(n, 2, GRID)
            t = [start + 0.1 * k for k in range(n)]
            start = t[-1] + 0.05
            opts = {"components": ["u", "v"], "bits": 12, "info": {"segment": s}, **kwargs}
            paths.append(write_movie(tmp_path / f"seg{s}{suffix}", f, t, **opts))
            frames.append(f)
            times += t
        return paths, np.concatenate(frames), times

    return make


def ffprobe_comment(path) -> dict:
    return json.loads(comment_tag(path))


# ------------------------------------------------------------------ concat


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_concat_bit_exact(tmp_path, segments, suffix):
    paths, frames, times = segments(suffix)
    out = concat_movies(paths, tmp_path / f"joined{suffix}", info={"joined": True})
    assert out == tmp_path / f"joined{suffix}"
    reader = MovieReader(out)
    assert len(reader) == 6
    assert reader.times.tolist() == times
    decoded_segments = np.concatenate([MovieReader(p).to_array() for p in paths])
    data = reader.to_array()
    assert np.array_equal(data, decoded_segments)
    assert np.abs(data - frames).max() <= 0.5 / 4095 * (1 + 1e-9)
    # random access across the segment boundaries
    for i in (0, 2, 3, 4, -1):
        assert np.array_equal(reader[i], decoded_segments[i]), i
    assert np.array_equal(reader[[5, 3, 0]], decoded_segments[[5, 3, 0]])
    # metadata rewritten into the joined file
    meta = ffprobe_comment(out)
    assert meta["format"] == "fieldmovie"
    assert meta["info"] == {"joined": True}
    assert meta["components"] == ["u", "v"]
    assert meta["grid_shape"] == list(GRID)
    assert meta["bits"] == 12
    assert reader.info == {"joined": True}
    # nothing but the output and its times were added
    assert listing(tmp_path) == sorted(
        [p.name for p in paths]
        + [f"{p.name}.times" for p in paths]
        + [f"joined{suffix}", f"joined{suffix}.times"]
    )
    assert validate_movie(out, paths).ok


def test_concat_keeps_first_info_and_sums_clipping(tmp_path, make_frames):
    paths = []
    for s in range(3):
        frame = np.full((2, 3, 3), 0.5)
        frame[1, 0, :s] = 2.0  # s clipped values in component v
        with pytest.warns(ClippingWarning) if s else contextlib.nullcontext():
            paths.append(
                write_movie(tmp_path / f"s{s}.mkv", [frame], [float(s)], info={"seg": s}, bits=8)
            )
    out = concat_movies(paths, tmp_path / "j.mkv")
    reader = MovieReader(out)
    assert reader.info == {"seg": 0}
    assert reader.meta.clipped == [0, 3]
    assert ffprobe_comment(out)["clipped"] == [0, 3]


def test_concat_replaces_existing_output_atomically(tmp_path, segments, movie_factory):
    old, _, _ = movie_factory("joined.mkv", n_frames=2)
    paths, _, times = segments()
    concat_movies(paths, old)
    assert MovieReader(old).times.tolist() == times
    assert not [n for n in listing(tmp_path) if n.startswith(".")]


MISMATCHES = {
    "grid_shape": {"grid_shape": (6, 4)},
    "bits": {"bits": 16},
    "vmin": {"vmin": -1.0},
    "vmax": {"vmax": 2.0},
    "components": {"components": ["u", "w"]},
}


@pytest.mark.parametrize("field", [*MISMATCHES, "n_components", "time"])
def test_concat_mismatch(tmp_path, segments, make_frames, field):
    paths, _, times = segments()
    # a pre-existing output must stay as it is
    out = tmp_path / "joined.mkv"
    out.write_bytes(b"old movie")
    (tmp_path / "joined.mkv.times").write_text("0.0\n")
    if field == "time":
        bad = write_movie(tmp_path / "bad.mkv", make_frames(2, 2, GRID), [times[-1], 99.0],
                          components=["u", "v"], bits=12)  # fmt: skip
    elif field == "n_components":
        bad = write_movie(tmp_path / "bad.mkv", make_frames(2, 3, GRID), [50.0, 51.0],
                          bits=12)  # fmt: skip
    else:
        opts = {"components": ["u", "v"], "bits": 12, **MISMATCHES[field]}
        grid = opts.pop("grid_shape", GRID)
        bad = write_movie(tmp_path / "bad.mkv", make_frames(2, 2, grid), [50.0, 51.0],
                          grid_shape=grid, **opts)  # fmt: skip
    before = listing(tmp_path)
    with pytest.raises(SegmentMismatchError) as excinfo:
        concat_movies([*paths, bad], out)
    message = str(excinfo.value)
    assert "bad.mkv" in message
    expected_word = {"n_components": "components"}.get(field, field)
    assert expected_word in message
    assert listing(tmp_path) == before
    assert out.read_bytes() == b"old movie"
    assert (tmp_path / "joined.mkv.times").read_text() == "0.0\n"


def test_concat_mismatch_in_the_middle_names_that_segment(tmp_path, segments, make_frames):
    paths, _, _ = segments()
    bad = write_movie(tmp_path / "middle.mkv", make_frames(1, 2, GRID), [0.22],
                      components=["u", "v"], bits=8)  # fmt: skip
    with pytest.raises(SegmentMismatchError, match=r"middle\.mkv.*bits"):
        concat_movies([paths[0], bad, paths[1]], tmp_path / "j.mkv")
    assert not (tmp_path / "j.mkv").exists()


def test_concat_no_segments(tmp_path):
    with pytest.raises(ValueError):
        concat_movies([], tmp_path / "j.mkv")


# ------------------------------------------------------------------ validate


def test_validate_good_movie_and_json(tmp_path, segments):
    paths, _, times = segments()
    out = concat_movies(paths, tmp_path / "joined.mkv")
    report = validate_movie(out, segments=paths)
    assert isinstance(report, ValidationReport)
    assert report.ok, report.problems
    assert report.frames == 6 and report.expected_frames == 6
    assert report.components == ["u", "v"]
    assert report.grid_shape == list(GRID)
    assert report.bits == 12
    assert report.time_range == [times[0], times[-1]]
    assert report.segments == [str(p) for p in paths]
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["ok"] is True and d["problems"] == []
    assert validate_movie(paths[0]).ok


def test_validate_flipped_byte_names_frame(movie_factory):
    path, _, _ = movie_factory(n_frames=6, grid_shape=(16, 12))
    flip_byte_in_frame(path, 4)
    report = validate_movie(path)
    assert not report.ok
    text = " ".join(report.problems)
    assert "crc" in text.lower()
    assert "4" in text  # names the frame
    assert "[4]" in text or "frame 4" in text
    json.dumps(report.to_dict(), allow_nan=False)


def test_validate_truncated(movie_factory):
    path, _, _ = movie_factory(n_frames=8, grid_shape=(16, 12))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = validate_movie(path)
    assert not report.ok
    assert report.frames < 8
    assert report.expected_frames == 8
    json.dumps(report.to_dict(), allow_nan=False)


def test_validate_missing_sidecar(movie_factory):
    path, _, _ = movie_factory()
    os.unlink(f"{path}.times")
    report = validate_movie(path)
    assert not report.ok
    assert any(".times" in p for p in report.problems)
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize("lines", [["0.0", "0.25", "0.5"], ["0.0", "0.25", "0.5", "0.75", "1.0"]])
def test_validate_sidecar_wrong_count(movie_factory, lines):
    path, _, _ = movie_factory(n_frames=4)
    with open(f"{path}.times", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    report = validate_movie(path)
    assert not report.ok
    assert report.frames == 4
    assert report.expected_frames == len(lines)
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize("lines", [["0.0", "1.0", "1.0", "2.0"], ["0.0", "2.0", "1.0", "3.0"]])
def test_validate_times_not_increasing(movie_factory, lines):
    path, _, _ = movie_factory(n_frames=4)
    with open(f"{path}.times", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    report = validate_movie(path)
    assert not report.ok
    assert any("frame 2" in p for p in report.problems), report.problems
    json.dumps(report.to_dict(), allow_nan=False)


def test_validate_against_wrong_segments(tmp_path, segments, make_frames):
    paths, _, times = segments()
    out = concat_movies(paths, tmp_path / "joined.mkv")
    # same lengths and times, different content in segment 1 -> frame 3 of the joined movie
    other = write_movie(tmp_path / "other.mkv", make_frames(1, 2, GRID), [times[3]],
                        components=["u", "v"], bits=12)  # fmt: skip
    report = validate_movie(out, segments=[paths[0], other, paths[2]])
    assert not report.ok
    assert any("frame 3" in p and "checksum" in p for p in report.problems), report.problems
    # wrong order
    report = validate_movie(out, segments=[paths[1], paths[0], paths[2]])
    assert not report.ok
    assert any("frame 0" in p for p in report.problems)
    # a missing segment
    report = validate_movie(out, segments=paths[:2])
    assert not report.ok
    json.dumps(report.to_dict(), allow_nan=False)


def test_validate_missing_movie_and_text_file(tmp_path):
    report = validate_movie(tmp_path / "nope.mkv")
    assert not report.ok
    text = tmp_path / "t.mkv"
    text.write_text("hello\n")
    (tmp_path / "t.mkv.times").write_text("0\n")
    report = validate_movie(text)
    assert not report.ok
    json.dumps(report.to_dict(), allow_nan=False)
    assert wait_for_no_children() == []


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_validate_non_finite_time_report_is_strict_json(movie_factory, bad):
    """A sidecar with a NaN/inf time is a problem, and the report still is valid JSON."""
    path, _, _ = movie_factory(n_frames=3)
    with open(f"{path}.times", "w") as fh:
        fh.write(f"0.0\n1.0\n{bad}\n")
    report = validate_movie(path)
    assert not report.ok
    assert any("frame 2" in p for p in report.problems), report.problems
    json.dumps(report.to_dict(), allow_nan=False)


def test_concat_into_one_of_its_segments(tmp_path, segments):
    paths, _, times = segments()
    expected = np.concatenate([MovieReader(p).to_array() for p in paths])
    concat_movies(paths, paths[0])
    reader = MovieReader(paths[0])
    assert reader.times.tolist() == times
    assert np.array_equal(reader.to_array(), expected)


def test_concat_odd_names_and_thin_grids(tmp_path, make_frames):
    """Quotes and spaces in paths; 1 px high pictures (no slice CRC) join exactly too."""
    a = write_movie(tmp_path / "it's a.mkv", make_frames(2, 1, (5, 1)), [0, 1])
    b = write_movie(tmp_path / "b b.mkv", make_frames(1, 1, (5, 1)), [2])
    out = concat_movies([a, b], tmp_path / "out 'joined'.mkv")
    expected = np.concatenate([MovieReader(a).to_array(), MovieReader(b).to_array()])
    assert np.array_equal(MovieReader(out).to_array(), expected)
    assert validate_movie(out, [a, b]).ok


@pytest.mark.parametrize("fps", [8, 100])
def test_many_joined_segments_keep_frame_exact_seeking(tmp_path, fps):
    """Joins add no timestamp drift: after 25 joins every frame is still found by seeking."""
    segments = []
    for s in range(25):
        path = tmp_path / f"s{s:02d}.mkv"
        with MovieWriter(path, components=1, grid_shape=(4, 4), vmin=0, vmax=100, fps=fps) as w:
            for i in (2 * s, 2 * s + 1):
                w.append(np.full((1, 4, 4), float(i)), float(i))
        segments.append(path)
    joined = concat_movies(segments, tmp_path / "joined.mkv")
    assert validate_movie(joined, segments).ok
    reader = MovieReader(joined)
    assert [round(reader[i][0, 0, 0]) for i in (0, 17, 31, 48, 49, -1)] == [0, 17, 31, 48, 49, 49]


@pytest.mark.parametrize("grid_shape", [(200,), (1, 50)])
def test_corruption_of_one_pixel_high_or_wide_movies_is_detected(tmp_path, grid_shape):
    """A 1D single-component field is a 1 px high picture: stored twice, CRC-protected."""
    path = tmp_path / "thin.mkv"
    x = np.linspace(0, 1, int(np.prod(grid_shape))).reshape(grid_shape)
    with MovieWriter(path, components=1, grid_shape=grid_shape, vmin=0, vmax=1) as w:
        for i in range(20):
            w.append((x + 0.01 * i) % 1.0, float(i))
    assert MovieReader(path).meta.codec["level"] == 3
    data = bytearray(path.read_bytes())
    # inside the coded data of frame 10 (not the container's framing around it)
    size, pos = packet_positions(path)[10]
    for offset in (size // 2, size // 2 + 7, size // 2 + 13):
        data[pos + offset % size] ^= 0x5A
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    (tmp_path / "bad.mkv.times").write_text((tmp_path / "thin.mkv.times").read_text())
    report = validate_movie(bad)
    assert not report.ok and "damaged" in " ".join(report.problems), report.problems

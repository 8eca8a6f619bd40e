"""Format 2 end to end: auto ranges in movies, tolerance, joins of segments with different
ranges, digests binding frames/sidecar/metadata, v1 movies, the segment runner."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fieldmovie import (
    MovieFormatError,
    MovieReader,
    MovieWriter,
    SegmentMismatchError,
    concat_movies,
    validate_movie,
)
from fieldmovie.movie.backends import get_backend
from fieldmovie.movie.digests import times_digest
from fieldmovie.movie.metadata import MovieMeta
from fieldmovie.movie.sidecar import parse_table
from fieldmovie.movie.writer import _rewrite_metadata

pytestmark = pytest.mark.usefixtures("no_leaked_ffmpeg")

V1_DATA = Path(__file__).parent / "data" / "v1"


def write(path, frames, times=None, **kwargs) -> Path:
    """Write ``frames`` (default: auto ranges, 16 bits) and return the path."""
    frames = np.asarray(frames)
    kwargs.setdefault("components", frames.shape[1])
    kwargs.setdefault("grid_shape", frames.shape[2:])
    times = [0.5 * k for k in range(len(frames))] if times is None else times
    with MovieWriter(path, **kwargs) as writer:
        for frame, t in zip(frames, times, strict=True):
            writer.append(frame, t)
    return Path(path)


def flip_byte_in_frame(path: Path, frame_index: int) -> None:
    """Flip a byte in the middle of a stored frame (copy of conftest's helper)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
        + ["packet=pos,size", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    size, pos = [tuple(map(int, line.split(",")[:2])) for line in out][frame_index]
    data = bytearray(path.read_bytes())
    data[pos + size // 2] ^= 0x5A
    path.write_bytes(bytes(data))


def comment(path: Path) -> str:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    tags = json.loads(out.stdout)["format"]["tags"]
    return {k.lower(): v for k, v in tags.items()}["comment"]


def remux_with_comment(src: Path, dst: Path, text: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0", "-c", "copy"]
        + ["-metadata", f"comment={text}", str(dst)],
        check=True, timeout=60,
    )  # fmt: skip


def random_frames(rng, n=4, shape=(2, 8, 6), scale=1.0, offset=0.0):
    return offset + scale * rng.standard_normal((n, *shape))


# ------------------------------------------------------------------ auto ranges in movies


def test_default_is_auto_nothing_clipped_and_bounded(tmp_path, rng):
    frames = random_frames(rng, scale=[[[1e3]], [[1e-4]]], offset=-5e4)
    path = write(tmp_path / "a.mkv", frames, bits=10)
    reader = MovieReader(path)
    assert reader.meta.range_mode == ["auto", "auto"]
    assert reader.meta.clipped == [0, 0]
    data = reader.to_array()
    assert np.all(np.abs(data - frames) <= reader.error_bound[:, :, None, None])
    assert reader.vmin == frames.min(axis=(0, 2, 3)).tolist()
    assert reader.vmax == frames.max(axis=(0, 2, 3)).tolist()
    meta = json.loads(comment(path))
    assert meta["version"] == 2 and meta["range"] == {"0": "auto", "1": "auto"}
    assert meta["times_digest"] == times_digest(Path(f"{path}.times").read_bytes())
    assert np.array_equal(reader[2], data[2]) and np.array_equal(reader[[3, 0]], data[[3, 0]])
    report = validate_movie(path)
    assert report.ok and report.digests is True, report.problems


def test_constant_component_decodes_exactly(tmp_path, rng):
    frames = random_frames(rng, n=3)
    frames[:, 1] = np.pi
    frames[1, 0] = -0.0  # a whole constant frame of the other component, too
    path = write(tmp_path / "c.mkv", frames, components=["u", "c"])
    reader = MovieReader(path)
    data = reader.to_array()
    assert np.array_equal(data[:, 1], frames[:, 1])
    assert np.array_equal(data[1, 0], frames[1, 0])
    assert reader.error_bound[1, 0] == 0.0 and np.all(reader.error_bound[:, 1] == 0.0)
    assert reader.vmin[1] == reader.vmax[1] == np.pi
    assert validate_movie(path).ok


def test_span_1e_minus8_to_1e3(tmp_path, rng):
    frames = np.exp(rng.uniform(np.log(1e-8), np.log(1e3), (3, 1, 50)))
    frames[:, 0, 0], frames[:, 0, 1] = 1e-8, 1e3
    path = write(tmp_path / "w.mkv", frames)
    reader = MovieReader(path)
    err = np.abs(reader.to_array() - frames)
    assert np.all(err <= reader.error_bound[:, :, None])
    assert reader.error_bound.max() <= 1e3 / (2 * 65535) * (1 + 1e-6)


def test_mixed_auto_and_fixed_via_range(tmp_path, rng):
    frames = random_frames(rng, n=3)
    frames[:, 1] = np.clip(0.5 + 0.2 * frames[:, 1], 0.05, 0.85)
    frames[0, 1, 0, 0] = 0.95  # outside v's fixed range: clipped and counted
    with pytest.warns(UserWarning, match="clipped"):
        path = write(tmp_path / "m.mkv", frames, components=["u", "v"],
                     range={"u": "auto", "v": [0.0, 0.9]}, bits=12)  # fmt: skip
    reader = MovieReader(path)
    assert reader.meta.range_mode == ["auto", "fixed"]
    assert reader.meta.clipped == [0, 1]
    lo, hi = reader.frame_ranges
    assert np.all(lo[:, 1] == 0.0) and np.all(hi[:, 1] == 0.9)
    assert reader.vmin[1] == 0.0 and reader.vmax[1] == 0.9
    assert validate_movie(path).ok


# ------------------------------------------------------------------ tolerance


def test_tolerance_met(tmp_path, rng):
    frames = rng.random((3, 2, 6, 5))
    path = write(tmp_path / "ok.mkv", frames, tolerance={"0": 1e-5}, bits=16)
    assert MovieReader(path).error_bound[:, 0].max() <= 1e-5


def test_tolerance_refused_names_frame_and_bits(tmp_path, rng):
    frames = rng.random((3, 2, 6, 5))
    frames[2, 1] *= 100  # frame 2 of component "v" is 100 times wider
    path = tmp_path / "t.mkv"
    with pytest.raises(ValueError) as excinfo:
        write(path, frames, components=["u", "v"], bits=8, tolerance=0.01)
    msg = str(excinfo.value)
    for part in (str(path), "frame 2", "t=1.0", "'v'", "half step", "bits=16"):
        assert part in msg, (part, msg)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="even 16 bits"):
        write(path, frames, bits=16, tolerance=1e-9)
    assert list(tmp_path.iterdir()) == []


def test_tolerance_of_fixed_range_refused_before_the_first_frame(tmp_path):
    with pytest.raises(ValueError, match=r"fixed range of component 'u'.*bits=12"):
        MovieWriter(tmp_path / "f.mkv", components=["u"], grid_shape=(4,), vmin=0, vmax=1,
                    bits=8, tolerance=2e-4)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_overflowing_auto_range_refused(tmp_path):
    with pytest.raises(ValueError, match="wider than float64"):
        write(tmp_path / "o.mkv", np.array([[[-1e308, 1e308]]]))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ concat


def segments_with_different_ranges(tmp_path, rng):
    paths, frames = [], []
    for s, (scale, offset) in enumerate([(1.0, 0.0), (1e-3, 5.0), (1e4, -1e5)]):
        f = random_frames(rng, n=2 + s, scale=scale, offset=offset)
        t = [10.0 * s + k for k in range(len(f))]
        paths.append(write(tmp_path / f"s{s}.mkv", f, t, components=["u", "v"], bits=12))
        frames.append(f)
    return paths, np.concatenate(frames)


def test_concat_segments_with_different_ranges(tmp_path, rng):
    paths, frames = segments_with_different_ranges(tmp_path, rng)
    out = concat_movies(paths, tmp_path / "j.mkv")
    reader = MovieReader(out)
    parts = [MovieReader(p) for p in paths]
    assert np.array_equal(reader.to_array(), np.concatenate([p.to_array() for p in parts]))
    assert np.all(np.abs(reader.to_array() - frames) <= reader.error_bound[:, :, None, None])
    for end in (0, 1):
        expected = np.concatenate([p.frame_ranges[end] for p in parts])
        assert np.array_equal(reader.frame_ranges[end], expected)
    assert reader.frame_table.digests == [d for p in parts for d in p.frame_table.digests]
    assert reader.vmin == frames.min(axis=(0, 2, 3)).tolist()
    assert reader.vmax == frames.max(axis=(0, 2, 3)).tolist()
    assert np.array_equal(reader[5], parts[2][0])  # seeking across a boundary
    report = validate_movie(out, paths)
    assert report.ok and report.digests, report.problems


def test_concat_refuses_auto_after_fixed(tmp_path, rng):
    a = write(tmp_path / "a.mkv", rng.random((1, 1, 4)), vmin=0, vmax=1)
    b = write(tmp_path / "b.mkv", rng.random((1, 1, 4)), [1.0])
    with pytest.raises(SegmentMismatchError, match="range"):
        concat_movies([a, b], tmp_path / "j.mkv")
    assert not (tmp_path / "j.mkv").exists()


def test_validate_join_whose_ranges_differ_from_its_segments(tmp_path, rng):
    """A self-consistent join (digests fine) with one frame's range changed is caught."""
    paths, _ = segments_with_different_ranges(tmp_path, rng)
    out = concat_movies(paths, tmp_path / "j.mkv")
    sidecar = Path(f"{out}.times")
    table = parse_table(sidecar.read_bytes())
    table.vmax[3, 0] += 1.0
    table.raw = None
    data = table.to_bytes()
    meta = MovieReader(out).meta
    meta.vmin, meta.vmax = table.envelope()
    meta.times_digest = times_digest(data)
    _rewrite_metadata(out, meta, "matroska", get_backend(None))
    sidecar.write_bytes(data)
    assert validate_movie(out).ok  # on its own it is consistent
    report = validate_movie(out, paths)
    assert not report.ok
    assert any("frame 3: range differs" in p for p in report.problems), report.problems


# ------------------------------------------------------------------ digests detect edits


@pytest.fixture
def movie(tmp_path, rng):
    frames = random_frames(rng, n=5, shape=(2, 16, 12))
    # no slice CRC: only the frame digest can notice a damaged payload
    return write(tmp_path / "d.mkv", frames, codec_options={"slicecrc": 0}), frames


def test_damaged_payload_caught_by_frame_digest(movie):
    path, _ = movie
    flip_byte_in_frame(path, 3)
    reader = MovieReader(path)
    with pytest.raises(MovieFormatError, match="frame 3"):
        reader[3]
    assert np.array_equal(reader[2], MovieReader(path)[2])  # other frames still read
    report = validate_movie(path)
    assert not report.ok
    assert any("frame 3" in p and "digest" in p for p in report.problems), report.problems


def test_edited_sidecar_line_refused(movie):
    path, _ = movie
    sidecar = Path(f"{path}.times")
    lines = sidecar.read_text().splitlines()
    fields = lines[2].split(" ")
    fields[3] = repr(float(fields[3]) * 2)  # vmax of u in frame 1
    lines[2] = " ".join(fields)
    sidecar.write_text("\n".join(lines) + "\n")
    with pytest.raises(MovieFormatError, match="times_digest"):
        MovieReader(path)
    report = validate_movie(path)
    assert not report.ok and any("times_digest" in p for p in report.problems)


def test_swapped_sidecars_refused(tmp_path, movie, rng):
    path, _ = movie
    other = write(tmp_path / "e.mkv", random_frames(rng, n=5, shape=(2, 16, 12)))
    a, b = Path(f"{path}.times"), Path(f"{other}.times")
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    for p in (path, other):
        with pytest.raises(MovieFormatError, match="another movie"):
            MovieReader(p)
        assert not validate_movie(p).ok


@pytest.mark.parametrize("edit", ["vmax", "components", "info", "drop_digest"])
def test_edited_metadata_refused(tmp_path, movie, edit):
    path, _ = movie
    obj = json.loads(comment(path))
    if edit == "vmax":
        obj["vmax"][0] = obj["vmax"][0] * 1.5
    elif edit == "components":
        obj["components"] = ["1", "0"]
        obj["range"] = {"1": "auto", "0": "auto"}
    elif edit == "info":
        obj["info"] = {"model": "other"}
    else:
        del obj["digest"]
    bad = tmp_path / "bad.mkv"
    remux_with_comment(path, bad, json.dumps(obj))
    shutil.copy(f"{path}.times", f"{bad}.times")
    with pytest.raises(MovieFormatError, match="digest"):
        MovieReader(bad)
    report = validate_movie(bad)
    assert not report.ok and any("digest" in p for p in report.problems), report.problems


def test_unfinished_writer_comment_is_not_a_movie(tmp_path, rng):
    """The comment tag a writer starts with has no envelope or digests: never readable."""
    meta = MovieMeta.create(components=["u"], grid_shape=(4,))
    with pytest.raises(MovieFormatError, match="finite number"):
        MovieMeta.from_json(meta.to_json())


# ------------------------------------------------------------------ version 1


@pytest.mark.parametrize("name", ["v1_2d.mkv", "v1_1d.mkv"])
def test_v1_movies_still_read_and_validate(tmp_path, name):
    src = V1_DATA / name
    frames = np.load(V1_DATA / f"{name}.npy")
    reader = MovieReader(src)
    assert reader.meta.version == 1 and reader.frame_table.digests is None
    data = reader.to_array()
    lo, hi = (np.asarray(v)[:, None] for v in (reader.vmin, reader.vmax))
    inside = (frames.reshape(3, len(lo), -1) >= lo) & (frames.reshape(3, len(lo), -1) <= hi)
    err = np.abs(data - frames).reshape(3, len(lo), -1)
    assert np.all(err[inside] <= np.broadcast_to(reader.error_bound[:, :, None], err.shape)[inside])
    clipped = np.clip(frames.reshape(3, len(lo), -1), lo, hi)
    assert np.all(np.abs(data.reshape(clipped.shape) - clipped) <= reader.error_bound.max())
    report = validate_movie(src)
    assert report.ok and report.digests is False, report.problems
    # v1 segments still join (into a v1 movie)
    for k in (0, 1):
        shutil.copy(src, tmp_path / f"{k}.mkv")
        Path(f"{tmp_path / f'{k}.mkv'}.times").write_text(
            f"{10.0 * k}\n{10.0 * k + 1}\n{10.0 * k + 2}\n"
        )
    out = concat_movies([tmp_path / "0.mkv", tmp_path / "1.mkv"], tmp_path / "j.mkv")
    joined = MovieReader(out)
    assert joined.meta.version == 1 and len(joined) == 6
    assert validate_movie(out, [tmp_path / "0.mkv", tmp_path / "1.mkv"]).ok


def test_v1_and_v2_segments_do_not_join(tmp_path):
    v2 = write(tmp_path / "v2.mkv", np.load(V1_DATA / "v1_1d.mkv.npy"), [5.0, 6.0, 7.0],
               components=["c"], vmin=-2, vmax=2, bits=8)  # fmt: skip
    with pytest.raises(SegmentMismatchError, match="version"):
        concat_movies([V1_DATA / "v1_1d.mkv", v2], tmp_path / "j.mkv")


# ------------------------------------------------------------------ the segment runner


def test_segment_runner_with_auto_ranges(tmp_path):
    """run_segment stores components whose ``range`` is "auto" with per-frame ranges."""
    from fieldmovie.simulation.segment import run_segment

    settings = {
        "sweep": "s", "point": "p0", "model": "gray_scott",
        "parameters": {"F": 0.03, "k": 0.06}, "seed": 0,
        "grid_shape": [32, 32], "grid_length": [2.5, 2.5],
        "frame_interval": 50.0, "frames_per_segment": 4, "bits": 16,
        "range": {"u": "auto", "v": "auto"},
    }  # fmt: skip
    paths, state = [], None
    for k in range(2):
        movie, state_out = tmp_path / f"seg{k}.mkv", tmp_path / f"state{k}.npz"
        run_segment(settings, k, movie, state_out, state_in=state)
        paths.append(movie)
        state = state_out
    joined = concat_movies(paths, tmp_path / "joined.mkv")
    with MovieReader(joined) as reader:
        assert reader.meta.range_mode == ["auto", "auto"] and reader.meta.clipped == [0, 0]
        lo, hi = reader.frame_ranges
        assert np.all(lo <= hi) and len(reader) == 8
    assert validate_movie(joined, paths).ok

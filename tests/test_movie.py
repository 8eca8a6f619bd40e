"""MovieWriter / MovieReader: round trips, times, random access, errors, atomicity, processes."""

from __future__ import annotations

import gc
import os
import re
import sys
import time
import warnings

import numpy as np
import pytest
from conftest import (
    _open_containers,
    child_processes,
    flip_byte_in_frame,
    wait_for_no_children,
    write_movie,
    write_plain_ffv1,
)

from fieldmovie import (
    ClippingWarning,
    FFmpegError,
    MovieFormatError,
    MovieReader,
    MovieWriter,
)
from fieldmovie.movie import _ffmpeg

pytestmark = pytest.mark.usefixtures("backend")

#: tests of the ffmpeg backend's process handling (run once, with that backend)
ffmpeg_backend_only = pytest.mark.parametrize("backend", ["ffmpeg"], indirect=True)


def half_step(bits, vmin=0.0, vmax=1.0):
    return 0.5 * (vmax - vmin) / (2**bits - 1) * (1 + 1e-9)


def dir_listing(path):
    return sorted(p.name for p in path.iterdir())


def snapshot(*paths):
    return {p: p.read_bytes() for p in paths}


# ------------------------------------------------------------------ round trips

# Sparse selection that covers each dimension, component count 1..7 and every bit depth,
# plus all the small edge grids (1, 2 and 3 px on a side).
ROUND_TRIPS = [
    # grid_shape, n_components, bits
    ((5,), 1, 16),
    ((1,), 2, 8),
    ((2,), 3, 10),
    ((3,), 7, 12),
    ((7, 1), 1, 10),
    ((1, 7), 4, 16),
    ((2, 2), 2, 12),
    ((2, 5), 5, 8),
    ((3, 3), 6, 16),
    ((9, 6), 3, 12),
    ((4, 3, 2), 2, 8),
    ((1, 1, 1), 1, 12),
    ((3, 4, 5), 7, 10),
    ((5, 2, 3), 1, 16),
]


def case_id(case):
    shape, n, bits = case
    return f"{'x'.join(map(str, shape))}-c{n}-b{bits}"


@pytest.mark.parametrize(
    ("grid_shape", "n_components", "bits"), ROUND_TRIPS, ids=map(case_id, ROUND_TRIPS)
)
def test_round_trip(tmp_path, make_frames, grid_shape, n_components, bits):
    vmin = -2.0 + np.arange(n_components)
    vmax = vmin + 3.0 + 0.5 * np.arange(n_components)
    frames = make_frames(3, n_components, grid_shape)
    frames = vmin[:, None] + frames.reshape(3, n_components, -1) * (vmax - vmin)[:, None]
    frames = frames.reshape(3, n_components, *grid_shape)
    times = [0.1, 1 / 3, 2.5e3]
    path = write_movie(
        tmp_path / "rt.mkv", frames, times, vmin=list(vmin), vmax=list(vmax), bits=bits
    )
    assert dir_listing(tmp_path) == ["rt.mkv", "rt.mkv.times"]

    reader = MovieReader(path)
    assert len(reader) == 3
    assert reader.grid_shape == grid_shape
    assert reader.frame_shape == (n_components, *grid_shape)
    assert reader.bits == bits
    assert reader.times.tolist() == times
    data = reader.to_array()
    assert data.shape == (3, n_components, *grid_shape)
    assert data.dtype == np.float64
    step = (vmax - vmin) / (2**bits - 1)
    err = np.abs(data - frames).reshape(3, n_components, -1).max(axis=(0, 2))
    assert np.all(err <= 0.5 * step * (1 + 1e-9)), err / step

    streamed = [(t, d) for t, d in reader]
    assert [t for t, _ in streamed] == times
    assert all(np.array_equal(d, data[i]) for i, (_, d) in enumerate(streamed))
    assert np.array_equal(reader[-1], data[2])
    assert np.array_equal(reader[1], data[1])


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_random_access_equals_streamed(tmp_path, make_frames, suffix):
    frames = make_frames(7, 2, (5, 4))
    path = write_movie(tmp_path / f"ra{suffix}", frames, bits=10)
    reader = MovieReader(path)
    data = reader.to_array()
    indices = range(-7, 7) if suffix == ".mkv" else (0, 3, 6, -1, -7)
    for i in indices:
        assert np.array_equal(reader[i], data[i]), i
    assert np.array_equal(reader[np.int64(3)], data[3])
    assert np.array_equal(reader[1:6:2], data[1:6:2])
    assert np.array_equal(reader[::-1], data[::-1])
    assert np.array_equal(reader[-3:], data[-3:])
    assert reader[4:2].shape == (0, 2, 5, 4)
    assert np.array_equal(reader[[5, 0, 5, -1]], data[[5, 0, 5, -1]])
    assert np.array_equal(reader[np.array([2, 6])], data[[2, 6]])
    assert np.array_equal(reader.read_frames(range(0, 7, 3)), data[::3])
    got = list(reader.iter_frames(2, 5))
    assert [t for t, _ in got] == reader.times[2:5].tolist()
    assert all(np.array_equal(d, data[2 + k]) for k, (_, d) in enumerate(got))
    with pytest.raises(IndexError):
        reader[7]
    with pytest.raises(IndexError):
        reader[-8]
    # returned arrays are fresh
    a = reader[0]
    a[:] = 99
    assert np.array_equal(reader[0], data[0])


@pytest.mark.parametrize(
    ("suffix", "fps"),
    [(".mkv", 1), (".mkv", 8), (".avi", 8), (".avi", 40), (".mkv", 100), (".avi", 100)],
)
def test_random_access_other_frame_rates(tmp_path, suffix, fps):
    """``fps`` is only the nominal container rate: seeking must still find every frame."""
    n = 8
    frames = np.broadcast_to((np.arange(n) / (n - 1))[:, None, None, None], (n, 1, 3, 3))
    path = write_movie(tmp_path / f"fps{suffix}", frames, bits=8, fps=fps)
    reader = MovieReader(path)
    data = reader.to_array()
    assert np.abs(data - frames).max() <= half_step(8)
    wrong = [i for i in range(n) if not np.array_equal(reader[i], data[i])]
    assert wrong == [], f"reader[i] returned another frame for i in {wrong}"
    assert np.array_equal(reader[3:6], data[3:6])


@pytest.mark.parametrize("fps", [0, 30, 125, 250, 2.5])
def test_unsupported_frame_rate_is_refused(tmp_path, fps):
    with pytest.raises(ValueError, match="fps must be an integer from 1 to 100 that divides 1000"):
        MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(4,), vmin=0, vmax=1, fps=fps)


@pytest.mark.parametrize(
    "times",
    [
        [0.1 * k for k in range(5)],
        [1e-300, 2e-300, 0.1 + 0.2, 1 / 3, 1e300],
        [-5.0, -1 / 7, 0.0, np.nextafter(0.0, 1.0), 1e-9],
    ],
    ids=["tenths", "extremes", "negative"],
)
def test_times_exact(tmp_path, times):
    frames = np.zeros((5, 1, 3))
    path = write_movie(tmp_path / "t.mkv", frames, times, bits=8)
    reader = MovieReader(path)
    assert reader.times.dtype == np.float64
    assert reader.times.tolist() == [float(t) for t in times]
    assert [t for t, _ in reader] == [float(t) for t in times]


def test_single_component_accepts_grid_shaped_frames(tmp_path):
    path = tmp_path / "s.mkv"
    with MovieWriter(path, components=["phi"], grid_shape=(4, 3), vmin=0, vmax=1) as w:
        w.append(np.full((4, 3), 0.25), 0)
        w.append(np.full((1, 4, 3), 0.75), 1)
        assert w.frames == 2
    data = MovieReader(path).to_array()
    assert data.shape == (2, 1, 4, 3)
    assert np.abs(data[:, 0, 0, 0] - [0.25, 0.75]).max() <= half_step(16)


def test_context_manager_and_repr(tmp_path, movie_factory):
    path, frames, _ = movie_factory(n_frames=2)
    with MovieReader(path) as reader:
        assert "frames=2" in repr(reader)
        assert reader.components == ["0", "1"]


# ------------------------------------------------------------------ writer errors


def test_time_not_increasing_names_frame(tmp_path):
    path = tmp_path / "m.mkv"
    with pytest.raises(ValueError, match="frame 2"):
        with MovieWriter(path, components=1, grid_shape=(3,), vmin=0, vmax=1) as w:
            w.append(np.zeros(3), 0.0)
            w.append(np.zeros(3), 1.0)
            w.append(np.zeros(3), 1.0)
    assert dir_listing(tmp_path) == []


@pytest.mark.parametrize("t", [float("nan"), float("inf")])
def test_non_finite_time_rejected(tmp_path, t):
    with pytest.raises(ValueError, match="frame 0"):
        with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(3,), vmin=0, vmax=1) as w:
            w.append(np.zeros(3), t)
    assert dir_listing(tmp_path) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_data_names_component_and_frame(tmp_path, bad):
    path = tmp_path / "m.mkv"
    frame = np.zeros((3, 4, 2))
    frame[2, 1, 1] = bad
    with pytest.raises(ValueError) as excinfo:
        with MovieWriter(
            path, components=["u", "v", "w"], grid_shape=(4, 2), vmin=0, vmax=1
        ) as writer:
            writer.append(np.zeros((3, 4, 2)), 0.0)
            writer.append(frame, 1.0)
    message = str(excinfo.value)
    assert "frame 1" in message
    assert "'w'" in message
    assert dir_listing(tmp_path) == []


@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 3, 1), (3, 4, 3), (4, 3)])
def test_wrong_shape_rejected(tmp_path, shape):
    with pytest.raises(ValueError, match="shape"):
        with MovieWriter(
            tmp_path / "m.mkv", components=2, grid_shape=(4, 3), vmin=0, vmax=1
        ) as writer:
            writer.append(np.zeros(shape), 0.0)
    assert dir_listing(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vmin": 1, "vmax": 1},
        {"vmin": 2, "vmax": 1},
        {"vmin": 0, "vmax": 1, "bits": 9},
        {"vmin": 0, "vmax": 1, "bits": 32},
        {"vmin": 0, "vmax": 1, "grid_shape": (2, 2, 2, 2)},
        {"vmin": 0, "vmax": 1, "grid_shape": (0, 3)},
        {"vmin": 0, "vmax": 1, "components": 0},
        {"vmin": 0, "vmax": 1, "components": ["a", "a"]},
        {"vmin": 0, "vmax": 1, "info": {"x": float("nan")}},
        {"vmin": 0, "vmax": 1, "codec_options": {"bogus": 1}},
        {"vmin": 0, "vmax": 1, "fps": 0},
    ],
)
def test_bad_settings_rejected(tmp_path, kwargs):
    kwargs = {"components": 2, "grid_shape": (3, 3), **kwargs}
    with pytest.raises(ValueError):
        MovieWriter(tmp_path / "m.mkv", **kwargs)
    assert dir_listing(tmp_path) == []


@pytest.mark.parametrize("name", ["m.mp4", "m.txt", "m", "m.webm"])
def test_unknown_suffix_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="suffix"):
        MovieWriter(tmp_path / name, components=1, grid_shape=(3,), vmin=0, vmax=1)
    assert dir_listing(tmp_path) == []


def test_no_frames_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(3,), vmin=0, vmax=1):
            pass
    assert dir_listing(tmp_path) == []


def test_append_after_close_rejected(tmp_path):
    writer = MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(3,), vmin=0, vmax=1)
    writer.append(np.zeros(3), 0)
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.append(np.zeros(3), 1)
    assert len(MovieReader(tmp_path / "m.mkv")) == 1


# ------------------------------------------------------------------ atomicity


class Boom(Exception):
    pass


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_exception_in_writer_leaves_nothing(tmp_path, make_frames, suffix):
    path = tmp_path / f"m{suffix}"
    with pytest.raises(Boom):
        with MovieWriter(path, components=2, grid_shape=(6, 5), vmin=0, vmax=1) as writer:
            for k, frame in enumerate(make_frames(3, 2, (6, 5))):
                writer.append(frame, k)
            raise Boom
    assert dir_listing(tmp_path) == []


def test_exception_keeps_existing_movie_untouched(tmp_path, movie_factory, make_frames):
    path, frames, times = movie_factory("old.mkv", n_frames=3)
    before = snapshot(path, tmp_path / "old.mkv.times")
    listing = dir_listing(tmp_path)
    with pytest.raises(Boom):
        with MovieWriter(path, components=2, grid_shape=(6, 5), vmin=0, vmax=1) as writer:
            for k, frame in enumerate(make_frames(5, 2, (6, 5))):
                writer.append(frame, 10 + k)
            raise Boom
    assert dir_listing(tmp_path) == listing
    assert snapshot(path, tmp_path / "old.mkv.times") == before
    # a data error in append is handled the same way
    with pytest.raises(ValueError):
        with MovieWriter(path, components=2, grid_shape=(6, 5), vmin=0, vmax=1) as writer:
            writer.append(frames[0], 0)
            writer.append(np.full((2, 6, 5), np.nan), 1)
    assert dir_listing(tmp_path) == listing
    assert snapshot(path, tmp_path / "old.mkv.times") == before
    reader = MovieReader(path)
    assert reader.times.tolist() == times
    assert np.abs(reader.to_array() - frames).max() <= half_step(16)


def test_failure_while_moving_into_place_keeps_existing_pair(tmp_path, movie_factory, monkeypatch):
    """If the final rename of the movie fails (disk error, crash), the old movie and its
    old ``.times`` must still belong together: the sidecar must not be replaced first."""
    path, frames, times = movie_factory("old.mkv", n_frames=3)
    times_file = tmp_path / "old.mkv.times"
    before = snapshot(path, times_file)
    real_replace = os.replace

    def failing_replace(src, dst, *args, **kwargs):
        if os.fspath(dst) == os.fspath(path):
            raise OSError("simulated failure while renaming the movie into place")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        write_movie(path, frames[:2], [10.0, 11.0])
    monkeypatch.undo()
    assert snapshot(path, times_file) == before
    assert dir_listing(tmp_path) == ["old.mkv", "old.mkv.times"]


def test_successful_write_replaces_existing_movie(tmp_path, movie_factory):
    path, _, _ = movie_factory("m.mkv", n_frames=3)
    path2, frames2, times2 = movie_factory("m.mkv", n_frames=2, times=[7.0, 8.0])
    assert path2 == path
    assert dir_listing(tmp_path) == ["m.mkv", "m.mkv.times"]
    reader = MovieReader(path)
    assert reader.times.tolist() == [7.0, 8.0]


def test_dropped_writer_is_cleaned_up(tmp_path, backend):
    writer = MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(4, 4), vmin=0, vmax=1)
    writer.append(np.zeros((4, 4)), 0)
    running = wait_for_no_children(grace=0) if backend == "ffmpeg" else _open_containers()
    assert running != []  # the encoder is running
    del writer
    gc.collect()
    assert wait_for_no_children() == []
    assert _open_containers() == []
    assert dir_listing(tmp_path) == []


# ------------------------------------------------------------------ clipping


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_clipping_counted_and_warned_once(tmp_path, suffix):
    path = tmp_path / f"c{suffix}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with MovieWriter(
            path, components=["a", "b", "c"], grid_shape=(4, 3), vmin=0, vmax=1, bits=8
        ) as writer:
            for k in range(6):
                frame = np.full((3, 4, 3), 0.5)
                frame[0, 0, 0] = -0.5  # 1 low value in a per frame
                frame[2, :2, 0] = 1.5 + k  # 2 high values in c per frame
                writer.append(frame, k)
    clipping = [w for w in caught if issubclass(w.category, ClippingWarning)]
    assert len(clipping) == 1
    assert "a" in str(clipping[0].message) and "c" in str(clipping[0].message)
    reader = MovieReader(path)
    assert reader.meta.clipped == [6, 0, 12]
    data = reader.to_array()
    assert np.all(data[:, 0, 0, 0] == 0.0)
    assert np.all(data[:, 2, :2, 0] == 1.0)
    assert np.abs(data[:, 1] - 0.5).max() <= half_step(8)


def test_values_at_the_limits_are_not_clipped(tmp_path):
    path = tmp_path / "edge.mkv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClippingWarning)
        with MovieWriter(path, components=1, grid_shape=(2,), vmin=-1, vmax=1, bits=12) as w:
            w.append(np.array([-1.0, 1.0]), 0)
    reader = MovieReader(path)
    assert reader.meta.clipped == [0]
    assert reader[0].tolist() == [[-1.0, 1.0]]


# ------------------------------------------------------------------ reader errors


def test_missing_times_sidecar(movie_factory):
    path, _, _ = movie_factory()
    os.unlink(f"{path}.times")
    with pytest.raises(MovieFormatError, match=re.escape(f"{path}.times")):
        MovieReader(path)


@pytest.mark.parametrize("keep", [0, 3, 5])
def test_times_sidecar_with_wrong_count(movie_factory, keep):
    path, _, times = movie_factory(n_frames=4)
    lines = [repr(t) for t in times] + ["9.0"]
    with open(f"{path}.times", "w") as fh:
        fh.write("".join(f"{line}\n" for line in lines[:keep]))
    with pytest.raises(MovieFormatError, match="times"):
        MovieReader(path)


def test_garbage_in_times_sidecar(movie_factory):
    path, _, _ = movie_factory(n_frames=2)
    with open(f"{path}.times", "w") as fh:
        fh.write("0.0\nhello\n")
    with pytest.raises(MovieFormatError, match="line 2"):
        MovieReader(path)


def test_missing_movie(tmp_path):
    with pytest.raises(FileNotFoundError):
        MovieReader(tmp_path / "nope.mkv")


def test_text_file_is_not_a_movie(tmp_path):
    path = tmp_path / "notes.mkv"
    path.write_text("this is not a movie\n" * 20)
    with pytest.raises(MovieFormatError):
        MovieReader(path)


def test_plain_ffmpeg_movie_is_rejected(tmp_path):
    path = tmp_path / "testsrc.mkv"
    write_plain_ffv1(path, 5, (32, 24), comment=None)
    with open(f"{path}.times", "w") as fh:
        fh.write("".join(f"{k}\n" for k in range(5)))
    with pytest.raises(MovieFormatError, match="metadata"):
        MovieReader(path)


def test_foreign_json_comment_is_rejected(tmp_path):
    path = tmp_path / "other.mkv"
    write_plain_ffv1(path, 2, (8, 8), comment='{"format": "other", "version": 1}')
    with pytest.raises(MovieFormatError):
        MovieReader(path)


def test_truncated_movie(movie_factory):
    path, _, _ = movie_factory(n_frames=8, grid_shape=(16, 12))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MovieFormatError):
        reader = MovieReader(path)
        reader.to_array()


def test_damaged_frame_raises_when_streaming(movie_factory):
    path, _, _ = movie_factory(n_frames=6, grid_shape=(16, 12))
    flip_byte_in_frame(path, 3, 6)
    reader = MovieReader(path)
    with pytest.raises(MovieFormatError, match="damaged"):
        reader.to_array()
    with pytest.raises(MovieFormatError):
        list(reader)


def test_damaged_frame_detected_by_random_access_regardless_of_timing(movie_factory, monkeypatch):
    """reader[i] of a frame with a slice CRC mismatch must raise, not return bad data.

    The stderr drain thread is delayed a little, as happens on a loaded machine, so the
    error must not depend on the thread having read FFmpeg's complaint before the pixels.
    """
    path, _, _ = movie_factory(n_frames=6, grid_shape=(16, 12))
    flip_byte_in_frame(path, 3, 6)
    original = _ffmpeg.FFmpegProcess._read_stderr

    def slow_drain(self):
        time.sleep(0.3)
        original(self)

    monkeypatch.setattr(_ffmpeg.FFmpegProcess, "_read_stderr", slow_drain)
    reader = MovieReader(path)
    with pytest.raises(MovieFormatError):
        reader[3]


# ------------------------------------------------------------------ processes


def test_breaking_out_of_iteration_ends_ffmpeg(movie_factory):
    path, _, _ = movie_factory(n_frames=12, grid_shape=(32, 24))
    reader = MovieReader(path)
    for _t, _d in reader:
        break
    assert wait_for_no_children() == []
    for k, (_t, _d) in enumerate(reader.iter_frames(2)):
        if k == 3:
            break
    assert wait_for_no_children() == []


def test_exception_while_iterating_ends_ffmpeg(movie_factory):
    path, _, _ = movie_factory(n_frames=12, grid_shape=(32, 24))
    reader = MovieReader(path)
    with pytest.raises(Boom):
        for _t, _d in reader:
            raise Boom
    assert wait_for_no_children() == []


def test_writer_exception_ends_ffmpeg(tmp_path, backend):
    with pytest.raises(Boom):
        with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(8, 8), vmin=0, vmax=1) as w:
            w.append(np.zeros((8, 8)), 0)
            assert (child_processes() if backend == "ffmpeg" else _open_containers()) != []
            raise Boom
    assert wait_for_no_children() == []
    assert _open_containers() == []


def write_script(tmp_path, name, body):
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    return script


@ffmpeg_backend_only
def test_open_process_kills_and_reaps_on_exception(tmp_path):
    sleeper = write_script(tmp_path, "ffmpeg", "import time\ntime.sleep(60)\n")
    with pytest.raises(Boom):
        with _ffmpeg.open_process([str(sleeper)], stdin=True, stdout=True) as proc:
            pid = proc.proc.pid
            assert any(p[0] == pid for p in child_processes())
            raise Boom
    assert proc.proc.returncode is not None  # reaped
    assert not os.path.exists(f"/proc/{pid}") or pid not in [p[0] for p in child_processes()]


@ffmpeg_backend_only
def test_open_process_with_lots_of_stderr_does_not_hang(tmp_path):
    """A stand-in that writes 1 MB to stderr before its stdout must not block."""
    noisy = write_script(
        tmp_path,
        "ffmpeg",
        "import sys\n"
        "for i in range(16384):\n"
        "    sys.stderr.write('x' * 63 + '\\n')\n"
        "sys.stderr.flush()\n"
        "sys.stdout.write('done')\n",
    )
    with _ffmpeg.open_process([str(noisy)], stdout=True) as proc:
        assert proc.stdout.read() == b"done"
        assert proc.wait(timeout=20) == 0
        assert len(proc.stderr) > 64 * 1024
    assert wait_for_no_children(("ffmpeg",)) == []


@ffmpeg_backend_only
def test_ffmpeg_debug_output_does_not_hang():
    """Real FFmpeg at ``-v debug`` prints far more than a pipe buffer while streaming."""
    args = ["ffmpeg", "-nostdin", "-v", "debug", "-debug_ts", "-f", "lavfi", "-i"]
    args += ["testsrc=size=64x48:rate=25:duration=2", "-vf", "showinfo"]
    args += ["-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"]
    with _ffmpeg.open_process(args, stdout=True) as proc:
        data = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
    assert len(data) == 50 * 64 * 48
    assert len(proc.stderr) > 64 * 1024


@ffmpeg_backend_only
def test_run_timeout_kills(tmp_path):
    sleeper = write_script(tmp_path, "ffprobe", "import time\ntime.sleep(60)\n")
    with pytest.raises(FFmpegError, match="timed out"):
        _ffmpeg.run([str(sleeper)], timeout=0.5)
    assert wait_for_no_children() == []


@ffmpeg_backend_only
def test_missing_executable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDMOVIE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FFmpegError, match="not found"):
        with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(3,), vmin=0, vmax=1) as w:
            w.append(np.zeros(3), 0)
    assert dir_listing(tmp_path) == []


@ffmpeg_backend_only
def test_failing_encoder_leaves_nothing(tmp_path, monkeypatch):
    """An 'ffmpeg' that dies at once: FFmpegError, no files, no process."""
    dead = write_script(tmp_path, "fake-ffmpeg", "import sys\nsys.exit(3)\n")
    out = tmp_path / "out"
    monkeypatch.setenv("FIELDMOVIE_FFMPEG", str(dead))
    with pytest.raises(FFmpegError):
        with MovieWriter(out / "m.mkv", components=1, grid_shape=(64, 64), vmin=0, vmax=1) as w:
            for k in range(50):
                w.append(np.zeros((64, 64)), k)
    assert dir_listing(out) == []
    assert wait_for_no_children(("fake-ffmpeg",)) == []


# ------------------------------------------------------------------ robustness extras


@pytest.mark.parametrize(
    ("grid_shape", "codec_options", "refused"),
    [
        ((7, 1), {"level": 3}, False),
        ((2, 2), {"slices": 4}, True),
        ((8, 8), {"slicecrc": 0}, False),
    ],
    ids=["1px-level3", "2px-4slices", "no-crc"],
)
def test_codec_options_never_corrupt_silently(tmp_path, rng, grid_shape, codec_options, refused):
    """An override that would decode wrongly is refused before anything is written (4 slices
    on a 2x2 picture make 1 px slices); the others round-trip (a 1 px high picture is stored
    doubled, so level 3 is safe; no slice CRC still decodes exactly)."""
    frames = rng.random((2, 1, *grid_shape))
    path = tmp_path / "m.mkv"
    if refused:
        with pytest.raises(ValueError, match="slices"):
            write_movie(path, frames, [0, 1], codec_options=codec_options)
        assert dir_listing(tmp_path) == []
        return
    write_movie(path, frames, [0, 1], codec_options=codec_options)
    with MovieReader(path) as reader:
        error = np.abs(reader.to_array() - frames).max(axis=(2, 3))
        assert (error <= reader.error_bound).all(), f"decodes with max error {error.max()}"


def test_large_info_is_rejected_clearly(tmp_path):
    """A big (200 kB) info dict is refused with a ValueError naming the limit, before
    anything is written (the metadata travels in the comment tag)."""
    info = {"blob": "x" * 200_000}
    path = tmp_path / "m.mkv"
    with pytest.raises(ValueError, match=r"metadata is \d+ bytes, more than 65536"):
        write_movie(path, np.zeros((1, 1, 3, 3)), [0.0], info=info)
    assert dir_listing(tmp_path) == []


def test_writer_survives_signals_during_write(tmp_path, rng):
    """Signals (timers, SIGCHLD handlers, ...) interrupt blocking pipe writes part-way.

    Frames of 2 MB each are larger than the pipe buffer, so a write blocks; a partial
    write must be completed, not silently dropped.
    """
    import signal

    frames = rng.random((4, 1, 1024, 1024))
    old = signal.signal(signal.SIGALRM, lambda signum, frame: None)
    signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
    try:
        write_movie(tmp_path / "sig.mkv", frames, [0, 1, 2, 3])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    reader = MovieReader(tmp_path / "sig.mkv")
    assert len(reader) == 4
    assert np.abs(reader[-1] - frames[-1]).max() <= half_step(16)


def test_context_manager_ends_unfinished_iterations(tmp_path, backend):
    """A held, unfinished iterator keeps FFmpeg (or the file) open until the block ends."""
    frames = np.random.default_rng(1).random((6, 1, 8, 8))
    path = write_movie(tmp_path / "m.mkv", frames)
    with MovieReader(path) as reader:
        stream = iter(reader)
        next(stream)
        running = child_processes() if backend == "ffmpeg" else _open_containers()
        assert running, "expected a running FFmpeg / open container while the iterator is open"
    assert wait_for_no_children() == []
    assert _open_containers() == []
    with pytest.raises(StopIteration):  # the iteration was ended
        next(stream)
    del stream

"""The writer's encode pipeline: same movies as before, errors surface, nothing leaks.

``MovieWriter`` encodes on a background thread (a bounded queue of pictures) and counts the
packets while rewriting the comment tag. The reference movies in ``tests/data/writer`` were
written before (encoding on the caller's thread, probing twice at close); writing the same
frames now must give the same packets, pictures, sidecar and metadata (apart from the
provenance).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import comment_tag, wait_for_no_children, write_movie

from fieldmovie import FFmpegError, MovieReader, MovieWriter
from fieldmovie.movie import writer as writer_module
from fieldmovie.movie.backends import get_backend
from fieldmovie.movie.backends.pyav import open_containers
from fieldmovie.movie.writer import _rewrite_metadata

DATA = Path(__file__).parent / "data" / "writer"
_spec = importlib.util.spec_from_file_location("writer_reference", DATA / "make_reference.py")
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


def encoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fieldmovie encoder")]


@pytest.fixture(autouse=True)
def no_leaked_encoder_thread():
    yield
    deadline = time.monotonic() + 2.0
    while encoder_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert encoder_threads() == [], "an encoder thread outlived the test"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ same movies as before


def _meta_without_provenance(path: Path) -> dict:
    meta = json.loads(comment_tag(path))
    assert meta.pop("backend")["name"] in ("pyav", "ffmpeg")
    meta.pop("digest")  # covers the provenance too
    return meta


@pytest.mark.parametrize("case", sorted(reference.CASES))
def test_movie_is_as_before_the_pipeline(tmp_path, backend, case):
    """Packets (same FFmpeg), decoded pictures, sidecar bytes and metadata apart from the
    provenance equal those of the reference written by the pre-pipeline writer."""
    ref = DATA / f"{case}-{backend}{reference.CASES[case][0]}"
    new = reference.write_case(case, tmp_path, backend)
    assert Path(f"{new}.times").read_bytes() == Path(f"{ref}.times").read_bytes()
    assert _meta_without_provenance(new) == _meta_without_provenance(ref)
    engine = get_backend(backend)
    old_scan, new_scan = engine.scan(ref), engine.scan(new)
    assert new_scan.frames == old_scan.frames  # decoded pictures (MD5 each)
    assert len(new_scan.frames) == reference.CASES[case][2]
    assert new_scan.pts == old_scan.pts
    if json.loads(comment_tag(ref))["backend"]["version"] == engine.version():
        assert new_scan.packets == old_scan.packets  # the same encoder: the same bytes
    with MovieReader(ref, backend=backend) as old, MovieReader(new, backend=backend) as now:
        assert np.array_equal(now.to_array(), old.to_array())
        assert now.meta.clipped == old.meta.clipped


# ------------------------------------------------------------------ encoder errors


class _FailingEncoder:
    """Wraps a real encoder; raises ``error`` when asked to encode frame ``fail_at``."""

    def __init__(self, inner, fail_at: int, error: BaseException, delay: float = 0.0) -> None:
        self.inner, self.fail_at, self.error, self.delay = inner, fail_at, error, delay
        self.written = 0
        self.closed = False

    def write(self, picture):
        if self.delay:
            time.sleep(self.delay)
        if self.written == self.fail_at:
            raise self.error
        self.inner.write(picture)
        self.written += 1

    def finish(self):
        self.inner.finish()

    def close(self):
        self.closed = True
        self.inner.close()


def failing_backend(fail_at: int, error: BaseException, delay: float = 0.0):
    """A copy of the pyav backend whose encoders fail at frame ``fail_at``."""
    base = type(get_backend("pyav"))
    made = []

    class Failing(base):
        def open_encoder(self, path, spec):
            made.append(_FailingEncoder(super().open_encoder(path, spec), fail_at, error, delay))
            return made[-1]

    return Failing(), made


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (RuntimeError("disk on fire"), r"encoding frame 3 failed: RuntimeError\('disk on fire'"),
        (FFmpegError("m.mkv: FFmpeg stopped at frame 3"), "FFmpeg stopped at frame 3"),
    ],
    ids=["other-error", "ffmpeg-error"],
)
def test_encoder_error_is_raised_by_a_later_append(tmp_path, error, match):
    """The error of the encoder thread is raised on the caller's thread, naming the frame,
    at an append() after it happened (at the latest the one after the queue filled up);
    nothing is written and everything is released."""
    engine, made = failing_backend(3, error, delay=0.002)
    raised_at = None
    with pytest.raises(FFmpegError, match=match):
        with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(16, 16), backend=engine,
                         vmin=0, vmax=1) as writer:  # fmt: skip
            for k in range(40):
                raised_at = k
                writer.append(np.full((16, 16), k / 40), k)
    # frame 3 fails; the caller is ahead by at most the queue and the picture in hand
    assert 3 < raised_at <= 3 + writer_module.QUEUE_DEPTH + 2
    assert made[0].closed
    assert listing(tmp_path) == []
    assert open_containers() == []


def test_encoder_error_at_the_last_frame_is_raised_by_close(tmp_path):
    engine, made = failing_backend(4, RuntimeError("late"))
    writer = MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(8, 8), backend=engine,
                         vmin=0, vmax=1)  # fmt: skip
    for k in range(5):
        writer.append(np.zeros((8, 8)), k)
    with pytest.raises(FFmpegError, match="encoding frame 4 failed"):
        writer.close()
    assert made[0].closed
    assert listing(tmp_path) == []
    assert open_containers() == []
    writer.close()  # closed: nothing more happens


def test_appending_after_an_encoder_error_raises_again(tmp_path):
    engine, _ = failing_backend(0, RuntimeError("at once"))
    writer = MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(8, 8), backend=engine,
                         vmin=0, vmax=1)  # fmt: skip
    writer.append(np.zeros((8, 8)), 0)
    with pytest.raises(FFmpegError, match="frame 0"):
        for k in range(1, 20):
            writer.append(np.zeros((8, 8)), k)
    with pytest.raises(FFmpegError, match="frame 0"):
        writer.append(np.zeros((8, 8)), 100)
    writer.abort()
    assert listing(tmp_path) == []


# ------------------------------------------------------------------ abort, drop, memory


def test_abort_stops_the_thread_and_closes_the_container(tmp_path, backend):
    """abort() with pictures still queued: the thread is joined, the encoder released (no
    open container, no ffmpeg child), the partial file removed."""
    writer = MovieWriter(tmp_path / "m.mkv", components=2, grid_shape=(64, 64), vmin=0, vmax=1)
    frame = np.random.default_rng(0).random((2, 64, 64))
    for k in range(8):
        writer.append(frame, k)
    assert len(encoder_threads()) == 1
    writer.abort()
    assert encoder_threads() == []
    assert open_containers() == []
    assert wait_for_no_children() == []
    assert listing(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        writer.append(frame, 9)


def test_dropped_writer_leaves_no_thread(tmp_path, backend):
    writer = MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(32, 32), vmin=0, vmax=1)
    for k in range(4):
        writer.append(np.zeros((32, 32)), k)
    assert len(encoder_threads()) == 1
    del writer
    gc.collect()
    assert encoder_threads() == []
    assert open_containers() == []
    assert wait_for_no_children() == []
    assert listing(tmp_path) == []


def test_close_joins_the_thread(tmp_path, backend):
    frames = np.random.default_rng(1).random((5, 1, 16, 16))
    path = write_movie(tmp_path / "m.mkv", frames)
    assert encoder_threads() == []
    with MovieReader(path) as reader:
        assert len(reader) == 5
        assert (np.abs(reader.to_array() - frames) <= reader.error_bound[:, :, None, None]).all()


def test_a_slow_encoder_holds_few_pictures(tmp_path):
    """The queue is bounded: the caller waits for a slow encoder instead of piling up
    pictures (memory stays a few pictures whatever the movie's length)."""
    engine, made = failing_backend(-1, RuntimeError("never"), delay=0.005)
    ahead = []
    with MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(16, 16), backend=engine,
                     vmin=0, vmax=1) as writer:  # fmt: skip
        for k in range(30):
            writer.append(np.zeros((16, 16)), k)
            ahead.append(writer.frames - made[0].written)
    assert max(ahead) <= writer_module.QUEUE_DEPTH + 2
    with MovieReader(tmp_path / "m.mkv") as reader:
        assert len(reader) == 30


# ------------------------------------------------------------------ counting at close


def test_set_comment_returns_the_packets_copied(tmp_path, backend):
    frames = np.random.default_rng(2).random((7, 1, 8, 8))
    path = write_movie(tmp_path / "m.mkv", frames)
    out = tmp_path / "c.mkv"
    copied = get_backend(backend).set_comment(path, out, container="matroska", comment="{}")
    assert copied == 7
    assert comment_tag(out) == "{}"


def test_rewriting_the_metadata_checks_the_frame_count(tmp_path, backend):
    """A stream copy that keeps fewer frames than were encoded is an error; the file is
    left as it was and no temporary file remains."""
    frames = np.random.default_rng(3).random((4, 1, 8, 8))
    path = write_movie(tmp_path / "m.mkv", frames)
    before = path.read_bytes()
    meta = MovieReader(path).meta
    with pytest.raises(FFmpegError, match="kept 4 of 5 frames"):
        _rewrite_metadata(path, meta, "matroska", get_backend(backend), frames=5)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["m.mkv", "m.mkv.times"]
    _rewrite_metadata(path, meta, "matroska", get_backend(backend))  # probed: 4
    assert listing(tmp_path) == ["m.mkv", "m.mkv.times"]


# ------------------------------------------------------------------ the quantization fast path


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_quantizing_inside_the_range_is_bit_identical(rng, bits):
    """The fast path for data known to lie inside the range (``inside``, the writer's)
    equals the full quantization exactly:
    values at both ends, a constant component, negative and huge ranges, tiny spans."""
    from fieldmovie.movie import codec

    cases = [(0.0, 1.0), (-3.5, 2.25), (1e300, 1.5e300), (-1e-300, 1e-300), (7.0, 7.0),
             (1.0, np.nextafter(1.0, 2.0)), (-1e6, -1e6 + 1e-9)]  # fmt: skip
    for _ in range(3):
        lo = np.array([a for a, _ in cases])
        hi = np.array([b for _, b in cases])
        data = lo[:, None, None] + rng.random((len(cases), 9, 7)) * (hi - lo)[:, None, None]
        data = np.minimum(np.maximum(data, lo[:, None, None]), hi[:, None, None])
        data[:, 0, 0], data[:, -1, -1] = lo, hi  # both ends
        want, clipped = codec.quantize(data, lo, hi, bits)
        assert not clipped.any()
        got, _ = codec.quantize(data, lo, hi, bits, inside=True)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)

"""Shared fixtures: the FFmpeg backends, random smooth fields, a movie-writing helper, and
the leak check (autouse: no ffmpeg/ffprobe child and no open PyAV container outlives a test).

Helpers that inspect files use PyAV directly (libav itself, not fieldmovie's code), so they
need no system FFmpeg.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

FFMPEG_NAMES = ("ffmpeg", "ffprobe")


def child_processes(names: Sequence[str] = FFMPEG_NAMES) -> list[tuple[int, str, str]]:
    """(pid, comm, state) of this process's children (zombies included) named in ``names``."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:  # the process ended meanwhile
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split at the last ')'
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me and comm in names:
            found.append((int(entry), comm, state))
    return found


def wait_for_no_children(names: Sequence[str] = FFMPEG_NAMES, grace: float = 1.0) -> list:
    """Poll up to ``grace`` seconds until no such child is left; return what remains."""
    deadline = time.monotonic() + grace
    while True:
        left = child_processes(names)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _open_containers() -> list[str]:
    from fieldmovie.movie.backends.pyav import open_containers

    return open_containers()


@pytest.fixture(autouse=True)
def no_leaked_ffmpeg():
    """Fail the test if an ffmpeg/ffprobe child (running or unreaped) or an open PyAV
    container (a file handle of the pyav backend) outlives it."""
    before = {pid for pid, _, _ in child_processes()}
    open_before = _open_containers()
    yield
    left = [p for p in wait_for_no_children() if p[0] not in before]
    assert not left, f"FFmpeg child processes left behind: {left}"
    still_open = _open_containers()
    if len(still_open) > len(open_before):
        gc.collect()  # readers dropped without close() are closed when collected
        still_open = _open_containers()
    assert len(still_open) <= len(open_before), f"PyAV containers left open: {still_open}"


def system_ffmpeg() -> bool:
    """True when the ffmpeg and ffprobe executables are installed."""
    return bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))


#: skip mark for tests that run the system's ffmpeg/ffprobe themselves
needs_system_ffmpeg = pytest.mark.skipif(
    not system_ffmpeg(),
    reason="no system ffmpeg/ffprobe (install with: bash bootstrap.sh --ffmpeg)",
)

BACKENDS = ("pyav", "ffmpeg")


# the subprocess backend's runs are `slow`: the quick loop (-m "not slow") covers the
# default in-process backend, the full suite (CI) both
@pytest.fixture(params=["pyav", pytest.param("ffmpeg", marks=pytest.mark.slow)])
def backend(request, monkeypatch) -> str:
    """Each FFmpeg backend in turn, made the default through ``FIELDMOVIE_BACKEND``.

    The ``ffmpeg`` backend is skipped (with a message) when no system FFmpeg is installed;
    its runs are marked ``slow``.
    """
    name = request.param
    if name == "ffmpeg" and not system_ffmpeg():
        pytest.skip("ffmpeg backend: no system ffmpeg/ffprobe (bash bootstrap.sh --ffmpeg)")
    monkeypatch.setenv("FIELDMOVIE_BACKEND", name)
    return name


def other_backend(name: str) -> str:
    """The backend that is not ``name``."""
    return "ffmpeg" if name == "pyav" else "pyav"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def smooth_field(
    rng: np.random.Generator,
    n_components: int,
    grid_shape: Sequence[int],
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> np.ndarray:
    """Random smooth data ``(n_components, *grid_shape)`` inside ``[vmin, vmax]``."""
    axes = np.meshgrid(*[np.linspace(0, 1, n) for n in grid_shape], indexing="ij")
    out = np.empty((n_components, *grid_shape))
    for c in range(n_components):
        phase = rng.uniform(0, 2 * np.pi, size=len(grid_shape))
        freq = rng.uniform(0.5, 2.0, size=len(grid_shape))
        wave = np.ones(tuple(grid_shape))
        for x, f, p in zip(axes, freq, phase, strict=True):
            wave = wave * np.sin(2 * np.pi * f * x + p)
        out[c] = vmin + (vmax - vmin) * (0.5 + 0.45 * wave)
    return out


@pytest.fixture
def make_frames(rng) -> Callable[..., np.ndarray]:
    """``make_frames(n_frames, n_components, grid_shape, vmin=0, vmax=1)`` -> smooth frames."""

    def make(n_frames, n_components, grid_shape, vmin=0.0, vmax=1.0):
        return np.stack(
            [smooth_field(rng, n_components, grid_shape, vmin, vmax) for _ in range(n_frames)]
        )

    return make


def write_movie(
    path: str | os.PathLike, frames: np.ndarray, times: Sequence[float] | None = None, **kwargs
) -> Path:
    """Write ``frames`` (``(n, n_components, *grid)``) with MovieWriter; defaults vmin=0, vmax=1."""
    from fieldmovie import MovieWriter

    frames = np.asarray(frames)
    if times is None:
        times = [0.5 * k for k in range(len(frames))]
    kwargs.setdefault("components", frames.shape[1])
    kwargs.setdefault("grid_shape", frames.shape[2:])
    kwargs.setdefault("vmin", 0.0)
    kwargs.setdefault("vmax", 1.0)
    with MovieWriter(path, **kwargs) as writer:
        for frame, t in zip(frames, times, strict=True):
            writer.append(frame, t)
    return Path(path)


@pytest.fixture
def movie_factory(tmp_path, make_frames):
    """``movie_factory(name, n_frames=4, n_components=2, grid_shape=(6, 5), **writer_kwargs)``.

    Writes a movie of smooth frames into ``tmp_path``; returns ``(path, frames, times)``.
    """

    def factory(name="movie.mkv", n_frames=4, n_components=2, grid_shape=(6, 5), **kwargs):
        times = kwargs.pop("times", None)
        frames = make_frames(n_frames, n_components, grid_shape)
        if times is None:
            times = [0.25 * k for k in range(n_frames)]
        path = write_movie(tmp_path / name, frames, times, **kwargs)
        return path, frames, list(times)

    return factory


def packet_positions(path: Path) -> list[tuple[int, int]]:
    """(size, file position) of every stored video packet, read with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(p.size, p.pos) for p in container.demux(stream) if p.size]


def flip_byte_in_frame(path: Path, frame_index: int, n_frames: int | None = None) -> None:
    """Flip a byte in the middle of the stored frame ``frame_index`` (via packet positions)."""
    packets = packet_positions(path)
    assert n_frames is None or len(packets) == n_frames
    size, pos = packets[frame_index]
    data = bytearray(path.read_bytes())
    data[pos + size // 2] ^= 0x5A
    path.write_bytes(bytes(data))


def comment_tag(path: Path) -> str:
    """The container's comment tag, read with PyAV."""
    import av

    with av.open(str(path)) as container:
        return {k.lower(): v for k, v in container.metadata.items()}["comment"]


def stream_facts(path: Path) -> dict:
    """codec_name, pix_fmt, width, height and frames of the first video stream (PyAV)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        frames = sum(1 for _ in container.decode(stream))
        return {"codec_name": ctx.codec.name, "pix_fmt": ctx.pix_fmt, "width": ctx.width,
                "height": ctx.height, "frames": frames}  # fmt: skip


def raw_pictures(path: Path, pix_fmt: str, width: int, height: int) -> np.ndarray:
    """All frames decoded by plain libav (PyAV) as ``pix_fmt`` pixels: (frames, h, w)."""
    import av

    dtype = np.uint8 if pix_fmt == "gray" else np.dtype("<u2")
    with av.open(str(path)) as container:
        pictures = [f.to_ndarray(format=pix_fmt) for f in container.decode(video=0)]
    return np.asarray(pictures, dtype=dtype).reshape(-1, height, width)


def write_plain_ffv1(path: Path, n_frames: int, size: tuple[int, int], comment: str | None) -> None:
    """A gray FFV1 movie that fieldmovie did not write (optional comment tag), via PyAV."""
    import av

    width, height = size
    with av.open(str(path), "w") as container:
        if comment is not None:
            container.metadata["comment"] = comment
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "gray"
        for k in range(n_frames):
            picture = ((np.arange(width * height) + 7 * k) % 256).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture.reshape(height, width), format="gray")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

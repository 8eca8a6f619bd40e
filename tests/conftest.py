"""Shared fixtures: random smooth fields, a movie-writing helper, an FFmpeg leak check."""

from __future__ import annotations

import os
import subprocess
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


@pytest.fixture
def no_leaked_ffmpeg():
    """Fail the test if an ffmpeg/ffprobe child (running or unreaped) outlives it."""
    before = {pid for pid, _, _ in child_processes()}
    yield
    left = [p for p in wait_for_no_children() if p[0] not in before]
    assert not left, f"FFmpeg child processes left behind: {left}"


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


def flip_byte_in_frame(path: Path, frame_index: int, n_frames: int | None = None) -> None:
    """Flip a byte in the middle of the stored frame ``frame_index`` (via packet positions)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
        + ["packet=pos,size", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    packets = [tuple(map(int, line.split(",")[:2])) for line in out]
    assert n_frames is None or len(packets) == n_frames
    size, pos = packets[frame_index]
    data = bytearray(path.read_bytes())
    data[pos + size // 2] ^= 0x5A
    path.write_bytes(bytes(data))

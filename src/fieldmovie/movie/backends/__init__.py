"""FFmpeg backends: ``pyav`` (in-process, the default when ``av`` imports) and ``ffmpeg``
(the system's executables as subprocesses).

Choose per call (``backend="ffmpeg"`` on MovieWriter, MovieReader, concat_movies,
validate_movie, encode_h264) or for the process with ``FIELDMOVIE_BACKEND``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np

from .base import Backend, Decoder, EncoderSpec, H264Encoder, PictureEncoder, Scan

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "Decoder",
    "EncoderSpec",
    "H264Encoder",
    "PictureEncoder",
    "Scan",
    "default_backend_name",
    "encode_h264",
    "get_backend",
    "pyav_available",
]

#: the backends, in order of preference
BACKEND_NAMES = ("pyav", "ffmpeg")
ENV_VAR = "FIELDMOVIE_BACKEND"


@cache
def pyav_available() -> bool:
    """True when PyAV (``av``) imports."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def default_backend_name() -> str:
    """``$FIELDMOVIE_BACKEND`` if set, else ``pyav`` when ``av`` imports, else ``ffmpeg``."""
    name = os.environ.get(ENV_VAR, "").strip()
    if name:
        return _checked(name, f"${ENV_VAR}")
    return "pyav" if pyav_available() else "ffmpeg"


def _checked(name: str, where: str) -> str:
    if name not in BACKEND_NAMES:
        raise ValueError(
            f"{where}: unknown FFmpeg backend {name!r}; allowed: {list(BACKEND_NAMES)}"
        )
    return name


@cache
def _instance(name: str) -> Backend:
    if name == "pyav":
        if not pyav_available():
            raise ImportError("the pyav backend needs PyAV: pip install av")
        from .pyav import PyAVBackend

        return PyAVBackend()
    from .ffmpeg_cli import FFmpegBackend

    return FFmpegBackend()


def get_backend(backend: str | Backend | None = None) -> Backend:
    """The backend named ``backend`` (an instance passes through; None: the default)."""
    if isinstance(backend, Backend):
        return backend
    name = default_backend_name() if backend is None else _checked(str(backend), "backend")
    return _instance(name)


def encode_h264(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    threads: int = 0,
    crf: int = 20,
    preset: str = "medium",
    backend: str | Backend | None = None,
) -> int:
    """Encode RGB pictures into a browser-playable H.264 mp4 at ``path``; return the count.

    Every picture is an ``(height, width, 3)`` uint8 rgb24 array of the first one's shape
    (even height and width); it becomes BT.709 limited-range yuv420p, ``libx264`` with
    ``crf``/``preset``/``threads`` (0: automatic), mp4 with ``+faststart``. Pictures are
    streamed. ``path`` is written directly (callers write to a temporary name).

    Raises:
        ValueError: no pictures, odd sides, or a picture of another shape or dtype.
        FFmpegError: FFmpeg failed (what it said is attached).
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"{path}: no pictures to encode")
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[2] != 3 or first.shape[0] % 2 or first.shape[1] % 2:
        raise ValueError(
            f"{path}: picture of shape {first.shape}; need (height, width, 3) with even sides"
        )
    height, width = first.shape[:2]
    encoder = get_backend(backend).open_h264(
        Path(path), width, height, fps=fps, threads=threads, crf=crf, preset=preset
    )
    try:
        encoder.append(first)
        for picture in iterator:
            encoder.append(np.asarray(picture))
        return encoder.close()
    finally:
        encoder.abort()

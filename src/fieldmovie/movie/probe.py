"""What a backend's probe says about a movie file: container, stream, comment tag, packet count."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .sidecar import format_times, read_times, times_path, write_times  # noqa: F401 - re-exported

__all__ = ["StreamInfo", "probe", "times_path", "read_times", "write_times"]

#: container format by file suffix
CONTAINERS = {".mkv": "matroska", ".avi": "avi"}


@dataclass
class StreamInfo:
    """The video stream of a movie file as ffprobe reports it."""

    path: Path
    container: str
    codec_name: str
    pix_fmt: str
    width: int
    height: int
    frame_rate: Fraction
    packets: int
    comment: str | None
    size: int


def container_for(path: str | os.PathLike) -> str:
    """FFmpeg muxer name for a movie path (``.mkv`` or ``.avi``)."""
    suffix = Path(path).suffix.lower()
    try:
        return CONTAINERS[suffix]
    except KeyError:
        raise ValueError(
            f"{path}: unsupported movie suffix {suffix!r}; allowed: {sorted(CONTAINERS)}"
        ) from None


def probe(
    path: str | os.PathLike, *, count_packets: bool = True, backend: Any = None
) -> StreamInfo:
    """Probe the first video stream of ``path`` (counting its packets demuxes the whole file).

    ``backend``: a backend name or instance (see :mod:`fieldmovie.movie.backends`).
    """
    from .backends import get_backend

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"movie {path} does not exist")
    return get_backend(backend).probe(path, count_packets=count_packets)

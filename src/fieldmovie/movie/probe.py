"""What ffprobe says about a movie file: container, stream, comment tag, packet count."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ._ffmpeg import FFmpegError, ffprobe_executable, run
from .metadata import MovieFormatError
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


def probe(path: str | os.PathLike, *, count_packets: bool = True) -> StreamInfo:
    """Probe the first video stream of ``path`` (counting its packets demuxes the whole file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"movie {path} does not exist")
    args = [ffprobe_executable(), "-v", "error", "-show_format", "-show_streams"]
    if count_packets:
        args.append("-count_packets")
    args += ["-select_streams", "v:0", "-of", "json", str(path)]
    try:
        out = run(args, what=str(path))
    except FFmpegError as exc:
        raise MovieFormatError(f"{path}: not a readable movie file.\n{exc}") from None
    try:
        info = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise MovieFormatError(f"{path}: ffprobe gave unreadable output") from None
    streams = info.get("streams") or []
    if not streams:
        raise MovieFormatError(f"{path}: contains no video stream")
    stream, fmt = streams[0], info.get("format", {})
    tags = {k.lower(): v for k, v in (fmt.get("tags") or {}).items()}
    rate = stream.get("r_frame_rate") or stream.get("avg_frame_rate") or "0/1"
    try:
        frame_rate = Fraction(rate)
    except (ValueError, ZeroDivisionError):
        frame_rate = Fraction(0)
    return StreamInfo(
        path=path,
        container=fmt.get("format_name", ""),
        codec_name=stream.get("codec_name", ""),
        pix_fmt=stream.get("pix_fmt", ""),
        width=int(stream.get("width", 0)),
        height=int(stream.get("height", 0)),
        frame_rate=frame_rate,
        packets=int(stream.get("nb_read_packets", -1)) if count_packets else -1,
        comment=tags.get("comment"),
        size=path.stat().st_size,
    )

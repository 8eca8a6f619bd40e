"""Validation of a movie: decode every frame, check counts, times, metadata and checksums."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._ffmpeg import FFmpegError, damage_lines
from .atomic import write_json
from .backends import Backend, get_backend
from .frames import digest_problems, segment_problems
from .metadata import MovieFormatError
from .probe import probe, read_times, times_path
from .reader import MovieReader

__all__ = [
    "ValidationError",
    "ValidationReport",
    "check_movie",
    "frame_checksums",
    "validate_movie",
]


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_movie`; ``ok`` is true when ``problems`` is empty."""

    path: str
    frames: int = 0
    expected_frames: int | None = None
    problems: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    grid_shape: list[int] = field(default_factory=list)
    bits: int | None = None
    time_range: list[float] | None = None
    clipped: dict[str, int] | None = None
    segments: list[str] | None = None
    #: True: frames, times and metadata were checked against their digests (format 2);
    #: False: the movie carries none (format 1, py-pde); None: it could not be opened
    digests: bool | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "path": self.path,
            "ok": self.ok,
            "frames": self.frames,
            "expected_frames": self.expected_frames,
            "problems": list(self.problems),
            "components": self.components,
            "grid_shape": self.grid_shape,
            "bits": self.bits,
            # strict JSON: a non-finite time (itself a problem) is written as a string
            "time_range": None
            if self.time_range is None
            else [t if math.isfinite(t) else repr(t) for t in self.time_range],
            "clipped": self.clipped,
            "segments": self.segments,
            "digests": self.digests,
        }


def frame_checksums(
    path: str | os.PathLike, *, decode: bool = True, backend: str | Backend | None = None
) -> tuple[list[str], str, list[float]]:
    """MD5 of every frame of ``path``, what FFmpeg said while decoding, and timestamps.

    With ``decode=False`` the checksums are of the stored (compressed) packets, computed
    without decoding: two files whose packets match are bit-identical streams (both
    backends compute the same packet checksums). The timestamps (seconds) are the packets'
    presentation times.
    """
    scan = get_backend(backend).scan(Path(path), decode=decode)
    return (scan.frames if decode else scan.packets), scan.log, scan.pts


_AT_SECONDS = re.compile(r"at (\d+(?:\.\d+)?) seconds")


def _damaged_frames(errors: list[str], frame_rate: float) -> list[int]:
    """Frame indices named by FFmpeg's error lines (FFV1 says "... at 0.400000 seconds")."""
    frames: list[int] = []
    for line in errors:
        m = _AT_SECONDS.search(line)
        if m and frame_rate > 0:
            i = round(float(m.group(1)) * frame_rate)
            if i not in frames:
                frames.append(i)
    return frames


def validate_movie(
    path: str | os.PathLike,
    segments: Sequence[str | os.PathLike] | None = None,
    *,
    backend: str | Backend | None = None,
) -> ValidationReport:
    """Check a movie thoroughly; problems are collected, not raised.

    Decodes every frame (FFmpeg errors such as slice CRC mismatches or a truncated file are
    problems, naming the frame where it can be located, even though FFmpeg exits with 0),
    checks that the frame count equals the lines of ``.times``, that times are finite and
    strictly increasing, and that the metadata parses and matches the stream. Format 2:
    the metadata, the sidecar (``times_digest``) and every decoded frame are checked
    against their digests, the ranges against the envelope. With ``segments``, the
    per-frame checksums, times, ranges and digests of the movie must equal those of the
    segments in order. ``backend``: see :class:`~fieldmovie.MovieWriter`.
    """
    path = Path(path)
    engine = get_backend(backend)
    report = ValidationReport(path=str(path))
    try:
        _validate(path, segments, engine, report)
    except Exception as exc:  # noqa: BLE001 - a bad file is a reported problem, never a raise
        report.problems.append(f"{path}: cannot be validated: {type(exc).__name__}: {exc}")
    return report


def _validate(
    path: Path,
    segments: Sequence[str | os.PathLike] | None,
    engine: Backend,
    report: ValidationReport,
) -> None:
    """The checks of :func:`validate_movie`, adding to ``report``."""
    problems = report.problems
    try:
        reader = MovieReader(path, backend=engine)
    except MovieFormatError as exc:
        # fall back to the parts that can still be checked, to say as much as possible
        problems.append(str(exc))
        reader = None
    except OSError as exc:  # missing, permission denied, an I/O error
        problems.append(f"{path}: cannot be read: {exc.strerror or exc} ({type(exc).__name__})")
        return
    if reader is not None:
        reader.close()  # what is needed from it is read; the scan below decodes every frame
        meta = reader.meta
        report.components = list(meta.components)
        report.grid_shape = list(meta.grid_shape)
        report.bits = meta.bits
        if meta.clipped is not None:
            report.clipped = dict(zip(meta.components, meta.clipped, strict=True))
        report.digests = reader.frame_table is not None and reader.frame_table.digests is not None
    if reader is not None:  # its times (py-pde movies may define them by t_start and dt)
        times: list[float] | None = [float(t) for t in reader.times]
    else:
        try:
            times = read_times(times_path(path))
        except (MovieFormatError, OSError):
            times = None  # the reader's error above already says so
    if times is not None:
        report.expected_frames = len(times)
        if times:
            report.time_range = [times[0], times[-1]]
        for i, t in enumerate(times):
            if not math.isfinite(t):
                problems.append(f"{times_path(path)}: time of frame {i} is {t}")
                break
            if i and not t > times[i - 1]:
                problems.append(
                    f"{times_path(path)}: time of frame {i} ({t!r}) is not after "
                    f"frame {i - 1} ({times[i - 1]!r})"
                )
                break
    try:  # every frame decoded; the stored packets' checksums (vs segments) and times
        scan = engine.scan(path, decode=True)
    except (FFmpegError, MovieFormatError) as exc:
        problems.append(f"{path}: cannot be decoded: {exc}")
        return
    sums, stderr, packets, pts = scan.frames, scan.log, scan.packets, scan.pts
    report.frames = len(sums)
    if reader is not None and reader.meta.origin == "fieldmovie":
        _check_timestamps(path, reader, pts, problems)
    errors = damage_lines(stderr)
    if errors:
        rate = float(reader.frame_rate) if reader is not None else 0.0
        damaged = _damaged_frames(errors, rate)
        where = f"frame(s) {damaged[:20]}" if damaged else f"after frame {len(sums) - 1}"
        problems.append(f"{path}: FFmpeg reported damaged data ({where}): " + "; ".join(errors[:5]))
    if times is not None and len(sums) != len(times):
        problems.append(
            f"{path}: {len(sums)} frames decoded but {times_path(path)} lists {len(times)} times"
        )
    if reader is not None:
        # every frame reached by seeking and (format 2) checked against its digest, through
        # a reader kept open (the one above was closed for the scan)
        with MovieReader(path, backend=engine) as again:
            problems += digest_problems(again)
    if segments is not None:
        report.segments = [str(s) for s in segments]
        _compare_with_segments(path, segments, times, packets, problems, engine)
        problems += segment_problems(path, reader and reader.frame_table, segments, engine)


def _check_timestamps(
    path: Path, reader: MovieReader, pts: list[float], problems: list[str]
) -> None:
    """Frame i must sit at i / fps: seeking (``reader[i]``) relies on it."""
    step = 1 / float(reader.frame_rate)
    for i, t in enumerate(pts):
        if abs(t - i * step) > 0.2 * step:
            problems.append(
                f"{path}: frame {i} has the timestamp {t:.4f} s, expected {i * step:.4f} s "
                f"(frame {i} at {reader.frame_rate} fps); seeking would find the wrong frame"
            )
            return


def _compare_with_segments(
    path: Path,
    segments: Sequence[str | os.PathLike],
    times: list[float] | None,
    joined: list[str],
    problems: list[str],
    engine: Backend,
) -> None:
    """The joined movie must hold the segments' packets and times, in order."""
    expected: list[str] = []
    expected_times: list[float] = []
    owner: list[tuple[str, int]] = []
    for seg in segments:
        try:
            sums = engine.scan(Path(seg), decode=False).packets
            probe(seg, count_packets=False, backend=engine)
            seg_times = read_times(times_path(seg))
        except (FFmpegError, MovieFormatError, FileNotFoundError) as exc:
            problems.append(f"segment {seg}: {exc}")
            return
        expected += sums
        expected_times += seg_times
        owner += [(str(seg), i) for i in range(len(sums))]
    if len(joined) != len(expected):
        problems.append(
            f"{path}: {len(joined)} frames, but the segments hold {len(expected)} together"
        )
    for i, (a, b) in enumerate(zip(joined, expected, strict=False)):
        if a != b:
            seg, j = owner[i]
            problems.append(f"{path}: frame {i} differs from frame {j} of segment {seg} (checksum)")
            break
    if times is not None and times != expected_times:
        problems.append(f"{times_path(path)}: times differ from the segments' times")


class ValidationError(RuntimeError):
    """A movie failed validation; the message names the file and its problems."""

    def __init__(self, report: ValidationReport) -> None:
        lines = "\n".join(f"  - {p}" for p in report.problems)
        super().__init__(f"{report.path} failed validation:\n{lines}")
        self.report = report


def check_movie(
    path: str | os.PathLike,
    segments: Sequence[str | os.PathLike] | None = None,
    report_path: str | os.PathLike | None = None,
    *,
    backend: str | Backend | None = None,
) -> ValidationReport:
    """Validate and raise :class:`ValidationError` on problems; write the JSON report if ok.

    The report is written (atomically) only for a movie that passed, so that a report file
    on disk always means a valid movie.
    """
    report = validate_movie(path, segments, backend=backend)
    if not report.ok:
        raise ValidationError(report)
    if report_path is not None:
        write_json(report_path, report.to_dict())
    return report


def open_validated(movie: str | os.PathLike, report_path: str | os.PathLike) -> MovieReader:
    """Open a movie for analysis only if its validation report says it passed.

    Raises:
        ValidationError-like RuntimeError naming the movie when the report is missing, is
        about another file, or records problems.
    """
    import json

    movie, report_path = Path(movie), Path(report_path)
    try:
        report = json.loads(report_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise RuntimeError(
            f"{movie} is not analysed: its validation report {report_path} is missing or "
            f"unreadable ({exc}); validate it first (fieldmovie validate {movie})"
        ) from None
    if not report.get("ok"):
        problems = "; ".join(report.get("problems") or ["(no problems listed)"])
        raise RuntimeError(f"{movie} is not analysed: it failed validation: {problems}")
    reported = Path(report.get("path", ""))
    # the report names the movie as the validating job saw it (often relative to its
    # working directory); the report lives next to the movie
    same = reported.resolve() == movie.resolve() or (
        reported.name == movie.name and report_path.parent.resolve() == movie.parent.resolve()
    )
    reader = MovieReader(movie)
    if not same or report.get("frames") != len(reader):
        reader.close()
        raise RuntimeError(
            f"{movie} is not analysed: its validation report {report_path} is about another "
            f"file ({reported}, {report.get('frames')} frames); validate it again"
        )
    return reader

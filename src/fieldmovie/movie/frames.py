"""Per-frame bookkeeping shared by writer, reader, concat and validation: each frame's
storage range and digest, recorded in the version 2 ``.times`` sidecar and bound to the
movie by the metadata's ``times_digest``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from .digests import frame_digest, times_digest
from .metadata import MovieFormatError, MovieMeta
from .ranges import error_bound, frame_range, parse_tolerance, tolerance_problem
from .sidecar import FrameTable, merge_tables, read_table, times_path

__all__ = [
    "FrameDecoder",
    "WriterFrames",
    "digest_problems",
    "frame_error_bounds",
    "join_tables",
    "read_frame_table",
    "segment_problems",
]


class WriterFrames:
    """What a writer records per frame; refuses frames that would miss the tolerance.

    Memory is a few numbers per frame (no frame is buffered).
    """

    def __init__(self, path: str | os.PathLike, meta: MovieMeta, tolerance: Any = None) -> None:
        self.path, self.meta = Path(path), meta
        self.fixed = meta.fixed_ranges
        self.tolerance = parse_tolerance(meta.components, tolerance)
        for comp, spec, tol in zip(meta.components, self.fixed, self.tolerance, strict=True):
            if spec is not None:
                problem = tolerance_problem(comp, spec[1] - spec[0], meta.bits, tol)
                if problem:
                    raise ValueError(f"{self.path}: fixed range of {problem}")
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._digests: list[str] = []

    def frame_range(self, data: np.ndarray, frame: int, t: float) -> tuple[np.ndarray, np.ndarray]:
        """The storage range of one frame; ValueError if it cannot meet the tolerance."""
        lo, hi = frame_range(data, self.fixed)
        meta = self.meta
        for c, comp in enumerate(meta.components):
            with np.errstate(over="ignore"):
                span = hi[c] - lo[c]
            if not math.isfinite(span):
                raise ValueError(
                    f"{self.path}: frame {frame} (t={t!r}): component {comp!r} spans "
                    f"[{lo[c]!r}, {hi[c]!r}], wider than float64 can quantize"
                )
            problem = tolerance_problem(comp, span, meta.bits, self.tolerance[c])
            if problem:
                raise ValueError(
                    f"{self.path}: frame {frame} (t={t!r}): {problem}; the movie is not written"
                )
        return lo, hi

    def record(self, lo: np.ndarray, hi: np.ndarray, picture: np.ndarray) -> None:
        """Keep the range and the digest of the stored picture (C-contiguous) of a frame."""
        self._lo.append(lo)
        self._hi.append(hi)
        self._digests.append(frame_digest(memoryview(picture).cast("B")))

    def finish(self, times: Sequence[float]) -> bytes:
        """The sidecar's bytes; sets the metadata's envelope and ``times_digest``."""
        n = self.meta.n_components
        table = FrameTable(
            times=[float(t) for t in times],
            digests=list(self._digests),
            vmin=np.asarray(self._lo, dtype=np.float64).reshape(-1, n),
            vmax=np.asarray(self._hi, dtype=np.float64).reshape(-1, n),
            components=list(self.meta.components),
            version=2,
        )
        return _bind(self.meta, table)


def _bind(meta: MovieMeta, table: FrameTable) -> bytes:
    """Sidecar bytes of ``table``; a v2 ``meta`` gets the envelope and the times digest."""
    data = table.to_bytes()
    if meta.version >= 2:
        meta.vmin, meta.vmax = table.envelope()
        meta.times_digest = times_digest(data)
    return data


def join_tables(meta: MovieMeta, tables: Sequence[FrameTable]) -> bytes:
    """Sidecar bytes of a join; recomputes the joined metadata's envelope and times digest."""
    return _bind(meta, merge_tables(list(tables)))


def read_frame_table(meta: MovieMeta, path: str | os.PathLike) -> FrameTable:
    """The sidecar of a fieldmovie movie, checked against its metadata.

    Version 2: the sidecar's digest must equal ``times_digest`` (an edited line or another
    movie's sidecar is refused), its components match, and its ranges agree with the
    envelope (fixed components: every line holds the fixed range). Version 1: times only;
    the table gets the fixed ranges.
    """
    table = read_table(path)
    source = str(path)
    if meta.version < 2:
        if table.version != 1:
            raise MovieFormatError(f"{source}: a version 2 sidecar next to a version 1 movie")
        n = len(table)
        table.vmin = np.tile(np.asarray(meta.vmin, dtype=np.float64), (n, 1))
        table.vmax = np.tile(np.asarray(meta.vmax, dtype=np.float64), (n, 1))
        return table
    if table.version != 2:
        raise MovieFormatError(
            f"{source} is a version 1 sidecar (times only), but the movie is version 2: it does "
            "not belong to this movie"
        )
    if meta.times_digest is None:
        raise MovieFormatError(
            f"{source}: the movie's metadata has no times_digest (an unfinished write?)"
        )
    if table.digest() != meta.times_digest:
        raise MovieFormatError(
            f"{source}: digest {table.digest()} differs from the movie's times_digest "
            f"{meta.times_digest}: the sidecar was edited or belongs to another movie"
        )
    if table.components != meta.components:
        raise MovieFormatError(
            f"{source}: components {table.components} differ from the movie's {meta.components}"
        )
    _check_envelope(meta, table, source)
    return table


def _check_envelope(meta: MovieMeta, table: FrameTable, source: str) -> None:
    if not len(table):
        return
    lows, highs = table.envelope()
    for c, (comp, spec) in enumerate(zip(meta.components, meta.fixed_ranges, strict=True)):
        if spec is not None:
            bad = np.flatnonzero((table.vmin[:, c] != spec[0]) | (table.vmax[:, c] != spec[1]))
            if bad.size:
                raise MovieFormatError(
                    f"{source}, line {bad[0] + 2}: range of fixed component {comp!r} differs "
                    f"from the metadata's [{spec[0]!r}, {spec[1]!r}]"
                )
        elif (lows[c], highs[c]) != (meta.vmin[c], meta.vmax[c]):
            raise MovieFormatError(
                f"{source}: ranges of {comp!r} span [{lows[c]!r}, {highs[c]!r}], but the "
                f"metadata's envelope is [{meta.vmin[c]!r}, {meta.vmax[c]!r}]"
            )


class FrameDecoder:
    """Decodes raw pictures: checks each frame's digest, dequantizes with its own range.

    Wraps the layout of a movie without digests (version 1, py-pde), which decodes as before.
    """

    def __init__(self, meta: MovieMeta, layout: Any, table: FrameTable | None) -> None:
        self.meta, self.layout, self.table = meta, layout, table
        self.pix_fmt = layout.pix_fmt
        self.frame_bytes = layout.frame_bytes
        width, height = meta.picture_size
        self._dtype = codec.pixel_dtype(meta.bits)
        self._shape = (height, width)
        self._field_size = codec.frame_size(meta.grid_shape, meta.n_components)

    def decode(self, buf: bytearray, index: int) -> np.ndarray:
        """Frame ``index`` from its raw picture; ValueError if it is not the frame written."""
        table = self.table
        if table is None or table.digests is None:
            return self.layout.decode(buf)
        got = frame_digest(buf)
        if got != table.digests[index]:
            raise ValueError(
                f"digest mismatch: the decoded picture ({got}) is not frame {index} as written "
                f"({table.digests[index]})"
            )
        meta = self.meta
        picture = np.frombuffer(buf, self._dtype).reshape(self._shape)
        picture = codec.unpad_picture(picture, *self._field_size)
        pixels = codec.from_picture(picture, meta.n_components, meta.grid_shape)
        return codec.dequantize(pixels, table.vmin[index], table.vmax[index], meta.bits)


def frame_error_bounds(meta: MovieMeta, table: FrameTable | None, frames: int) -> np.ndarray:
    """``(frames, components)``: bound of ``|decoded - written|`` for values not clipped."""
    if table is not None and table.vmin is not None and table.vmax is not None:
        return error_bound(table.vmin, table.vmax, meta.bits)
    lo = np.tile(np.asarray(meta.vmin, dtype=np.float64), (frames, 1))
    hi = np.tile(np.asarray(meta.vmax, dtype=np.float64), (frames, 1))
    return error_bound(lo, hi, meta.bits)


def digest_problems(reader: Any) -> list[str]:
    """Decode every frame through the reader by index, last frame first, so that each one is
    reached by seeking (``reader[i]``, the index); the reader checks each frame's digest and
    timestamp. One decode per frame. Problems found (the first).

    py-pde movies (frames that depend on those before them) are streamed instead.
    """
    n = len(reader)
    by_index = getattr(reader.meta, "origin", "fieldmovie") == "fieldmovie"
    try:
        if by_index:
            for i in range(n - 1, -1, -1):
                _ = reader[i]
        else:
            for _ in reader.iter_frames():
                pass
    except (MovieFormatError, ValueError) as exc:
        how = f"frame {i} cannot be read by seeking (reader[{i}]): " if by_index else ""
        return [how + str(exc).splitlines()[0]]
    return []


def segment_problems(
    path: str | os.PathLike,
    table: FrameTable | None,
    segments: Sequence[str | os.PathLike],
    backend: Any = None,
) -> list[str]:
    """The join's per-frame ranges and digests must equal its segments', in order."""
    from .reader import MovieReader  # the reader uses this module

    if table is None or table.digests is None:
        return []
    tables = []
    for seg in segments:
        try:
            with MovieReader(seg, backend=backend) as reader:
                tables.append(reader.frame_table)
        except (MovieFormatError, FileNotFoundError) as exc:
            return [f"segment {seg}: {exc}"]
    try:
        merged = merge_tables(tables)
    except ValueError as exc:
        return [f"{path}: segments {[str(s) for s in segments]}: {exc}"]
    if merged.digests is None or len(merged) != len(table):
        return [f"{times_path(path)}: {len(table)} frames, the segments' sidecars {len(merged)}"]
    owner = [(str(s), j) for s, t in zip(segments, tables, strict=True) for j in range(len(t))]
    for i in range(len(table)):
        seg, j = owner[i]
        if table.digests[i] != merged.digests[i]:
            return [f"{path}: frame {i}: digest differs from frame {j} of segment {seg}"]
        if not (
            np.array_equal(table.vmin[i], merged.vmin[i])
            and np.array_equal(table.vmax[i], merged.vmax[i])
        ):
            return [f"{path}: frame {i}: range differs from frame {j} of segment {seg}"]
    return []

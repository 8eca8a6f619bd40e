"""Joining movie segments with FFmpeg's concat demuxer (stream copy, no re-encode)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import commit_movie, remove_quietly, temporary_path
from .backends import Backend, get_backend
from .frames import join_tables
from .metadata import MAX_METADATA_BYTES, MovieFormatError
from .probe import container_for, probe, times_path
from .reader import MovieReader

__all__ = ["SegmentMismatchError", "concat_movies", "merge_resolution"]

#: why a joined movie's resolution record has no per-frame values
FRAMES_ELSEWHERE = (
    "per-frame values are in each segment movie's info ('resolution') and saved state"
)


class SegmentMismatchError(ValueError):
    """Segments that cannot be joined: different settings or times that do not increase."""


def concat_movies(
    segments: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    info: Mapping[str, Any] | None = None,
    backend: str | Backend | None = None,
) -> Path:
    """Join movie segments into ``output`` without re-encoding; return ``output``.

    The segments must agree on format version, components, grid, bits, range modes, fixed
    ranges (auto components may differ) and codec settings, and
    their times must increase strictly across the boundaries; otherwise
    :class:`SegmentMismatchError` names the first offending segment and field and no output
    is written. The ``.times`` files are merged and the metadata written again (the demuxer
    drops the comment tag), with ``info`` replacing the first segment's info when given, the
    segments' per-frame resolution records merged into ``info["resolution"]``
    (:func:`merge_resolution`; unless ``info`` has its own), the
    clipping counts summed, and (version 2) every frame's range and digest kept in the
    merged sidecar, the envelope and times digest recomputed. Movie and ``.times`` appear
    atomically. ``backend``: see :class:`~fieldmovie.MovieWriter`; the joining backend is
    recorded in the metadata.
    """
    if not segments:
        raise ValueError("concat_movies: no segments given")
    output = Path(output)
    container = container_for(output)
    engine = get_backend(backend)
    readers = []
    try:
        for segment in segments:
            readers.append(MovieReader(segment, backend=engine))
        return _join(readers, output, container, info, engine)
    finally:
        for reader in readers:
            reader.close()


def _join(
    readers: list[MovieReader],
    output: Path,
    container: str,
    info: Mapping[str, Any] | None,
    engine: Backend,
) -> Path:
    first = readers[0]
    if first.meta.origin != "fieldmovie":
        raise SegmentMismatchError(f"{first.path}: only fieldmovie movies can be joined")
    for prev, reader in zip(readers, readers[1:], strict=False):
        problem = first.meta.compatibility_problem(reader.meta)
        if problem is None and (reader.stream.codec_name, reader.stream.pix_fmt) != (
            first.stream.codec_name,
            first.stream.pix_fmt,
        ):
            problem = f"stream is {reader.stream.codec_name}/{reader.stream.pix_fmt}"
        if problem:
            raise SegmentMismatchError(f"cannot join {reader.path} after {first.path}: {problem}")
        if not reader.times[0] > prev.times[-1]:
            raise SegmentMismatchError(
                f"cannot join {reader.path} after {prev.path}: its first time "
                f"{reader.times[0]!r} is not after the previous segment's last time "
                f"{prev.times[-1]!r}"
            )
    records = [r.meta.info.get("resolution") for r in readers]  # before meta.info changes
    meta = first.meta
    meta.info = dict(info) if info is not None else dict(first.meta.info)
    if info is None or "resolution" not in info:
        # the first segment's record would describe only its own frames
        meta.info.pop("resolution", None)
        merged = merge_resolution(records, [len(r) for r in readers])
        if merged is not None:
            meta.info["resolution"] = merged
    clipped = [0] * meta.n_components
    for reader in readers:
        for c, n in enumerate(reader.meta.clipped or []):
            clipped[c] += n
    meta.clipped = clipped
    meta.backend = {"name": engine.name, "version": engine.version()}
    sidecar = join_tables(meta, [r.frame_table for r in readers])
    record = meta.info.get("resolution")
    if isinstance(record, dict) and len(meta.to_json().encode()) > MAX_METADATA_BYTES:
        # long runs: the maxima per segment stay, the per-frame values stay in the segments
        meta.info["resolution"] = {
            **{k: v for k, v in record.items() if k != "frames"},
            "frames_omitted": f"over the 64 KiB metadata limit; {FRAMES_ELSEWHERE}",
        }
    total = sum(len(r) for r in readers)

    tmp = temporary_path(output)
    times_tmp = temporary_path(times_path(output))
    try:
        engine.concat([r.path for r in readers], tmp, container=container, comment=meta.to_json())
        joined = probe(tmp, backend=engine)
        if joined.packets != total:
            raise MovieFormatError(
                f"joining into {output}: the joined stream has {joined.packets} frames, "
                f"the segments {total}"
            )
        times_tmp.write_bytes(sidecar)
        commit_movie(tmp, output, times_tmp, times_path(output))
    finally:
        remove_quietly(tmp, times_tmp)
    return output


def merge_resolution(records: Sequence[Any], frames: Sequence[int]) -> dict[str, Any] | None:
    """The joined movie's resolution record from its segments' (in order), or None.

    Each segment record (``fieldmovie.simulation.segment.resolution_info``) holds
    ``measure``, ``limit``, ``max`` (component -> maximum) and ``frames`` (component ->
    per-frame values).  The joined record keeps ``measure`` and ``limit``, the overall
    ``max``, ``segment_max`` (component -> maximum per segment) and ``frames`` (the
    segments' per-frame values concatenated) when every segment has them for all of its
    ``frames``; otherwise ``frames_omitted`` says where they are.  None when a segment
    has no record or the records disagree on the components.
    """
    if not records or not all(isinstance(r, Mapping) and isinstance(r.get("max"), Mapping)
                              for r in records):  # fmt: skip
        return None
    components = list(records[0]["max"])
    if any(list(r["max"]) != components for r in records):
        return None
    segment_max = {c: [r["max"][c] for r in records] for c in components}
    merged: dict[str, Any] = {
        "measure": records[0].get("measure"),
        "limit": records[0].get("limit"),
        "max": {c: max(values) for c, values in segment_max.items()},
        "segment_max": segment_max,
    }
    per_frame = [r.get("frames") for r in records]
    complete = all(
        isinstance(f, Mapping) and all(len(f.get(c) or []) == n for c in components)
        for f, n in zip(per_frame, frames, strict=True)
    )
    if complete:
        merged["frames"] = {c: [v for f in per_frame for v in f[c]] for c in components}
    else:
        merged["frames_omitted"] = FRAMES_ELSEWHERE
    return merged

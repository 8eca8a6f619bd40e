"""The ``.times`` sidecar of a movie: per frame its time and, in version 2, its digest and
storage range per component.

Version 1: one time per line (``repr(float)``). Version 2 (see ``docs/format.md``)::

    # fieldmovie-times 2: t digest vmin:u vmax:u vmin:v vmax:v
    0.0 1f0c3a9be47d5a20 0.0312 0.9871 0.0 0.4417
    ...

Columns are separated by one space; times and ranges are ``repr(float)`` (exact); fixed
components repeat their fixed range on every line. Component names in the header are
percent-encoded (``urllib.parse.quote``) so that any name is one token.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from .digests import FRAME_DIGEST_BYTES, is_digest, times_digest
from .metadata import MovieFormatError

__all__ = [
    "SIDECAR_MAGIC",
    "FrameTable",
    "format_times",
    "merge_tables",
    "parse_table",
    "read_table",
    "read_times",
    "times_path",
    "write_times",
]

SIDECAR_MAGIC = "# fieldmovie-times"
SIDECAR_VERSION = 2


@dataclass
class FrameTable:
    """What a sidecar says per frame. Version 1 holds times only."""

    times: list[float]
    #: version 2: frame digests, and ``(frames, components)`` arrays of the ranges
    digests: list[str] | None = None
    vmin: np.ndarray | None = None
    vmax: np.ndarray | None = None
    components: list[str] | None = None
    version: int = 1
    #: the file's bytes, when read from a file (the times digest is taken of them)
    raw: bytes | None = None

    def __len__(self) -> int:
        return len(self.times)

    def envelope(self) -> tuple[list[float], list[float]]:
        """Per component the smallest ``vmin`` and largest ``vmax`` over all frames."""
        if self.vmin is None or self.vmax is None or not len(self.times):
            raise ValueError("the frame table has no ranges")
        return self.vmin.min(axis=0).tolist(), self.vmax.max(axis=0).tolist()

    def to_bytes(self) -> bytes:
        """The sidecar file's bytes (version 1 or 2)."""
        if self.version == 1:
            return format_times(self.times).encode("ascii")
        assert self.digests is not None and self.vmin is not None and self.vmax is not None
        assert self.components is not None
        lines = [header(self.components)]
        for t, digest, lo, hi in zip(self.times, self.digests, self.vmin, self.vmax, strict=True):
            pairs = " ".join(f"{a!r} {b!r}" for a, b in zip(lo.tolist(), hi.tolist(), strict=True))
            lines.append(f"{float(t)!r} {digest} {pairs}")
        return ("\n".join(lines) + "\n").encode("ascii")

    def digest(self) -> str:
        """Times digest of :meth:`to_bytes` (what the metadata's ``times_digest`` holds)."""
        return times_digest(self.raw if self.raw is not None else self.to_bytes())


def times_path(movie: str | os.PathLike) -> Path:
    """The ``.times`` sidecar of a movie: ``<movie>.times``."""
    return Path(f"{os.fspath(movie)}.times")


def header(components: list[str]) -> str:
    """The first line of a version 2 sidecar."""
    columns = " ".join(f"vmin:{quote(c, safe='')} vmax:{quote(c, safe='')}" for c in components)
    return f"{SIDECAR_MAGIC} {SIDECAR_VERSION}: t digest {columns}"


def _parse_header(line: str, source: str) -> list[str]:
    """Component names from a version 2 header line."""
    rest = line[len(SIDECAR_MAGIC) :].split()
    if not rest or rest[0] != f"{SIDECAR_VERSION}:":
        raise MovieFormatError(
            f"{source}, line 1: sidecar version {rest[0] if rest else ''!r} is not supported "
            f"(this fieldmovie reads 1 and {SIDECAR_VERSION}); upgrade fieldmovie"
        )
    cols = rest[1:]
    names = [unquote(c[5:]) for c in cols[2::2] if c.startswith("vmin:")]
    if cols[:2] != ["t", "digest"] or len(cols) < 4 or line != header(names):
        raise MovieFormatError(
            f"{source}, line 1: {line!r} is not a sidecar header; expected "
            f"'{SIDECAR_MAGIC} {SIDECAR_VERSION}: t digest vmin:<name> vmax:<name> ...'"
        )
    return names


def _float(text: str, source: str, lineno: int, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MovieFormatError(
            f"{source}, line {lineno}: {what} {text!r} is not a number"
        ) from None


def _parse_row(line: str, n: int, source: str, lineno: int) -> tuple[float, str, list[float]]:
    """One version 2 line: time, digest and 2n finite range ends with vmin <= vmax."""
    fields = line.split(" ")
    if len(fields) != 2 + 2 * n:
        raise MovieFormatError(
            f"{source}, line {lineno}: {len(fields)} columns, expected {2 + 2 * n} "
            f"(t, digest, vmin and vmax of {n} component(s))"
        )
    t = _float(fields[0], source, lineno, "time")
    if not is_digest(fields[1], FRAME_DIGEST_BYTES):
        raise MovieFormatError(f"{source}, line {lineno}: {fields[1]!r} is not a frame digest")
    ends = [_float(f, source, lineno, "range end") for f in fields[2:]]
    for c in range(n):
        lo, hi = ends[2 * c], ends[2 * c + 1]
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise MovieFormatError(
                f"{source}, line {lineno}: range [{lo!r}, {hi!r}] of component {c} is not "
                "finite with vmin <= vmax"
            )
    return t, fields[1], ends


_HEX = re.compile("[0-9a-f]*")


def _parse_rows_at_once(
    rows: list[str], n: int
) -> tuple[list[float], list[str], np.ndarray] | None:
    """Version 2 rows parsed column-wise in one go (line by line, a fresh reader of a
    2000-frame movie spends ~10 ms here); None when anything is unusual, so that the
    line-by-line parser (:func:`_parse_row`) finds the problem and names its line."""
    cols = 2 + 2 * n
    if not rows or any(row.count(" ") != cols - 1 for row in rows):
        return None
    tokens = " ".join(rows).split(" ")
    digests = tokens[1::cols]
    joined = "".join(digests)
    if len(joined) != 2 * FRAME_DIGEST_BYTES * len(rows) or not _HEX.fullmatch(joined):
        return None
    del tokens[1::cols]
    try:
        numbers = np.array(list(map(float, tokens)), dtype=np.float64)
    except ValueError:
        return None
    numbers = numbers.reshape(len(rows), cols - 1)
    ends = numbers[:, 1:].reshape(len(rows), n, 2)
    if not (np.isfinite(ends).all() and (ends[:, :, 0] <= ends[:, :, 1]).all()):
        return None
    return numbers[:, 0].tolist(), digests, ends


def parse_table(data: bytes, source: str = "sidecar") -> FrameTable:
    """Parse sidecar bytes (version 1 or 2); errors name ``source`` and the line."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MovieFormatError(
            f"{source}: not a text file (byte {exc.start} is {data[exc.start]:#04x})"
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0].startswith(SIDECAR_MAGIC):
        times = [
            _float(line, source, lineno, "time")
            for lineno, line in enumerate(lines, 1)
            if line.strip()
        ]
        return FrameTable(times=times, raw=data)
    names = _parse_header(lines[0], source)
    n = len(names)
    fast = _parse_rows_at_once(lines[1:], n)
    if fast is not None:
        times, digests, arr = fast
        return FrameTable(times, digests, arr[:, :, 0].copy(), arr[:, :, 1].copy(), names, 2, data)
    times, digests, ends = [], [], []
    for lineno, line in enumerate(lines[1:], 2):
        t, digest, row = _parse_row(line, n, source, lineno)
        times.append(t)
        digests.append(digest)
        ends.append(row)
    arr = np.asarray(ends, dtype=np.float64).reshape(len(times), n, 2)
    return FrameTable(times, digests, arr[:, :, 0].copy(), arr[:, :, 1].copy(), names, 2, data)


def read_table(path: str | os.PathLike) -> FrameTable:
    """Read and parse a sidecar file; MovieFormatError naming the file if missing or bad."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MovieFormatError(
            f"times sidecar {path} is missing; every movie needs one (one line per frame)"
        ) from None
    except OSError as exc:
        raise MovieFormatError(f"times sidecar {path} cannot be read: {exc}") from None
    return parse_table(data, str(path))


def read_times(path: str | os.PathLike) -> list[float]:
    """The times of a sidecar (either version); errors name file and line."""
    return read_table(path).times


def format_times(times) -> str:  # noqa: ANN001 - any iterable of floats
    """Version 1 sidecar text: ``repr`` of each float so that it reads back exactly."""
    return "".join(f"{float(t)!r}\n" for t in times)


def write_times(path: str | os.PathLike, times) -> None:  # noqa: ANN001
    """Write a version 1 sidecar (not atomically; callers write to a temporary name)."""
    Path(path).write_text(format_times(times))


def merge_tables(tables: list[FrameTable]) -> FrameTable:
    """The table of a join: the segments' rows in order (all of one version)."""
    if not tables:
        raise ValueError("merge_tables: no tables")
    versions = {t.version for t in tables}
    if len(versions) != 1:
        raise ValueError(f"cannot merge sidecars of versions {sorted(versions)}")
    times = [t for table in tables for t in table.times]
    if tables[0].version == 1:
        return FrameTable(times=times)
    names = tables[0].components
    if any(t.components != names for t in tables):
        raise ValueError("cannot merge sidecars of different components")
    return FrameTable(
        times=times,
        digests=[d for table in tables for d in table.digests or []],
        vmin=np.concatenate([table.vmin for table in tables]),
        vmax=np.concatenate([table.vmax for table in tables]),
        components=list(names or []),
        version=2,
    )

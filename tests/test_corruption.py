"""The corruption suite: damaged copies of a movie are flagged by validation or read exactly.

A small 2-component 16-bit movie (and a movie joined from 3 segments) is copied and damaged
the ways a bad disk or a careless edit would: a byte flipped in every Matroska element
class (positions found by parsing the EBML structure here, independently of libav), runs of
garbage, truncations, zeroed 4 KiB blocks, edited ``.times`` lines and headers, metadata
edited in place and by remuxing, a foreign ``.times``. For every copy,
``validate_movie(copy)`` must report a problem, or else every read path (``reader[i]``,
slices, index lists, streaming, ``to_array``) must return exactly the original frames and
times. Separately, no read path of any copy may return wrong data without raising.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import comment_tag, write_movie

from fieldmovie import MovieReader, concat_movies, validate_movie
from fieldmovie.movie.backends import get_backend
from fieldmovie.movie.digests import metadata_digest

#: EBML master elements (descended into) and the class name of every element we name
MASTERS = {
    0x1A45DFA3: "EBML",
    0x18538067: "Segment",
    0x114D9B74: "SeekHead",
    0x4DBB: "Seek",
    0x1549A966: "Info",
    0x1654AE6B: "Tracks",
    0xAE: "TrackEntry",
    0xE0: "Video",
    0x1F43B675: "Cluster",
    0xA0: "BlockGroup",
    0x1C53BB6B: "Cues",
    0xBB: "CuePoint",
    0xB7: "CueTrackPositions",
    0x1254C367: "Tags",
    0x7373: "Tag",
    0x67C8: "SimpleTag",
    0x63C0: "Targets",
}
LEAVES = {
    0xE7: "Cluster/Timecode",
    0xA3: "SimpleBlock",
    0xA1: "Block",
    0x2AD7B1: "TimecodeScale",
    0x4489: "Duration",
    0x63A2: "CodecPrivate",
    0x86: "CodecID",
    0xB0: "PixelWidth",
    0xBA: "PixelHeight",
    0xB3: "CueTime",
    0xF1: "CueClusterPosition",
    0xF0: "CueRelativePosition",
    0x45A3: "TagName",
    0x4487: "TagString",
    0x53AC: "SeekPosition",
    0xEC: "Void",
    0xBF: "CRC-32",
    0xF7: "CueTrack",
    0x53AB: "SeekID",
    0x4286: "EBMLVersion",
    0x42F7: "EBMLReadVersion",
    0x42F2: "EBMLMaxIDLength",
    0x42F3: "EBMLMaxSizeLength",
    0x4282: "DocType",
    0x4287: "DocTypeVersion",
    0x4285: "DocTypeReadVersion",
    0x4D80: "MuxingApp",
    0x5741: "WritingApp",
    0x73A4: "SegmentUID",
    0xD7: "TrackNumber",
    0x73C5: "TrackUID",
    0x83: "TrackType",
    0x9C: "FlagLacing",
    0x88: "FlagDefault",
    0x22B59C: "Language",
    0x54B2: "DisplayUnit",
    0x55EE: "MaxBlockAdditionID",
    0x63C5: "TagTrackUID",
}


@dataclass
class Element:
    """One EBML element: where its ID, size and data are in the file."""

    name: str
    start: int  # first byte of the ID
    data: int  # first byte of the data
    end: int  # one past the last byte of the data


def _vint(buf: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length)."""
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError(f"bad EBML vint at {pos}")
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, length


def ebml_elements(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[Element]:
    """Every element between ``start`` and ``end``, depth first (masters before children)."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        ident, n_id = _vint(buf, pos, keep_marker=True)
        size, n_size = _vint(buf, pos + n_id, keep_marker=False)
        data = pos + n_id + n_size
        unknown = size == (1 << (7 * n_size)) - 1
        stop = end if unknown else min(data + size, end)
        name = MASTERS.get(ident) or LEAVES.get(ident) or f"0x{ident:X}"
        yield Element(name, pos, data, stop)
        if ident in MASTERS:
            yield from ebml_elements(buf, data, stop)
        pos = stop


# -- the damaged copies -----------------------------------------------------------------------
@dataclass
class Damage:
    """One damaged copy: a name and the bytes of movie and sidecar."""

    name: str
    movie: bytes
    times: bytes


def _flip(buf: bytes, pos: int, mask: int = 0x5A) -> bytes:
    out = bytearray(buf)
    out[pos] ^= mask
    return bytes(out)


def byte_flips(movie: bytes, times: bytes, rng: random.Random, per_class: int) -> list[Damage]:
    """Flips in the ID, size and data (first, middle, last byte) of every element class;
    block headers (track, timecode, flags) and payloads separately."""
    by_class: dict[str, list[int]] = {}
    for el in ebml_elements(movie):
        spots = by_class.setdefault(el.name + " id/size", [])
        spots += list(range(el.start, el.data))
        data = by_class.setdefault(el.name + " data", [])
        if el.name in ("SimpleBlock", "Block"):
            by_class.setdefault(el.name + " header", []).extend(range(el.data, el.data + 4))
            data += list(range(el.data + 4, el.end))
        elif el.name not in MASTERS.values() and el.end > el.data:
            data += sorted({el.data, (el.data + el.end) // 2, el.end - 1})
    out = []
    for cls, spots in sorted(by_class.items()):
        for pos in rng.sample(spots, min(per_class, len(spots))):
            for mask in (0x01, 0x80) if cls.endswith("header") else (0x5A,):
                out.append(Damage(f"flip {cls} @{pos}^{mask:#x}", _flip(movie, pos, mask), times))
    return out


def bulk_damage(movie: bytes, times: bytes, rng: random.Random, count: int) -> list[Damage]:
    """Garbage runs, truncations, zeroed 4 KiB blocks."""
    n = len(movie)
    out = []
    for _ in range(count):
        pos, length = rng.randrange(n), rng.choice((2, 8, 64, 512))
        garbage = bytes(rng.randrange(256) for _ in range(length))
        data = (movie[:pos] + garbage + movie[pos + length :])[:n]
        out.append(Damage(f"garbage {length} @{pos}", data, times))
    for k in range(1, count + 1):
        cut = max(1, n * k // (count + 1) + rng.randrange(-50, 50))
        out.append(Damage(f"truncate @{cut}", movie[:cut], times))
    out.append(Damage("truncate last byte", movie[:-1], times))
    for block in range(0, n, 4096):
        data = movie[:block] + bytes(min(4096, n - block)) + movie[block + 4096 :]
        out.append(Damage(f"zero 4 KiB @{block}", data, times))
    return out


def sidecar_edits(movie: bytes, times: bytes, foreign: bytes, rng: random.Random) -> list[Damage]:
    """A digit changed, lines dropped or duplicated or swapped, header edited, foreign file."""
    lines = times.decode().splitlines(keepends=True)
    out = [Damage("foreign .times", movie, foreign), Damage("empty .times", movie, b"")]
    out.append(Damage("binary .times", movie, b"\x00\xff\xfe" + times[3:]))
    digits = [i for i, ch in enumerate(times.decode()) if ch.isdigit()]
    for pos in rng.sample(digits, min(24, len(digits))):
        new = str((int(chr(times[pos])) + 1) % 10).encode()
        out.append(Damage(f".times digit @{pos}", movie, times[:pos] + new + times[pos + 1 :]))
    for i in range(1, len(lines)):
        dropped = "".join(lines[:i] + lines[i + 1 :]).encode()
        doubled = "".join(lines[: i + 1] + lines[i:]).encode()
        out.append(Damage(f".times drop line {i + 1}", movie, dropped))
        out.append(Damage(f".times dup line {i + 1}", movie, doubled))
    swapped = lines[:1] + [lines[2], lines[1]] + lines[3:]
    out.append(Damage(".times lines 2,3 swapped", movie, "".join(swapped).encode()))
    for old, new in (("vmin:c0", "vmin:c1"), ("vmax:c1", "vmax:cX"), (" 2:", " 1:"), ("t ", "T ")):
        edited = times.replace(old.encode(), new.encode(), 1)
        out.append(Damage(f".times header {old!r}->{new!r}", movie, edited))
    out.append(Damage(".times header dropped", movie, "".join(lines[1:]).encode()))
    out.append(Damage(".times CRLF", movie, times.replace(b"\n", b"\r\n")))
    out.append(Damage(".times no final newline", movie, times.rstrip(b"\n")))
    out.append(Damage(".times trailing blank", movie, times + b"\n"))
    return out


def comment_edits_in_place(movie: bytes, times: bytes) -> list[Damage]:
    """Same-length edits of the comment JSON inside the file (no remux)."""
    out = []
    start = movie.find(b'{"format"')
    assert start >= 0
    end = movie.find(b"}", movie.rfind(b'"digest"', start)) + 1
    comment = movie[start:end]
    for pos in range(0, len(comment), max(1, len(comment) // 60)):
        ch = comment[pos : pos + 1]
        if ch.isdigit():
            new = str((int(ch) + 1) % 10).encode()
        elif ch.isalpha():
            new = ch.swapcase()
        else:
            continue
        data = movie[: start + pos] + new + movie[start + pos + 1 :]
        out.append(Damage(f"comment byte {pos} {ch!r}->{new!r}", data, times))
    return out


def comment_edits_by_remux(src: Path, times: bytes, work: Path, backend: str) -> list[Damage]:
    """The comment replaced through the backend's set_comment (with and without a recomputed
    metadata digest): vmax, vmin, grid_shape, components, info, fps, bits, clipped."""
    meta = json.loads(comment_tag(src))
    edits: list[tuple[str, Callable[[dict], None]]] = [
        ("vmax", lambda m: m.__setitem__("vmax", [v + 1 for v in m["vmax"]])),
        ("vmin", lambda m: m.__setitem__("vmin", [v - 1 for v in m["vmin"]])),
        ("grid_shape swapped", lambda m: m.__setitem__("grid_shape", m["grid_shape"][::-1])),
        ("components swapped", lambda m: m.__setitem__("components", m["components"][::-1])),
        ("components renamed", lambda m: m.__setitem__("components", ["a", "b"])),
        ("info", lambda m: m.__setitem__("info", {"x": 2})),
        ("fps", lambda m: m["codec"].__setitem__("fps", 50)),
        ("fps text", lambda m: m["codec"].__setitem__("fps", "fast")),
        ("clipped", lambda m: m.__setitem__("clipped", [1, 0])),
        ("clipped bad", lambda m: m.__setitem__("clipped", ["x"])),
        ("times_digest", lambda m: m.__setitem__("times_digest", "0" * 32)),
        ("digest dropped", lambda m: m.pop("digest")),
        ("unchanged", lambda m: None),
    ]
    engine = get_backend(backend)
    out = []
    for k, (what, edit) in enumerate(edits):
        for redigest in (False, True):
            new = json.loads(json.dumps(meta))
            edit(new)
            if redigest and "digest" in new:
                new["digest"] = metadata_digest(new)
            target = work / f"remux{k}{int(redigest)}.mkv"
            text = json.dumps(new, separators=(",", ":"))
            engine.set_comment(src, target, container="matroska", comment=text)
            tag = "redigested" if redigest else "stale digest"
            out.append(Damage(f"remux {what} ({tag})", target.read_bytes(), times))
    return out


# -- the check ---------------------------------------------------------------------------------
def read_all_paths(path: Path, backend: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(path name, frames, times) of every read path, each through a fresh reader."""
    with MovieReader(path, backend=backend) as reader:
        n = len(reader)
        times = np.asarray(reader.times)
        yield "reader[i]", np.stack([reader[i] for i in range(n)]), times
        yield "reader[::-1] reversed", reader[::-1][::-1], times
        yield "reader[1:]", np.concatenate([reader[:1], reader[1:]]), times
        yield "reader[list]", reader[list(range(n - 1, -1, -1))][::-1], times
    with MovieReader(path, backend=backend) as reader:
        streamed = list(reader.iter_frames())
        yield "iteration", np.stack([f for _, f in streamed]), np.array([t for t, _ in streamed])
    with MovieReader(path, backend=backend) as reader:
        yield "to_array", reader.to_array(), np.asarray(reader.times)


def classify(
    path: Path, backend: str, original: tuple[np.ndarray, np.ndarray], segments=None
) -> dict:
    """Validate a copy (against ``segments`` if given) and try every read path."""
    frames, times = original
    try:
        report = validate_movie(path, segments, backend=backend)
        flagged, raised = not report.ok, None
    except Exception as exc:  # noqa: BLE001 - validate must never raise: a finding
        flagged, raised = True, f"{type(exc).__name__}: {exc}"
    wrong, failed = [], []
    paths = read_all_paths(path, backend)
    while True:
        try:
            name, got, got_times = next(paths)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - any refusal is not silent
            failed.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            break
        same = got.shape == frames.shape and np.array_equal(got, frames)
        if not (same and np.array_equal(got_times, times)):
            wrong.append(name)
    paths.close()
    return {"flagged": flagged, "raised": raised, "wrong": wrong, "failed": failed}


def _original(path: Path, backend: str) -> tuple[np.ndarray, np.ndarray]:
    with MovieReader(path, backend=backend) as reader:
        return reader.to_array(), np.asarray(reader.times)


def build_copies(work: Path, backend: str, per_class: int, bulk: int) -> dict:
    """The originals (a movie, a joined movie) and all damaged copies of the movie."""
    rng = np.random.default_rng(7)
    frames = rng.uniform(-1, 2, size=(8, 2, 16, 12))
    times = [0.1 * k for k in range(8)]
    src = write_movie(work / "orig.mkv", frames, times, vmin="auto", vmax="auto",
                      components=["c0", "c1"], backend=backend)  # fmt: skip
    foreign = write_movie(work / "other.mkv", frames + 0.001, times, vmin="auto", vmax="auto",
                          components=["c0", "c1"], backend=backend)  # fmt: skip
    movie, sidecar = src.read_bytes(), Path(f"{src}.times").read_bytes()
    pick = random.Random(11)
    copies = byte_flips(movie, sidecar, pick, per_class)
    copies += bulk_damage(movie, sidecar, pick, bulk)
    copies += sidecar_edits(movie, sidecar, Path(f"{foreign}.times").read_bytes(), pick)
    copies += comment_edits_in_place(movie, sidecar)
    copies += comment_edits_by_remux(src, sidecar, work, backend)
    return {"src": src, "copies": copies}


def run_suite(
    work: Path, backend: str, copies: list[Damage], original, segments=None, label: str = ""
) -> Counter:
    """Classify every copy; print the table; return the counts (and findings)."""
    counts: Counter = Counter()
    findings = []
    target = work / "copy.mkv"
    for dmg in copies:
        target.write_bytes(dmg.movie)
        Path(f"{target}.times").write_bytes(dmg.times)
        got = classify(target, backend, original, segments)
        counts["tried"] += 1
        if got["raised"]:
            counts["validate raised"] += 1
            findings.append(f"{dmg.name}: validate raised {got['raised'][:160]}")
        if got["flagged"]:
            counts["flagged"] += 1
        elif got["wrong"]:
            counts["silently wrong"] += 1
            findings.append(f"{dmg.name}: validated ok, wrong data on {got['wrong']}")
        elif got["failed"]:
            counts["ok but unreadable"] += 1
            findings.append(f"{dmg.name}: validated ok, read failed: {got['failed']}")
        else:
            counts["identical"] += 1
        if got["flagged"] and got["wrong"]:
            counts["reader wrong without raising"] += 1
            findings.append(f"{dmg.name}: flagged, but reader returned wrong data {got['wrong']}")
    print(f"\ncorruption table ({backend}{label}):", dict(counts))
    for line in findings:
        print("  FINDING", line)
    counts["findings"] = len(findings)  # type: ignore[assignment]
    return counts


def build_joined(work: Path, backend: str, per_class: int, bulk: int) -> dict:
    """A movie joined from 3 segments, and damaged copies of it (segments stay intact)."""
    rng = np.random.default_rng(5)
    segments = []
    for k in range(3):
        frames = rng.uniform(-1, 1 + k, size=(3, 2, 16, 12))
        times = [0.1 * (3 * k + j) for j in range(3)]
        path = work / f"seg{k}.mkv"
        segments.append(
            write_movie(path, frames, times, vmin="auto", vmax="auto", components=["c0", "c1"])
        )
    joined = concat_movies(segments, work / "joined.mkv", backend=backend)
    movie, sidecar = joined.read_bytes(), Path(f"{joined}.times").read_bytes()
    foreign = Path(f"{segments[0]}.times").read_bytes()
    pick = random.Random(13)
    copies = byte_flips(movie, sidecar, pick, per_class)
    copies += bulk_damage(movie, sidecar, pick, bulk)
    copies += sidecar_edits(movie, sidecar, foreign, pick)
    copies += comment_edits_in_place(movie, sidecar)
    copies += comment_edits_by_remux(joined, sidecar, work, backend)
    return {"src": joined, "copies": copies, "segments": segments}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corruption")


SIZES = {"pyav": (6, 30), "ffmpeg": (1, 6)}


#: the ffmpeg backend starts processes for every read: its runs take ~1 min
# hundreds of corrupted copies, each decoded by every read path: FFmpeg-heavy, so `slow`
ENGINES = [
    pytest.param("pyav", marks=pytest.mark.slow),
    pytest.param("ffmpeg", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_corrupted_copies_are_flagged_or_identical(engine, workdir, monkeypatch):
    """Every damaged copy: validation flags it, or every read path returns the original."""
    if engine == "ffmpeg" and not shutil.which("ffmpeg"):
        pytest.skip("no system ffmpeg")
    monkeypatch.setenv("FIELDMOVIE_BACKEND", engine)
    work = workdir / engine
    work.mkdir()
    per_class, bulk = SIZES[engine]
    built = build_copies(work, engine, per_class, bulk)
    copies = built["copies"]
    if engine == "ffmpeg":  # subprocesses per read: a sample
        copies = random.Random(3).sample(copies, min(60, len(copies)))
    started = time.monotonic()
    counts = run_suite(work, engine, copies, _original(built["src"], engine))
    print(f"{counts['tried']} copies in {time.monotonic() - started:.1f} s")
    _record(workdir, engine, counts)
    _assert_clean(counts)


@pytest.mark.parametrize("engine", ENGINES)
def test_corrupted_joined_movie_is_flagged_or_identical(engine, workdir, monkeypatch):
    """A joined movie's damaged copies, validated against its (intact) segments."""
    if engine == "ffmpeg" and not shutil.which("ffmpeg"):
        pytest.skip("no system ffmpeg")
    monkeypatch.setenv("FIELDMOVIE_BACKEND", engine)
    work = workdir / f"joined-{engine}"
    work.mkdir()
    per_class, bulk = SIZES[engine]
    built = build_joined(work, engine, max(1, per_class // 2), max(4, bulk // 3))
    copies = built["copies"]
    if engine == "ffmpeg":
        copies = random.Random(4).sample(copies, min(40, len(copies)))
    original = _original(built["src"], engine)
    counts = run_suite(work, engine, copies, original, built["segments"], " joined")
    _record(workdir, engine + " joined", counts)
    _assert_clean(counts)


def _assert_clean(counts: Counter) -> None:
    """Nothing silently wrong, nothing validated that cannot be read, validate never raised."""
    assert counts["silently wrong"] == 0
    assert counts["ok but unreadable"] == 0
    assert counts["validate raised"] == 0
    assert counts["reader wrong without raising"] == 0
    assert counts["flagged"] + counts["identical"] == counts["tried"]


def _record(workdir: Path, engine: str, counts: Counter) -> None:
    out = os.environ.get("FIELDMOVIE_CORRUPTION_TABLE")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps({"backend": engine, **counts}) + "\n")

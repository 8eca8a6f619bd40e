"""validate_movie never raises on a bad file; ok=True means every frame is reachable by seeking.

Each bad file becomes a reported problem that names the file (both backends).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import comment_tag, write_movie

from fieldmovie import MovieReader, validate_movie
from fieldmovie.movie.backends import get_backend
from fieldmovie.movie.digests import metadata_digest


@pytest.fixture
def movie(tmp_path, make_frames, backend) -> Path:
    return write_movie(tmp_path / "m.mkv", make_frames(4, 2, (8, 6)))


def _remux_comment(path: Path, edit, backend: str) -> Path:
    """A copy of ``path`` whose metadata was edited (digest recomputed: a deliberate edit)."""
    meta = json.loads(comment_tag(path))
    edit(meta)
    meta["digest"] = metadata_digest(meta)
    out = path.with_name("edited.mkv")
    get_backend(backend).set_comment(path, out, container="matroska", comment=json.dumps(meta))
    out.with_name("edited.mkv.times").write_bytes(Path(f"{path}.times").read_bytes())
    return out


def _problems(path: Path, backend: str) -> list[str]:
    report = validate_movie(path, backend=backend)
    assert not report.ok
    assert all(str(path) in p or f"{path}.times" in p for p in report.problems), report.problems
    return report.problems


def test_binary_times_is_a_problem(movie, backend):
    Path(f"{movie}.times").write_bytes(b"\x00\xff\x80binary")
    assert "not a text file" in " ".join(_problems(movie, backend))


@pytest.mark.parametrize("fps", ["fast", 2.5, 0, True, -25])
def test_bad_fps_in_metadata_is_a_problem(movie, backend, fps):
    edited = _remux_comment(movie, lambda m: m["codec"].__setitem__("fps", fps), backend)
    assert "fps" in " ".join(_problems(edited, backend))


@pytest.mark.parametrize("clipped", [["x", 0], [1], [-1, 0], "none", [True, 0]])
def test_bad_clipped_is_a_problem(movie, backend, clipped):
    edited = _remux_comment(movie, lambda m: m.__setitem__("clipped", clipped), backend)
    assert "clipped" in " ".join(_problems(edited, backend))


@pytest.mark.parametrize("content", [b"", b"\x1a\x45\xdf\xa3" + bytes(200), b"not a movie\n"])
def test_unreadable_container_is_a_problem(tmp_path, backend, content):
    path = tmp_path / "bad.mkv"
    path.write_bytes(content)
    Path(f"{path}.times").write_text("0.0\n")
    _problems(path, backend)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_a_problem(movie, backend):  # pragma: no cover - not as root
    movie.chmod(0)
    try:
        _problems(movie, backend)
    finally:
        movie.chmod(0o644)


def test_unreadable_file_is_a_problem(movie, backend):
    """Permission denied (or any OSError) opening the movie: here a directory in its place."""
    movie.unlink()
    movie.mkdir()
    problems = _problems(movie, backend)
    assert "does not exist" in problems[0] or "cannot be read" in problems[0]


def test_unreadable_sidecar_is_a_problem(movie, backend):
    times = Path(f"{movie}.times")
    times.unlink()
    times.mkdir()  # reading it fails with IsADirectoryError
    problems = _problems(movie, backend)
    assert str(times) in " ".join(problems)


def test_damaged_codec_header_is_a_problem(movie, backend):
    from test_corruption import ebml_elements

    data = bytearray(movie.read_bytes())
    codec_id = next(el for el in ebml_elements(bytes(data)) if el.name == "CodecID")
    data[codec_id.data] ^= 0x5A  # libav knows no such codec
    movie.write_bytes(bytes(data))
    _problems(movie, backend)


def test_validate_decodes_every_frame_by_seeking(movie, backend, monkeypatch):
    """ok=True needs every frame reached through reader[i]; a seek failure is a problem."""
    calls: list[int] = []
    original = MovieReader.__getitem__

    def spy(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(MovieReader, "__getitem__", spy)
    assert validate_movie(movie, backend=backend).ok
    assert sorted(calls) == [0, 1, 2, 3]

    def fail_at_2(self, key):
        if key == 2:
            raise ValueError("seek went astray")
        return original(self, key)

    monkeypatch.setattr(MovieReader, "__getitem__", fail_at_2)
    report = validate_movie(movie, backend=backend)
    assert not report.ok
    assert "frame 2 cannot be read by seeking" in report.problems[-1]


def test_damaged_cues_are_flagged_or_harmless(movie, backend):
    """Every byte of the Cues (seek index) flipped in turn: validation flags the copy, or
    every read path returns the frames of the original."""
    from test_corruption import ebml_elements, read_all_paths

    data = movie.read_bytes()
    with MovieReader(movie) as reader:
        expected = reader.to_array()
    cues = next(el for el in ebml_elements(data) if el.name == "Cues")
    spots = range(cues.start, cues.end) if backend == "pyav" else range(cues.start, cues.end, 19)
    flagged = harmless = 0
    for pos in spots:
        copy = movie.with_name("cues.mkv")
        copy.write_bytes(data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :])
        Path(f"{copy}.times").write_bytes(Path(f"{movie}.times").read_bytes())
        if not validate_movie(copy, backend=backend).ok:
            flagged += 1
            continue
        for name, frames, _ in read_all_paths(copy, backend):
            assert np.array_equal(frames, expected), f"Cues byte {pos}: {name} differs"
        harmless += 1
    assert flagged + harmless == len(spots)

"""Movies written by py-pde's MovieStorage read back exactly as py-pde reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fieldmovie import MovieReader, validate_movie

pytestmark = pytest.mark.usefixtures("backend")

DATA = Path(__file__).parent / "data" / "pypde"
EXPECTED = sorted(DATA.glob("*.expected.npz"))
MOVIE_SUFFIXES = (".mkv", ".avi", ".mov")


def movie_for(npz: Path) -> Path:
    stem = npz.name.removesuffix(".expected.npz")
    found = [DATA / f"{stem}{s}" for s in MOVIE_SUFFIXES if (DATA / f"{stem}{s}").exists()]
    assert len(found) == 1, f"no unique movie for {npz.name}: {found}"
    return found[0]


def test_reference_movies_present():
    assert len(EXPECTED) >= 10
    movies = sorted(p for p in DATA.iterdir() if p.suffix in MOVIE_SUFFIXES)
    assert len(movies) == len(EXPECTED)


@pytest.mark.parametrize("npz", EXPECTED, ids=lambda p: movie_for(p).name)
def test_pypde_movie_exact(npz):
    expected = np.load(npz)
    reader = MovieReader(movie_for(npz))
    assert reader.meta.origin == "py-pde"
    data = reader.to_array()
    assert data.shape == expected["data"].shape
    assert data.dtype == np.float64
    assert np.array_equal(data, expected["data"])
    assert np.array_equal(reader.times, expected["times"])
    assert len(reader) == expected["data"].shape[0]
    # per-channel limits as py-pde uses them
    assert np.array_equal(reader.vmin, expected["vmin"])
    assert np.array_equal(reader.vmax, expected["vmax"])
    # random access: the last frame (also by negative index) and the first
    assert np.array_equal(reader[len(reader) - 1], expected["data"][-1])
    assert np.array_equal(reader[-1], expected["data"][-1])
    assert np.array_equal(reader[0], expected["data"][0])
    # streaming yields the same
    streamed = list(reader)
    assert [t for t, _ in streamed] == expected["times"].tolist()
    assert np.array_equal(np.stack([d for _, d in streamed]), expected["data"])
    # the metadata we expose keeps py-pde's info
    metadata = json.loads(str(expected["metadata_json"]))
    assert reader.info["video_format"] == metadata["video_format"]


def test_pypde_len_bug_not_reproduced():
    """py-pde's own len() is one short for 29 frames in .mkv; we count decoded frames."""
    expected = np.load(DATA / "frames29_8bit.expected.npz")
    assert int(expected["pypde_len"]) == 28
    reader = MovieReader(DATA / "frames29_8bit.mkv")
    assert len(reader) == 29
    assert np.array_equal(reader[28], expected["data"][28])
    assert np.array_equal(reader[[27, 3, 28]], expected["data"][[27, 3, 28]])


def test_pypde_movie_validates():
    report = validate_movie(DATA / "scalar2d_16bit.avi")
    assert report.ok, report.problems


def test_pypde_movies_validate():
    """py-pde movies pass validation, including those whose times come from t_start/dt."""
    for movie in sorted(p for p in DATA.iterdir() if p.suffix in (".mkv", ".avi", ".mov")):
        report = validate_movie(movie)
        assert report.ok, (movie, report.problems)
        assert report.frames == len(MovieReader(movie))

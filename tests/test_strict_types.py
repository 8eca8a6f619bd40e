"""Strict input types: grid sizes are positive integers, frame indices are integers."""

from __future__ import annotations

import numpy as np
import pytest

from fieldmovie import MovieReader, MovieWriter
from fieldmovie.movie import MovieMeta


@pytest.mark.parametrize(
    "grid_shape",
    ["64", b"64", (6.0, 4), (6.5,), (True, 4), (np.float64(6),), (0, 4), (), (2, 2, 2, 2), 64,
     ("6", 4), (None,)],
)  # fmt: skip
def test_grid_shape_must_be_positive_integers(tmp_path, grid_shape):
    with pytest.raises(ValueError, match="grid_shape") as err:
        MovieMeta.create(components=1, grid_shape=grid_shape)
    text = str(err.value)
    assert repr(grid_shape) in text or str(tuple(grid_shape)) in text
    with pytest.raises(ValueError, match="grid_shape"):
        MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=grid_shape)
    assert not list(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize(
    "grid_shape", [(6, 4), [6, 4], (np.int64(6), np.int32(4)), np.array([6, 4])]
)
def test_integer_grid_shapes_are_accepted(grid_shape):
    assert MovieMeta.create(components=1, grid_shape=grid_shape).grid_shape == (6, 4)


@pytest.mark.parametrize("components", [True, 1.0, 0])
def test_component_count_must_be_a_positive_integer(components):
    with pytest.raises(ValueError, match="components"):
        MovieMeta.create(components=components, grid_shape=(4, 4))


@pytest.fixture
def reader(movie_factory, backend):
    path, frames, _ = movie_factory(n_frames=4)
    with MovieReader(path) as reader:
        yield reader


@pytest.mark.parametrize("key", [1.0, 1.5, np.float64(2), True, "1", [0, 1.0], [1, 2.5],
                                 np.array([0.0, 1.0]), [True, 0], ["0"]])  # fmt: skip
def test_frame_indices_must_be_integers(reader, key):
    with pytest.raises(TypeError, match="frame index") as err:
        reader[key]
    assert "not an integer" in str(err.value) or "use an integer" in str(err.value)


def test_integer_indices_of_any_integer_type(reader):
    whole = reader.to_array()
    assert np.array_equal(reader[np.int32(2)], whole[2])
    assert np.array_equal(reader[np.uint8(1)], whole[1])
    assert np.array_equal(reader[np.array([3, 0], dtype=np.int16)], whole[[3, 0]])
    assert np.array_equal(reader[[np.int64(-1), 0]], whole[[3, 0]])
    with pytest.raises(IndexError, match="frame index 4"):
        reader[[0, 4]]


@pytest.mark.parametrize(
    "kwargs",
    [{"bits": 16.0}, {"bits": True}, {"fps": True}, {"fps": 25.0},
     {"codec_options": {"slices": 4.5}}, {"codec_options": {"level": "3"}}],
)  # fmt: skip
def test_writer_settings_must_be_integers(tmp_path, kwargs):
    with pytest.raises(ValueError, match=r"bits|fps|codec_options"):
        MovieWriter(tmp_path / "m.mkv", components=1, grid_shape=(4, 4), **kwargs)
    assert not list(tmp_path.iterdir())

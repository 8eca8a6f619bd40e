"""py-pde vector and tensor fields: components by space dimension and rank, named, or refused.

The reference movies in ``tests/data/pypde/`` were written by py-pde (see
``tests/data/make_pypde_movies.py``); their ``.expected.npz`` holds what py-pde reads back
and which field and coordinate axis each channel holds (``channel_label``/``channel_axes``).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fieldmovie import MovieFormatError, MovieReader, validate_movie

pytestmark = pytest.mark.usefixtures("no_leaked_ffmpeg")

DATA = Path(__file__).parent / "data" / "pypde"
#: movies of fields whose component count follows grid.dim (and 1D Cartesian controls)
SPACE_DIM_MOVIES = {
    "polar_vector_16bit": ("PolarSymGrid", 2, ["v_r", "v_φ"]),
    "polar_tensor_8bit": ("PolarSymGrid", 2, ["T_rr", "T_rφ", "T_φr", "T_φφ"]),
    "polar_vector_scalar_16bit": ("PolarSymGrid", 2, ["v_r", "v_φ", "c"]),
    "spherical_vector_8bit": ("SphericalSymGrid", 3, ["u_r", "u_θ", "u_φ"]),
    "spherical_vector_scalar_16bit": ("SphericalSymGrid", 3, ["v_r", "v_θ", "v_φ", "c"]),
    "cylindrical_vector_16bit": ("CylindricalSymGrid", 3, ["v_r", "v_φ", "v_z"]),
    "cylindrical_vector_scalar_8bit": ("CylindricalSymGrid", 3, ["v_r", "v_φ", "v_z", "c"]),
    "cartesian1d_vector_scalar_8bit": ("CartesianGrid", 1, ["v_x", "c"]),
    "cartesian1d_tensor_16bit": ("CartesianGrid", 1, ["T_xx"]),
}


def _expected(name: str) -> Any:
    return np.load(DATA / f"{name}.expected.npz")


@pytest.mark.parametrize("name", sorted(SPACE_DIM_MOVIES))
def test_components_follow_space_dimension(name: str) -> None:
    """Every channel is read bit-identically to py-pde under the name of its field and axis."""
    grid_class, dim, names = SPACE_DIM_MOVIES[name]
    expected = _expected(name)
    assert str(expected["grid_class"]) == grid_class and int(expected["grid_dim"]) == dim
    # the names are py-pde's: label_<axes of grid.c.axes> (VectorField.__getitem__'s labels)
    pypde_names = [
        f"{label}_{axes}" if axes else label
        for label, axes in zip(expected["channel_label"], expected["channel_axes"], strict=True)
    ]
    assert pypde_names == names
    with MovieReader(DATA / f"{name}.mkv") as reader:
        assert reader.meta.components == names
        data = reader.to_array()
        assert data.dtype == np.float64
        assert np.array_equal(data, expected["data"])
        assert np.array_equal(reader[1], expected["data"][1])
        assert reader.meta.grid_shape == expected["data"].shape[2:]
    # in a collection, each field's values sit under that field's names
    channel_field = expected["channel_field"]
    for k in range(channel_field.max() + 1):
        if f"field{k}" in expected:
            mine = data[:, channel_field == k]
            assert np.array_equal(mine.reshape(expected[f"field{k}"].shape), expected[f"field{k}"])


def test_cartesian_component_names() -> None:
    """The older Cartesian references name components by field and axis too."""
    cases = {
        "scalar_vector_16bit.mkv": ["s", "v_x", "v_y"],
        "vectors2_16bit.mkv": ["v0_x", "v0_y", "v1_x", "v1_y"],
        "tensor2d_8bit.mkv": ["field0_xx", "field0_xy", "field0_yx", "field0_yy"],
        "collection3_8bit.mkv": ["f0", "f1", "f2"],
    }
    for movie, names in cases.items():
        assert MovieReader(DATA / movie).meta.components == names, movie


def _remux(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of reference ``name`` whose py-pde metadata was changed by ``edit``."""
    meta = json.loads(str(_expected(name)["metadata_json"]))
    edit(meta)
    out = tmp_path / f"{name}.mkv"
    comment = shlex.quote(json.dumps(meta))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(DATA / f"{name}.mkv"), "-c", "copy"]
        + ["-map_metadata", "-1", "-metadata", f"comment={comment}", str(out)],
        check=True,
    )
    return out


def _set_grid(meta: dict[str, Any], **state: Any) -> None:
    """Change the grid state of a single-field movie's metadata."""
    grid = json.loads(meta["field_attributes"]["grid"])
    grid.update(state)
    meta["field_attributes"]["grid"] = json.dumps(grid)


def _set_collection_grid(meta: dict[str, Any], **state: Any) -> None:
    """Change the grid state of every field of a collection movie's metadata."""
    fields = json.loads(meta["field_attributes"]["fields"])
    for field in fields:
        grid = json.loads(field["grid"])
        grid.update(state)
        field["grid"] = json.dumps(grid)
    meta["field_attributes"]["fields"] = json.dumps(fields)


REFUSED = {
    "unknown grid class": (
        "polar_vector_16bit",
        lambda m: _set_grid(m, **{"class": "EllipticGrid"}),
        "space dimension is unknown",
    ),
    "unknown field class": (
        "polar_vector_16bit",
        lambda m: m["field_attributes"].update({"class": json.dumps("Tensor3Field")}),
        "number of components is unknown",
    ),
    "axes do not fit the grid class": (
        "cylindrical_vector_16bit",
        lambda m: _set_grid(m, **{"class": "SphericalSymGrid"}),
        "has 1 axes",
    ),
    "no field attributes": (
        "spherical_vector_scalar_16bit",
        lambda m: m.pop("field_attributes"),
        "which of the 4 channels",
    ),
    "no grid": (
        "polar_tensor_8bit",
        lambda m: m["field_attributes"].pop("grid"),
        "no grid with a valid shape",
    ),
    "more components than channels": (
        "polar_vector_scalar_16bit",
        lambda m: _set_collection_grid(m, **{"class": "SphericalSymGrid"}),
        "holds 3 channels",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_undeterminable_layout_is_refused(tmp_path: Path, case: str) -> None:
    """Where the channels cannot be assigned to fields, opening fails naming the file."""
    name, edit, message = REFUSED[case]
    movie = _remux(tmp_path, name, edit)
    with pytest.raises(MovieFormatError, match=message) as info:
        MovieReader(movie)
    assert str(movie) in str(info.value)
    report = validate_movie(movie)
    assert not report.ok


def test_fewer_components_than_written_is_caught(tmp_path: Path) -> None:
    """Metadata claiming a 1D Cartesian grid for a polar vector (1 component instead of 2):
    the channel left over is not 0, so reading raises instead of returning half the field."""
    movie = _remux(
        tmp_path,
        "polar_vector_16bit",
        lambda m: _set_grid(m, **{"class": "CartesianGrid", "bounds": [[0, 2]]}),
    )
    reader = MovieReader(movie)
    assert reader.meta.components == ["v_x"]
    with pytest.raises(MovieFormatError, match=r"frame 0: channel\(s\) 1..2 .* are not 0"):
        reader.to_array()
    with pytest.raises(MovieFormatError, match=str(movie)):
        reader[2]

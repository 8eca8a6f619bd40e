"""Reading movies written by py-pde's ``MovieStorage`` (see ``docs/pypde_format.md``).

py-pde stores up to four channels in one packed or planar pixel format, writes the C-ordered
array ``(nx, ny, channels)`` as a picture of width ``nx`` and height ``ny`` (a reshape, not a
transpose), truncates when quantizing and keeps its JSON metadata shell-quoted in the
``comment`` tag. We decode with the pixel format named in the metadata and apply py-pde's own
formula in py-pde's operation order, so the values are bit-identical to what py-pde returns.
"""

from __future__ import annotations

import itertools
import json
import shlex
from typing import Any

import numpy as np

from .metadata import MovieFormatError, MovieMeta
from .probe import StreamInfo, read_times, times_path

__all__ = ["open_pypde_layout"]

#: py-pde's video formats: channels, bytes per channel, numpy dtype, largest value
_FORMATS: dict[str, tuple[int, np.dtype, int]] = {
    "gray": (1, np.dtype(np.uint8), 255),
    "rgb24": (3, np.dtype(np.uint8), 255),
    "rgb32": (4, np.dtype(np.uint8), 255),
    "gray16le": (1, np.dtype("<u2"), 65535),
    "gbrp16le": (3, np.dtype("<u2"), 65535),
    "gbrap16le": (4, np.dtype("<u2"), 65535),
}


def _parse_comment(raw: str, source: str) -> dict[str, Any]:
    """Un-shell-quote and parse py-pde's comment (``shlex.quote(json.dumps(info))``)."""
    try:
        parts = shlex.split(raw)
        obj = json.loads(parts[0] if len(parts) == 1 else raw)
    except (ValueError, IndexError):
        raise MovieFormatError(
            f"{source}: the comment tag is neither fieldmovie nor py-pde metadata"
        ) from None
    if not isinstance(obj, dict) or "video_format" not in obj and "field_attributes" not in obj:
        raise MovieFormatError(
            f"{source}: not a fieldmovie or py-pde movie (metadata lacks 'format' and "
            "'video_format')"
        )
    return obj


def _loads(value: Any) -> Any:
    """py-pde serialises each attribute as a JSON string inside the JSON."""
    return json.loads(value) if isinstance(value, str) else value


def _fields(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """Attribute dicts of the fields, in channel order."""
    if _loads(attributes.get("class")) == "FieldCollection":
        return [
            {k: _loads(v) for k, v in (_loads(f) if isinstance(f, str) else f).items()}
            for f in _loads(attributes["fields"])
        ]
    return [{k: _loads(v) for k, v in attributes.items()}]


#: py-pde's field classes and their tensor rank (components: ``grid.dim ** rank``)
_RANK = {"ScalarField": 0, "VectorField": 1, "Tensor2Field": 2}

#: py-pde's grids that MovieStorage can write (at most 2 axes): number of axes (None: any)
#: and the names of the coordinate axes, ``grid.c.axes``, in component order; for the
#: Cartesian grids the space dimension is the number of axes and the names are x, y, z
_GRIDS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "CartesianGrid": (None, ("x", "y", "z")),
    "UnitGrid": (None, ("x", "y", "z")),
    "PolarSymGrid": (1, ("r", "φ")),
    "SphericalSymGrid": (1, ("r", "θ", "φ")),
    "CylindricalSymGrid": (2, ("r", "φ", "z")),
}


def _grid_state(field: dict[str, Any], k: int, source: str) -> dict[str, Any]:
    """The grid state of field ``k`` (``grid.state_serialized``), checked to have a shape."""
    state = _loads(field.get("grid") or "null")
    shape = state.get("shape") if isinstance(state, dict) else None
    if not isinstance(shape, list) or not all(isinstance(n, int) and n > 0 for n in shape):
        raise MovieFormatError(
            f"{source}: field {k} of the py-pde metadata has no grid with a valid shape "
            f"(got {state!r}); the picture layout is unknown"
        )
    return state


def _component_axes(state: dict[str, Any], label: str, rank: int, source: str) -> list[str]:
    """Names of the components of a field of ``rank`` on the grid ``state``, in channel order.

    A vector has one component per space dimension (``grid.dim``), named after the axes of
    the grid's coordinates; a tensor ``dim * dim`` in C order (``"rφ"`` is row r, column φ).
    """
    grid_class = state.get("class")
    if grid_class not in _GRIDS:
        raise MovieFormatError(
            f"{source}: field {label!r} is a rank-{rank} field on a py-pde grid of class "
            f"{grid_class!r}, whose space dimension is unknown, so its components cannot be "
            f"assigned to channels; known grids: {sorted(_GRIDS)}"
        )
    num_axes, names = _GRIDS[grid_class]
    shape = state["shape"]
    if num_axes is not None and len(shape) != num_axes:
        raise MovieFormatError(
            f"{source}: a {grid_class} has {num_axes} axes, but field {label!r} has the grid "
            f"shape {shape}; the layout is unknown"
        )
    dim = len(shape) if num_axes is None else len(names)
    return ["".join(c) for c in itertools.product(names[:dim], repeat=rank)]


def _components(fields: list[dict[str, Any]], source: str) -> tuple[list[str], list[int]]:
    """Component names (``label`` or ``label_axes``) and the field index of each channel."""
    names: list[str] = []
    owner: list[int] = []
    shape0 = _grid_state(fields[0], 0, source)["shape"]
    for k, field in enumerate(fields):
        label = field.get("label") or f"field{k}"
        cls = field.get("class")
        if cls not in _RANK:
            raise MovieFormatError(
                f"{source}: field {k} ({label!r}) has the class {cls!r}; its number of "
                f"components is unknown (known: {sorted(_RANK)})"
            )
        state = _grid_state(field, k, source)
        if state["shape"] != shape0:
            raise MovieFormatError(
                f"{source}: field {k} ({label!r}) has the grid shape {state['shape']}, field 0 "
                f"has {shape0}; the layout is unknown"
            )
        rank = _RANK[cls]
        axes = _component_axes(state, label, rank, source) if rank else [""]
        names += [f"{label}_{a}" if a else label for a in axes]
        owner += [k] * len(axes)
    return names, owner


class PyPDELayout:
    """Decoder of py-pde frames into ``(channels, *grid_shape)`` float64 arrays.

    The channels are the components of the fields in order: a scalar field gives one
    (named by its label), a vector field ``grid.dim`` (``label_r``, ``label_φ``, ...), a
    tensor field ``grid.dim ** 2`` (``label_rr``, ``label_rφ``, ...). Anything that leaves
    this assignment open is refused with a MovieFormatError naming the file.
    """

    def __init__(self, stream: StreamInfo, obj: dict[str, Any]) -> None:
        source = str(stream.path)
        video_format = obj.get("video_format") or stream.pix_fmt
        if video_format not in _FORMATS:
            raise MovieFormatError(
                f"{source}: py-pde video format {video_format!r} is not supported; "
                f"known: {sorted(_FORMATS)}"
            )
        self.pix_fmt = video_format
        self.channels, self.dtype, self.max_value = _FORMATS[video_format]
        self.width, self.height = stream.width, stream.height
        self.frame_bytes = self.width * self.height * self.channels * self.dtype.itemsize

        attributes = obj.get("field_attributes") or {}
        if attributes:
            fields = _fields(attributes)
            components, owner = _components(fields, source)
            grid_state = _grid_state(fields[0], 0, source)
            shape = tuple(grid_state["shape"])
        elif self.channels == 1:  # one scalar: the only layout a 1-channel picture can hold
            fields, components, owner = [{}], ["field0"], [0]
            grid_state, shape = {}, (self.width, self.height)
        else:
            raise MovieFormatError(
                f"{source}: the py-pde metadata has no 'field_attributes', so which of the "
                f"{self.channels} channels of {video_format} belong to which field is unknown"
            )
        if int(np.prod(shape)) != self.width * self.height:
            raise MovieFormatError(
                f"{source}: grid shape {shape} does not fit the {self.width}x{self.height} video"
            )
        if len(components) > self.channels:
            raise MovieFormatError(
                f"{source}: the fields have {len(components)} components {components}, but "
                f"format {video_format} holds {self.channels} channels"
            )
        if len(set(components)) != len(components):
            components = [f"{i}:{c}" for i, c in enumerate(components)]
        self.grid_shape = shape
        lo = self._limits(obj.get("vmin", 0), len(fields), "vmin", source)
        hi = self._limits(obj.get("vmax", 1), len(fields), "vmax", source)
        self.vmin = np.asarray([lo[k] for k in owner], dtype=np.float64)
        self.vmax = np.asarray([hi[k] for k in owner], dtype=np.float64)
        self.meta = self._meta(obj, attributes, components, grid_state)

    def _meta(
        self,
        obj: dict[str, Any],
        attributes: dict[str, Any],
        components: list[str],
        grid_state: dict[str, Any],
    ) -> MovieMeta:
        """The MovieMeta of the movie: components, limits per component, py-pde's info."""
        shape = self.grid_shape
        bounds = grid_state.get("bounds")
        length = None
        if bounds and len(bounds) == len(shape):
            length = tuple(float(b[1]) - float(b[0]) for b in bounds)
        info = {
            k: v for k, v in obj.items() if k not in ("vmin", "vmax", "version", "field_attributes")
        }
        info["field_attributes"] = attributes
        return MovieMeta(
            components=components,
            grid_shape=shape,
            vmin=[float(v) for v in self.vmin],
            vmax=[float(v) for v in self.vmax],
            bits=8 if self.max_value == 255 else 16,
            info=info,
            grid_length=length,
            periodic=tuple(grid_state["periodic"]) if "periodic" in grid_state else None,
            codec={"fps": 25},  # py-pde always writes at FFmpeg's default rawvideo rate
            version=int(obj.get("version", 1)),
            origin="py-pde",
        )

    @staticmethod
    def _limits(value: Any, n_fields: int, name: str, source: str) -> list[float]:
        if isinstance(value, list):
            if len(value) < n_fields:
                raise MovieFormatError(f"{source}: {name} has {len(value)} entries for "
                                       f"{n_fields} fields")  # fmt: skip
            return [float(v) for v in value[:n_fields]]
        return [float(value)] * n_fields

    def decode(self, buf: bytearray) -> np.ndarray:
        """One frame, with py-pde's formula ``vmin + (q / max) * (vmax - vmin)``."""
        frame = np.frombuffer(buf, self.dtype).reshape(self.width, self.height, self.channels)
        n = len(self.meta.components)
        if frame[:, :, n:].any():  # py-pde writes 0 there: the fields are not what we think
            raise ValueError(
                f"channel(s) {n}..{self.channels - 1} of {self.pix_fmt}, unused by the fields "
                f"{self.meta.components}, are not 0: the layout is not what the metadata says"
            )
        out = np.empty((n, *self.grid_shape))
        for i in range(n):
            val = frame[:, :, i].astype(float) / self.max_value
            out[i] = (self.vmin[i] + val * (self.vmax[i] - self.vmin[i])).reshape(self.grid_shape)
        return out


def open_pypde_layout(stream: StreamInfo) -> tuple[MovieMeta, PyPDELayout]:
    """Metadata and decoder of a py-pde movie; raises MovieFormatError if it is not one."""
    obj = _parse_comment(stream.comment or "", str(stream.path))
    layout = PyPDELayout(stream, obj)
    return layout.meta, layout


def pypde_times(stream: StreamInfo, meta: MovieMeta) -> list[float]:
    """Times of a py-pde movie: its ``.times`` sidecar if it wrote one, else t_start + dt * n.

    py-pde writes the sidecar only with ``write_times=True``; otherwise the times are
    defined by ``t_start`` and ``dt`` in the metadata (defaults 0 and 1).
    """
    if meta.info.get("write_times"):
        return read_times(times_path(stream.path))
    t_start = meta.info.get("t_start")
    dt = meta.info.get("dt")
    t0 = 0.0 if t_start is None else float(t_start)
    step = 1.0 if dt is None else float(dt)
    return [t0 + step * i for i in range(stream.packets)]

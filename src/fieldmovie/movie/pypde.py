"""Reading movies written by py-pde's ``MovieStorage`` (see ``docs/pypde_format.md``).

py-pde stores up to four channels in one packed or planar pixel format, writes the C-ordered
array ``(nx, ny, channels)`` as a picture of width ``nx`` and height ``ny`` (a reshape, not a
transpose), truncates when quantizing and keeps its JSON metadata shell-quoted in the
``comment`` tag. We decode with the pixel format named in the metadata and apply py-pde's own
formula in py-pde's operation order, so the values are bit-identical to what py-pde returns.
"""

from __future__ import annotations

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


_RANK = {"ScalarField": 0, "VectorField": 1, "Tensor2Field": 2}


class PyPDELayout:
    """Decoder of py-pde frames into ``(channels, *grid_shape)`` float64 arrays."""

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
        fields = _fields(attributes) if attributes else [{"class": "ScalarField"}]
        grid_state = _loads(fields[0].get("grid") or "null") or {}
        shape = tuple(grid_state.get("shape") or [self.width, self.height])
        if int(np.prod(shape)) != self.width * self.height:
            raise MovieFormatError(
                f"{source}: grid shape {shape} does not fit the {self.width}x{self.height} video"
            )
        self.grid_shape = shape
        dim = len(shape)
        n_fields = len(fields)
        lo = self._limits(obj.get("vmin", 0), n_fields, "vmin", source)
        hi = self._limits(obj.get("vmax", 1), n_fields, "vmax", source)
        components, vmin, vmax = [], [], []
        for k, field in enumerate(fields):
            label = field.get("label") or f"field{k}"
            rank = _RANK.get(str(field.get("class")), 0)
            count = dim**rank
            names = [label] if count == 1 else [f"{label}_{j}" for j in range(count)]
            components += names
            vmin += [lo[k]] * count
            vmax += [hi[k]] * count
        if len(components) > self.channels:
            raise MovieFormatError(
                f"{source}: {len(components)} channels needed but format {video_format} "
                f"holds {self.channels}"
            )
        if len(set(components)) != len(components):
            components = [f"{i}:{c}" for i, c in enumerate(components)]
        self.vmin = np.asarray(vmin, dtype=np.float64)
        self.vmax = np.asarray(vmax, dtype=np.float64)
        bounds = grid_state.get("bounds")
        length = None
        if bounds and len(bounds) == dim:
            length = tuple(float(b[1]) - float(b[0]) for b in bounds)
        info = {
            k: v for k, v in obj.items() if k not in ("vmin", "vmax", "version", "field_attributes")
        }
        info["field_attributes"] = attributes
        self.meta = MovieMeta(
            components=components,
            grid_shape=shape,
            vmin=[float(v) for v in vmin],
            vmax=[float(v) for v in vmax],
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

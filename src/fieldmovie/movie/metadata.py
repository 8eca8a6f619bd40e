"""The JSON metadata stored in a movie's ``comment`` tag, and checks of user-given settings."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .codec import BIT_DEPTHS, PIXEL_FORMATS, stored_size

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MovieFormatError", "MovieMeta"]

FORMAT_NAME = "fieldmovie"
FORMAT_VERSION = 1

#: FFV1 encoder options a user may override through ``codec_options``
CODEC_OPTIONS = ("level", "slices", "slicecrc", "context", "coder")
DEFAULT_FPS = 25
#: frame-exact seeking needs timestamps in whole milliseconds; above 100 fps the concat
#: demuxer's joins drift by a millisecond per segment (measured with FFmpeg 5.1)
MAX_FPS = 100
#: the metadata travels as one command-line argument (Linux caps one at 128 KiB)
MAX_METADATA_BYTES = 64 * 1024


class MovieFormatError(ValueError):
    """A movie, its metadata or its ``.times`` sidecar is missing, damaged or not ours."""


def _per_component(name: str, value: Any, components: Sequence[str]) -> list[float]:
    """vmin/vmax given as a scalar, a sequence or a mapping name -> value."""
    n = len(components)
    if isinstance(value, Mapping):
        missing = [c for c in components if c not in value]
        if missing:
            raise ValueError(f"{name}: no value for component(s) {missing}")
        extra = [k for k in value if k not in components]
        if extra:
            raise ValueError(f"{name}: unknown component(s) {extra}; components are {components}")
        values = [value[c] for c in components]
    elif isinstance(value, str | bytes):
        raise ValueError(f"{name}: expected a number or {n} numbers, got {value!r}")
    elif isinstance(value, Sequence) or hasattr(value, "__len__"):
        values = list(value)
        if len(values) != n:
            raise ValueError(f"{name}: {len(values)} values given for {n} component(s)")
    else:
        values = [value] * n
    out = []
    for comp, v in zip(components, values, strict=True):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} of component {comp!r} is {v!r}, not a number") from None
        if not math.isfinite(f):
            raise ValueError(f"{name} of component {comp!r} is {f}; it must be finite")
        out.append(f)
    return out


@dataclass
class MovieMeta:
    """What a fieldmovie movie says about itself (see ``docs/format.md``)."""

    components: list[str]
    grid_shape: tuple[int, ...]
    vmin: list[float]
    vmax: list[float]
    bits: int = 16
    info: dict[str, Any] = field(default_factory=dict)
    grid_length: tuple[float, ...] | None = None
    periodic: tuple[bool, ...] | None = None
    clipped: list[int] | None = None
    codec: dict[str, int] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    #: "fieldmovie" or "py-pde" (a movie written by py-pde's MovieStorage)
    origin: str = FORMAT_NAME
    #: provenance: the FFmpeg backend that wrote the file, ``{"name": ..., "version": ...}``
    #: (optional; older movies lack it)
    backend: dict[str, str] | None = None

    @classmethod
    def create(
        cls,
        *,
        components: Sequence[str] | int,
        grid_shape: Sequence[int],
        vmin: Any,
        vmax: Any,
        bits: int = 16,
        info: Mapping[str, Any] | None = None,
        grid_length: Sequence[float] | None = None,
        periodic: Sequence[bool] | bool | None = None,
    ) -> MovieMeta:
        """Check user-given settings and build the metadata (ValueError naming the setting)."""
        if isinstance(components, int):
            if components < 1:
                raise ValueError(f"components: need at least one, got {components}")
            components = [str(i) for i in range(components)]
        components = [str(c) for c in components]
        if not components:
            raise ValueError("components: need at least one component name")
        if len(set(components)) != len(components):
            raise ValueError(f"components: names must be unique, got {components}")
        try:
            shape = tuple(int(n) for n in grid_shape)
        except TypeError:
            raise ValueError(
                f"grid_shape: expected a sequence of sizes, got {grid_shape!r}"
            ) from None
        if not 1 <= len(shape) <= 3 or any(n < 1 for n in shape):
            raise ValueError(f"grid_shape {shape}: need 1 to 3 axes, each of size >= 1")
        if bits not in BIT_DEPTHS:
            raise ValueError(f"bits={bits!r} is not supported; allowed: {list(BIT_DEPTHS)}")
        lo = _per_component("vmin", vmin, components)
        hi = _per_component("vmax", vmax, components)
        for comp, a, b in zip(components, lo, hi, strict=True):
            if not a < b:
                raise ValueError(f"component {comp!r}: vmin={a} must be smaller than vmax={b}")
            if not math.isfinite(b - a):
                raise ValueError(f"component {comp!r}: range vmax - vmin = {b} - {a} overflows")
        length = None
        if grid_length is not None:
            length = tuple(float(x) for x in grid_length)
            if len(length) != len(shape) or not all(x > 0 and math.isfinite(x) for x in length):
                raise ValueError(f"grid_length {grid_length!r}: need {len(shape)} positive lengths")
        per = None
        if periodic is not None:
            per = (
                (bool(periodic),) * len(shape)
                if isinstance(periodic, bool)
                else tuple(bool(p) for p in periodic)
            )
            if len(per) != len(shape):
                raise ValueError(f"periodic {periodic!r}: need {len(shape)} flags")
        info = dict(info or {})
        try:
            json.dumps(info, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"info must be JSON-serialisable (finite numbers): {exc}") from None
        return cls(components, shape, lo, hi, bits, info, length, per)

    # -- derived ---------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components (fields) in every frame."""
        return len(self.components)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one decoded frame: ``(n_components, *grid_shape)``."""
        return (self.n_components, *self.grid_shape)

    @property
    def pix_fmt(self) -> str:
        """FFmpeg pixel format of the gray plane."""
        return PIXEL_FORMATS[self.bits]

    @property
    def picture_size(self) -> tuple[int, int]:
        """(width, height) of the stored picture of one frame (1 px sides doubled)."""
        return stored_size(self.grid_shape, self.n_components)

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The one-line JSON object written to the container's comment tag."""
        obj: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": self.version,
            "components": self.components,
            "grid_shape": list(self.grid_shape),
            "vmin": self.vmin,
            "vmax": self.vmax,
            "bits": self.bits,
            "layout": "gray-stacked",
            "codec": self.codec,
            "info": self.info,
        }
        if self.grid_length is not None:
            obj["grid_length"] = list(self.grid_length)
        if self.periodic is not None:
            obj["periodic"] = list(self.periodic)
        if self.clipped is not None:
            obj["clipped"] = self.clipped
        if self.backend is not None:
            obj["backend"] = self.backend
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "movie") -> MovieMeta:
        """Parse and check the comment-tag JSON of a fieldmovie movie."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MovieFormatError(f"{source}: metadata is not valid JSON ({exc})") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
            raise MovieFormatError(f'{source}: metadata has no "format": "{FORMAT_NAME}"')
        version = obj.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise MovieFormatError(
                f"{source}: format version {version!r} is not supported by this fieldmovie "
                f"(reads versions up to {FORMAT_VERSION}); upgrade fieldmovie"
            )
        for key in ("components", "grid_shape", "vmin", "vmax", "bits"):
            if key not in obj:
                raise MovieFormatError(f"{source}: metadata lacks the key {key!r}")
        try:
            meta = cls.create(
                components=obj["components"],
                grid_shape=obj["grid_shape"],
                vmin=obj["vmin"],
                vmax=obj["vmax"],
                bits=obj["bits"],
                info=obj.get("info") or {},
                grid_length=obj.get("grid_length"),
                periodic=obj.get("periodic"),
            )
        except ValueError as exc:
            raise MovieFormatError(f"{source}: metadata is inconsistent: {exc}") from None
        meta.version = version
        meta.codec = dict(obj.get("codec") or {})
        clipped = obj.get("clipped")
        if clipped is not None:
            meta.clipped = [int(c) for c in clipped]
        backend = obj.get("backend")
        if isinstance(backend, dict):
            meta.backend = {str(k): str(v) for k, v in backend.items()}
        return meta

    def compatibility_problem(self, other: MovieMeta) -> str | None:
        """The first field in which two movies differ so that they cannot be joined, or None."""
        checks = (
            ("components", self.components, other.components),
            ("grid_shape", self.grid_shape, other.grid_shape),
            ("bits", self.bits, other.bits),
            ("vmin", self.vmin, other.vmin),
            ("vmax", self.vmax, other.vmax),
            ("codec", self.codec, other.codec),
            ("grid_length", self.grid_length, other.grid_length),
            ("origin", self.origin, other.origin),
        )
        for name, a, b in checks:
            if a != b:
                return f"{name} is {b!r}, expected {a!r}"
        return None

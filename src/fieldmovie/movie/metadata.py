"""The JSON metadata stored in a movie's ``comment`` tag, and checks of user-given settings."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codec import BIT_DEPTHS, PIXEL_FORMATS, stored_size
from .digests import FILE_DIGEST_BYTES, is_digest, metadata_digest
from .ranges import AUTO, parse_ranges

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MovieFormatError", "MovieMeta"]

FORMAT_NAME = "fieldmovie"
FORMAT_VERSION = 2
#: per-component storage range modes in the v2 metadata's ``"range"``
RANGE_MODES = ("auto", "fixed")

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


def grid_sizes(grid_shape: Any) -> tuple[int, ...]:
    """``grid_shape`` as a tuple of 1 to 3 positive integers (Python or numpy integers).

    Raises:
        ValueError: naming the value, for a string, a float (even 6.0), a bool, a size < 1 or
            the wrong number of axes.
    """
    if isinstance(grid_shape, str | bytes) or not isinstance(grid_shape, Sequence | np.ndarray):
        raise ValueError(
            f"grid_shape: expected a sequence of 1 to 3 integer sizes, got {grid_shape!r}"
        )
    shape = []
    for n in grid_shape:
        if isinstance(n, bool | np.bool_) or not isinstance(n, int | np.integer):
            raise ValueError(
                f"grid_shape {grid_shape!r}: size {n!r} ({type(n).__name__}) is not an integer"
            )
        shape.append(int(n))
    if not 1 <= len(shape) <= 3 or any(n < 1 for n in shape):
        raise ValueError(f"grid_shape {tuple(shape)}: need 1 to 3 axes, each of size >= 1")
    return tuple(shape)


def _check_fixed(comp: str, lo: float, hi: float) -> None:
    """A fixed storage range must be finite, ``lo < hi`` and not overflow."""
    for name, v in (("vmin", lo), ("vmax", hi)):
        if not math.isfinite(v):
            raise ValueError(f"{name} of component {comp!r} is {v}; it must be finite")
    if not lo < hi:
        raise ValueError(f"component {comp!r}: vmin={lo} must be smaller than vmax={hi}")
    if not math.isfinite(hi - lo):
        raise ValueError(f"component {comp!r}: range vmax - vmin = {hi} - {lo} overflows")


def _envelope(obj: dict[str, Any], components: list[str], source: str) -> tuple[list, list]:
    """The v2 ``vmin``/``vmax`` lists: finite numbers with ``vmin <= vmax``."""
    out = []
    for key in ("vmin", "vmax"):
        values = obj[key]
        if not isinstance(values, list) or len(values) != len(components):
            raise MovieFormatError(f"{source}: metadata {key!r} needs {len(components)} numbers")
        for comp, v in zip(components, values, strict=True):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise MovieFormatError(
                    f"{source}: metadata {key!r} of component {comp!r} is {v!r}, not a finite "
                    "number (an unfinished write leaves it null)"
                )
        out.append([float(v) for v in values])
    for comp, lo, hi in zip(components, *out, strict=True):
        if not lo <= hi:
            raise MovieFormatError(f"{source}: metadata vmin {lo} > vmax {hi} of {comp!r}")
    return out[0], out[1]


@dataclass
class MovieMeta:
    """What a fieldmovie movie says about itself (see ``docs/format.md``)."""

    components: list[str]
    grid_shape: tuple[int, ...]
    #: storage range per component; for auto components the envelope over all frames
    #: (None until the writer knows it)
    vmin: list[float | None]
    vmax: list[float | None]
    bits: int = 16
    info: dict[str, Any] = field(default_factory=dict)
    grid_length: tuple[float, ...] | None = None
    periodic: tuple[bool, ...] | None = None
    clipped: list[int] | None = None
    codec: dict[str, int] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    #: "fieldmovie" or "py-pde" (a movie written by py-pde's MovieStorage)
    origin: str = FORMAT_NAME
    #: "auto" or "fixed" per component (None: all fixed, as in version 1)
    range_mode: list[str] | None = None
    #: digest of the ``.times`` sidecar's bytes (version 2)
    times_digest: str | None = None
    #: provenance: the FFmpeg backend that wrote the file, ``{"name": ..., "version": ...}``
    #: (optional; older movies lack it)
    backend: dict[str, str] | None = None

    @classmethod
    def create(
        cls,
        *,
        components: Sequence[str] | int,
        grid_shape: Sequence[int],
        vmin: Any = AUTO,
        vmax: Any = AUTO,
        bits: int = 16,
        info: Mapping[str, Any] | None = None,
        grid_length: Sequence[float] | None = None,
        periodic: Sequence[bool] | bool | None = None,
        ranges: Any = None,
    ) -> MovieMeta:
        """Check user-given settings and build the metadata (ValueError naming the setting).

        The storage range per component comes from ``vmin``/``vmax`` (numbers: fixed;
        ``"auto"``: from the data, per frame) or from ``ranges`` (mapping name -> ``"auto"``
        or ``[vmin, vmax]``; see :func:`fieldmovie.movie.ranges.parse_ranges`).
        """
        if isinstance(components, bool | float | str) or not isinstance(
            components, int | np.integer | Sequence | np.ndarray
        ):
            raise ValueError(f"components: a count or a list of names, got {components!r}")
        if isinstance(components, int | np.integer):
            components = int(components)
            if components < 1:
                raise ValueError(f"components: need at least one, got {components}")
            components = [str(i) for i in range(components)]
        components = [str(c) for c in components]
        if not components:
            raise ValueError("components: need at least one component name")
        if len(set(components)) != len(components):
            raise ValueError(f"components: names must be unique, got {components}")
        shape = grid_sizes(grid_shape)
        if isinstance(bits, bool) or not isinstance(bits, int) or bits not in BIT_DEPTHS:
            raise ValueError(f"bits={bits!r} is not supported; allowed: {list(BIT_DEPTHS)}")
        specs = parse_ranges(components, vmin, vmax, ranges)
        lo: list[float | None] = []
        hi: list[float | None] = []
        for comp, spec in zip(components, specs, strict=True):
            if spec is not None:
                _check_fixed(comp, *spec)
            lo.append(None if spec is None else spec[0])
            hi.append(None if spec is None else spec[1])
        modes = ["fixed" if spec is not None else "auto" for spec in specs]
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
        return cls(components, shape, lo, hi, bits, info, length, per, range_mode=modes)

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

    @property
    def modes(self) -> list[str]:
        """``"auto"`` or ``"fixed"`` per component."""
        return list(self.range_mode or ["fixed"] * self.n_components)

    @property
    def fixed_ranges(self) -> list[tuple[float, float] | None]:
        """Per component the fixed ``(vmin, vmax)``, or None for an auto component."""
        return [
            (float(lo), float(hi)) if mode == "fixed" else None  # type: ignore[arg-type]
            for mode, lo, hi in zip(self.modes, self.vmin, self.vmax, strict=True)
        ]

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The metadata object (version 2: with ``"range"``, ``"times_digest"``, ``"digest"``)."""
        obj: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": self.version,
            "components": self.components,
            "grid_shape": list(self.grid_shape),
        }
        if self.version >= 2:
            obj["range"] = dict(zip(self.components, self.modes, strict=True))
        obj.update(
            vmin=self.vmin, vmax=self.vmax, bits=self.bits, layout="gray-stacked",
            codec=self.codec, info=self.info,
        )  # fmt: skip
        if self.grid_length is not None:
            obj["grid_length"] = list(self.grid_length)
        if self.periodic is not None:
            obj["periodic"] = list(self.periodic)
        if self.clipped is not None:
            obj["clipped"] = self.clipped
        if self.backend is not None:
            obj["backend"] = self.backend
        if self.version >= 2:
            if self.times_digest is not None:
                obj["times_digest"] = self.times_digest
            obj["digest"] = metadata_digest(obj)
        return obj

    def to_json(self) -> str:
        """The one-line JSON object written to the container's comment tag."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "movie") -> MovieMeta:
        """Parse and check the comment-tag JSON of a fieldmovie movie (version 1 or 2).

        Version 2 metadata must carry its ``digest`` (checked here: any edit of the JSON is
        an error); a movie's also has ``times_digest`` (the reader checks the sidecar).
        """
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MovieFormatError(f"{source}: metadata is not valid JSON ({exc})") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
            raise MovieFormatError(f'{source}: metadata has no "format": "{FORMAT_NAME}"')
        version = obj.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 2:
            raise MovieFormatError(
                f"{source}: format version {version!r} is not supported by this fieldmovie "
                f"(reads versions 1 to {FORMAT_VERSION}); upgrade fieldmovie"
            )
        required = ("components", "grid_shape", "vmin", "vmax", "bits")
        if version >= 2:
            required += ("range", "digest")
        for key in required:
            if key not in obj:
                raise MovieFormatError(f"{source}: metadata lacks the key {key!r}")
        if version >= 2:
            _check_digests(obj, source)
        meta = cls._from_dict(obj, version, source)
        meta.version = version
        meta.codec = _codec_settings(obj.get("codec"), source)
        clipped = obj.get("clipped")
        if clipped is not None:
            ok = (
                isinstance(clipped, list)
                and len(clipped) == meta.n_components
                and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in clipped)
            )
            if not ok:
                raise MovieFormatError(
                    f"{source}: metadata 'clipped' is {clipped!r}; expected a count >= 0 for "
                    f"each of the {meta.n_components} component(s)"
                )
            meta.clipped = list(clipped)
        if version >= 2:
            meta.times_digest = obj.get("times_digest")
        backend = obj.get("backend")
        if isinstance(backend, dict):
            meta.backend = {str(k): str(v) for k, v in backend.items()}
        return meta

    @classmethod
    def _from_dict(cls, obj: dict[str, Any], version: int, source: str) -> MovieMeta:
        """Build the metadata from a parsed object (v2: auto components get the envelope)."""
        modes = None
        if version >= 2:
            modes = obj["range"]
            components = obj["components"]
            if (
                not isinstance(modes, dict)
                or not isinstance(components, list)
                or list(modes) != [str(c) for c in components]
                or any(m not in RANGE_MODES for m in modes.values())
            ):
                raise MovieFormatError(
                    f"{source}: metadata 'range' is {modes!r}; expected one of {RANGE_MODES} "
                    f"per component, in the order of {components!r}"
                )
        fixed = [m == "fixed" for m in modes.values()] if modes else None
        try:
            ranges = None
            if fixed is not None:
                ranges = [
                    [lo, hi] if f else AUTO
                    for f, lo, hi in zip(fixed, obj["vmin"], obj["vmax"], strict=True)
                ]
            meta = cls.create(
                components=obj["components"],
                grid_shape=obj["grid_shape"],
                vmin=AUTO if ranges else obj["vmin"],
                vmax=AUTO if ranges else obj["vmax"],
                ranges=ranges,
                bits=obj["bits"],
                info=obj.get("info") or {},
                grid_length=obj.get("grid_length"),
                periodic=obj.get("periodic"),
            )
        except (ValueError, TypeError) as exc:
            raise MovieFormatError(f"{source}: metadata is inconsistent: {exc}") from None
        if version >= 2:
            meta.vmin, meta.vmax = _envelope(obj, meta.components, source)
        return meta

    def compatibility_problem(self, other: MovieMeta) -> str | None:
        """The first field in which two movies differ so that they cannot be joined, or None.

        Fixed ranges must be equal; auto components may have any ranges.
        """
        checks = (
            ("version", self.version, other.version),
            ("components", self.components, other.components),
            ("grid_shape", self.grid_shape, other.grid_shape),
            ("bits", self.bits, other.bits),
            ("range", self.modes, other.modes),
            ("vmin", *_fixed_ends(self, other, 0)),
            ("vmax", *_fixed_ends(self, other, 1)),
            ("codec", self.codec, other.codec),
            ("grid_length", self.grid_length, other.grid_length),
            ("origin", self.origin, other.origin),
        )
        for name, a, b in checks:
            if a != b:
                return f"{name} is {b!r}, expected {a!r}"
        return None


def _fixed_ends(a: MovieMeta, b: MovieMeta, end: int) -> tuple[list, list]:
    """The fixed components' lower (end=0) or upper (end=1) ends of two movies."""
    ends = []
    for meta in (a, b):
        values = (meta.vmin, meta.vmax)[end]
        ends.append([v for v, m in zip(values, meta.modes, strict=True) if m == "fixed"])
    return ends[0], ends[1]


def _codec_settings(codec: Any, source: str) -> dict[str, Any]:
    """The metadata's ``codec`` dict; its ``fps`` (seeking relies on it) a positive integer."""
    if codec is None:
        return {}
    if not isinstance(codec, dict):
        raise MovieFormatError(f"{source}: metadata 'codec' is {codec!r}, not an object")
    fps = codec.get("fps")
    if fps is not None and (not isinstance(fps, int) or isinstance(fps, bool) or fps < 1):
        raise MovieFormatError(
            f"{source}: metadata codec 'fps' is {fps!r}; expected a positive integer"
        )
    return dict(codec)


def _check_digests(obj: dict[str, Any], source: str) -> None:
    """The metadata digest must match and the times digest must look like one."""
    if "times_digest" in obj and not is_digest(obj["times_digest"], FILE_DIGEST_BYTES):
        raise MovieFormatError(
            f"{source}: metadata 'times_digest' is {obj['times_digest']!r}, not a digest"
        )
    try:
        expected = metadata_digest(obj)
    except (TypeError, ValueError) as exc:
        raise MovieFormatError(f"{source}: metadata cannot be serialized ({exc})") from None
    if obj["digest"] != expected:
        raise MovieFormatError(
            f"{source}: metadata digest mismatch (stored {obj['digest']!r}, computed "
            f"{expected!r}): the comment tag was edited or damaged after writing"
        )

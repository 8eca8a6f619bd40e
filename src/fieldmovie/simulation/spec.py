"""SegmentSpec: everything one point's segments depend on, in one frozen value.

The same value is the segment rule's ``params`` (Snakemake's rerun trigger), the settings
saved with every state (checked when the next segment resumes from it) and the movie's info.
``t_end`` is not part of it: extending a run must not recompute finished segments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["CHAIN_FIELDS", "SegmentSpec"]

#: fields a saved state and the segment resuming from it must agree on
CHAIN_FIELDS = ("model", "model_options", "parameters", "seed", "grid_shape", "grid_length",
                "frame_interval", "frames_per_segment")  # fmt: skip


def _range(value: Any) -> str | tuple[float, float]:
    """``"auto"`` or a fixed ``(vmin, vmax)`` of floats."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"storage range {value!r}: use 'auto' or [vmin, vmax]")
        return value
    lo, hi = value
    return float(lo), float(hi)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SegmentSpec:
    """One point of a sweep as its segment jobs see it (JSON round trip: :meth:`as_dict`)."""

    sweep: str
    point: str
    model: str
    parameters: Mapping[str, float]
    seed: int
    grid_shape: tuple[int, ...]
    grid_length: tuple[float, ...]
    frame_interval: float
    frames_per_segment: int
    bits: int
    #: component -> "auto" or a fixed (vmin, vmax); JSON key ``range`` like the config's
    #: ``storage.range``
    ranges: Mapping[str, str | tuple[float, float]]
    model_options: Mapping[str, Any] = field(default_factory=dict)
    strict: bool = False
    #: component -> largest allowed quantization error (``storage.tolerance``)
    tolerance: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "parameters", _frozen({k: float(v) for k, v in self.parameters.items()}))
        set_(self, "grid_shape", tuple(int(n) for n in self.grid_shape))
        set_(self, "grid_length", tuple(float(x) for x in self.grid_length))
        set_(self, "ranges", _frozen({c: _range(r) for c, r in self.ranges.items()}))
        set_(self, "tolerance", _frozen({c: float(v) for c, v in self.tolerance.items()}))
        set_(self, "model_options", _frozen(self.model_options))
        set_(self, "seed", int(self.seed))
        set_(self, "frames_per_segment", int(self.frames_per_segment))
        set_(self, "frame_interval", float(self.frame_interval))

    def __hash__(self) -> int:  # mappings are not hashable: hash the JSON form
        return hash(json.dumps(self.as_dict(), sort_keys=True))

    @property
    def segment_duration(self) -> float:
        """T = frame_interval * frames_per_segment."""
        return self.frame_interval * self.frames_per_segment

    def frame_times(self, k: int) -> list[float]:
        """Frame times of segment ``k`` and, last, the time of the state it saves."""
        seg = self.segment_duration
        return [k * seg + i * self.frame_interval for i in range(self.frames_per_segment)] + [
            (k + 1) * seg
        ]

    def where(self, k: int) -> str:
        """``sweep 'a', point 'b', segment k`` for messages."""
        return f"sweep {self.sweep!r}, point {self.point!r}, segment {k}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the rule's ``params``, the state's ``settings``)."""
        return {
            "sweep": self.sweep,
            "point": self.point,
            "model": self.model,
            "model_options": dict(self.model_options),
            "parameters": dict(self.parameters),
            "seed": self.seed,
            "grid_shape": list(self.grid_shape),
            "grid_length": list(self.grid_length),
            "frame_interval": self.frame_interval,
            "frames_per_segment": self.frames_per_segment,
            "bits": self.bits,
            "range": {c: r if r == "auto" else list(r) for c, r in self.ranges.items()},
            "strict": self.strict,
            "tolerance": dict(self.tolerance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentSpec:
        """The inverse of :meth:`as_dict` (older dicts without options/strict accepted)."""
        return cls(
            sweep=data["sweep"],
            point=data["point"],
            model=data["model"],
            parameters=data["parameters"],
            seed=data["seed"],
            grid_shape=data["grid_shape"],
            grid_length=data["grid_length"],
            frame_interval=data["frame_interval"],
            frames_per_segment=data["frames_per_segment"],
            bits=int(data["bits"]),
            ranges=data["range"],
            model_options=data.get("model_options") or {},
            strict=bool(data.get("strict", False)),
            tolerance=data.get("tolerance") or {},
        )

    @classmethod
    def coerce(cls, spec: SegmentSpec | Mapping[str, Any]) -> SegmentSpec:
        """A SegmentSpec from itself or from its dict (Snakemake passes params as dicts)."""
        return spec if isinstance(spec, SegmentSpec) else cls.from_dict(spec)

    def chain_mismatch(self, saved: Mapping[str, Any]) -> tuple[str, Any, Any] | None:
        """(field, saved value, this value) of the first chain field that differs, if any."""
        mine = self.as_dict()
        for key in CHAIN_FIELDS:
            theirs = saved.get(key, {} if key == "model_options" else None)
            if theirs != mine[key]:
                return key, theirs, mine[key]
        return None

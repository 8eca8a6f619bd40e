"""Storage ranges: ``auto`` (per frame, from the data) or fixed, tolerances, error bounds.

Pure numpy, no files. See ``docs/format.md`` ("Quantization").

* A **fixed** range ``[lo, hi]`` is the same for every frame; values outside are clipped
  (and counted). The error of a value inside is at most :func:`error_bound`.
* An **auto** range is the frame's own ``[min, max]`` of that component: nothing is ever
  clipped and every value is within :func:`error_bound` of the exact float64 value. A
  constant component (``min == max``) is stored as zeros with the range ``[c, c]`` and
  decodes exactly to ``c``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .codec import BIT_DEPTHS

__all__ = [
    "AUTO",
    "ROUNDING_SLACK",
    "bits_for",
    "error_bound",
    "frame_range",
    "half_step",
    "parse_ranges",
    "parse_tolerance",
    "tolerance_problem",
]

AUTO = "auto"
#: float64 rounding of quantize + dequantize adds at most this times max(|lo|, |hi|) to
#: the half step (a rigorous over-estimate of ~15 units in the last place; see the docs)
ROUNDING_SLACK = 2.0**-49

#: one component's storage range: None for auto, else the fixed (lo, hi)
Range = tuple[float, float] | None


def _per_component(name: str, value: Any, components: Sequence[str]) -> list[Any]:
    """A setting given as a scalar, a sequence or a mapping name -> value, per component."""
    n = len(components)
    if isinstance(value, Mapping):
        extra = [k for k in value if k not in components]
        if extra:
            raise ValueError(f"{name}: unknown component(s) {extra}; components are {components}")
        return [value.get(c) for c in components]
    if isinstance(value, str | bytes) or not (
        isinstance(value, Sequence) or hasattr(value, "__len__")
    ):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(f"{name}: {len(values)} values given for {n} component(s)")
    return values


def _is_auto(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == AUTO)


def _one_range(comp: str, spec: Any) -> Range:
    """A component's ``range`` entry: ``"auto"`` (or None) or a pair ``[lo, hi]``."""
    if _is_auto(spec):
        return None
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence) or len(spec) != 2:
        raise ValueError(
            f"range of component {comp!r} is {spec!r}; allowed: {AUTO!r} or [vmin, vmax]"
        )
    return _pair(comp, spec[0], spec[1])


def _pair(comp: str, lo: Any, hi: Any) -> Range:
    if _is_auto(lo) and _is_auto(hi):
        return None
    if _is_auto(lo) or _is_auto(hi):
        raise ValueError(
            f"component {comp!r}: vmin={lo!r}, vmax={hi!r}; give both numbers (a fixed range) "
            f"or both {AUTO!r}"
        )
    out = []
    for name, v in (("vmin", lo), ("vmax", hi)):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise ValueError(f"{name} of component {comp!r} is {v!r}, not a number") from None
    return out[0], out[1]


def parse_ranges(
    components: Sequence[str], vmin: Any = AUTO, vmax: Any = AUTO, ranges: Any = None
) -> list[Range]:
    """Each component's storage range from ``vmin``/``vmax`` or ``ranges``.

    ``ranges`` maps a component name to ``"auto"`` or ``[lo, hi]`` (missing names: auto), or
    is one such entry per component. ``vmin``/``vmax`` (scalar, sequence or mapping) give
    fixed ranges; ``"auto"`` entries (in both) make a component auto. The numbers are only
    converted here; :class:`~fieldmovie.movie.metadata.MovieMeta` checks ``lo < hi``.
    """
    components = list(components)
    if ranges is not None:
        if not (_is_auto(vmin) and _is_auto(vmax)):
            raise ValueError("give the storage range either as range= or as vmin=/vmax=, not both")
        if isinstance(ranges, Mapping):
            specs = _per_component("range", ranges, components)
        elif isinstance(ranges, str):
            specs = [ranges] * len(components)
        else:
            specs = list(ranges)
            if len(specs) != len(components):
                raise ValueError(f"range: {len(specs)} entries for {len(components)} component(s)")
        return [_one_range(c, s) for c, s in zip(components, specs, strict=True)]
    lows = _per_component("vmin", AUTO if vmin is None else vmin, components)
    highs = _per_component("vmax", AUTO if vmax is None else vmax, components)
    return [_pair(c, lo, hi) for c, lo, hi in zip(components, lows, highs, strict=True)]


def parse_tolerance(components: Sequence[str], tolerance: Any) -> list[float | None]:
    """Absolute tolerance per component (None: no limit); each must be positive and finite."""
    if tolerance is None:
        return [None] * len(components)
    out: list[float | None] = []
    values = _per_component("tolerance", tolerance, components)
    for comp, tol in zip(components, values, strict=True):
        if tol is None:
            out.append(None)
            continue
        try:
            value = float(tol)
        except (TypeError, ValueError):
            raise ValueError(f"tolerance of component {comp!r} is {tol!r}, not a number") from None
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"tolerance of component {comp!r} is {value}; need > 0 and finite")
        out.append(value)
    return out


def half_step(span: float | np.ndarray, bits: int) -> float | np.ndarray:
    """Half a quantization step: ``span / (2 (2**bits - 1))``."""
    return span / (2.0 * (2**bits - 1))


def error_bound(lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Bound of ``|decoded - exact|`` for values inside ``[lo, hi]`` (elementwise).

    Half a step plus the float64 rounding of quantize/dequantize,
    ``ROUNDING_SLACK * max(|lo|, |hi|)``; 0 for a constant range (stored exactly).
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    bound = half_step(hi - lo, bits) + ROUNDING_SLACK * np.maximum(np.abs(lo), np.abs(hi))
    return np.where(hi > lo, bound, 0.0)


def bits_for(span: float, tolerance: float) -> int | None:
    """The smallest supported bit depth whose half step meets ``tolerance``, or None."""
    for bits in BIT_DEPTHS:
        if half_step(span, bits) <= tolerance:
            return bits
    return None


def tolerance_problem(comp: str, span: float, bits: int, tolerance: float | None) -> str | None:
    """Why a range of width ``span`` at ``bits`` misses ``tolerance`` (None: it meets it)."""
    if tolerance is None:
        return None
    reached = half_step(span, bits)
    if reached <= tolerance:
        return None
    need = bits_for(span, tolerance)
    advice = (
        f"bits={need} would meet it"
        if need is not None
        else f"even 16 bits give {half_step(span, 16):.6g}; split the component or relax the "
        "tolerance"
    )
    return (
        f"component {comp!r}: half step {reached:.6g} (range width {span:.6g} at {bits} bits) "
        f"exceeds the tolerance {tolerance:.6g}; {advice}"
    )


def frame_range(data: np.ndarray, fixed: Sequence[Range]) -> tuple[np.ndarray, np.ndarray]:
    """Per-component (lo, hi) of one frame ``(n_components, *grid)``: auto from the data."""
    n = data.shape[0]
    lo, hi = np.empty(n), np.empty(n)
    flat = data.reshape(n, -1)
    for c, spec in enumerate(fixed):
        if spec is None:
            lo[c], hi[c] = flat[c].min(), flat[c].max()
        else:
            lo[c], hi[c] = spec
    return lo, hi

"""The periodic, uniform grid every model lives on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A periodic, uniform 1D/2D/3D grid.

    Parameters
    ----------
    shape:
        Number of grid points per axis, e.g. ``(128, 128)``.  Any sizes are allowed
        (non-square grids too); even sizes are fastest with the FFT.
    length:
        Physical side length of the periodic domain per axis (same length as
        ``shape``).  A single number is broadcast to all axes.
    """

    shape: tuple[int, ...]
    length: tuple[float, ...]

    def __post_init__(self) -> None:
        shape = (self.shape,) if isinstance(self.shape, int | np.integer) else self.shape
        try:
            shape_t = tuple(int(n) for n in shape)
        except TypeError as exc:
            raise ValueError(f"Grid shape must be a tuple of ints, got {self.shape!r}") from exc
        if not 1 <= len(shape_t) <= 3:
            raise ValueError(f"Grid must be 1D, 2D or 3D, got shape {shape_t}")
        if any(n < 1 for n in shape_t):
            raise ValueError(f"Grid shape entries must be >= 1, got {shape_t}")
        length = self.length
        if isinstance(length, int | float | np.integer | np.floating):
            length_t = (float(length),) * len(shape_t)
        else:
            length_t = tuple(float(x) for x in length)
        if len(length_t) != len(shape_t):
            raise ValueError(
                f"Grid length {length_t} must have one entry per axis of shape {shape_t}"
            )
        if not all(math.isfinite(x) and x > 0 for x in length_t):
            raise ValueError(f"Grid lengths must be finite and positive, got {length_t}")
        object.__setattr__(self, "shape", shape_t)
        object.__setattr__(self, "length", length_t)

    @property
    def dim(self) -> int:
        """Number of spatial dimensions (1, 2 or 3)."""
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing ``length / n`` per axis."""
        return tuple(L / n for L, n in zip(self.length, self.shape, strict=True))

    def coordinates(self) -> list[np.ndarray]:
        """1D coordinate arrays, one per axis.

        These are *node* coordinates of the periodic domain ``[0, L)``:
        ``x_i = i * dx`` for ``i = 0, ..., n - 1`` (the point ``x = L`` is the same
        as ``x = 0``).  Use ``np.meshgrid(*grid.coordinates(), indexing="ij")`` for
        full coordinate arrays matching the state layout.
        """
        return [np.arange(n) * (L / n) for n, L in zip(self.shape, self.length, strict=True)]

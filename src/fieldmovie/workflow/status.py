"""The summary printed at the end of a run: per sweep, points and segments done or missing."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .sweeps import Sweep

__all__ = ["run_summary"]


def _complete_segments(sweep: Sweep, point: str) -> int:
    layout = sweep.layout
    return sum(
        all(os.path.exists(p) for p in (layout.segment(point, k), layout.state(point, k)))
        for k in range(sweep.n_segments)
    )


def run_summary(sweeps: Mapping[str, Sweep]) -> str:
    """One line per sweep: points validated, segments on disk out of those needed."""
    lines = []
    for sweep in sweeps.values():
        points = sweep.points()
        done = sum(_complete_segments(sweep, p.name) for p in points)
        total = len(points) * sweep.n_segments
        valid = sum(os.path.exists(sweep.validation_path(p)) for p in points)
        lines.append(
            f"fieldmovie: sweep {sweep.name!r}: {len(points)} points, {valid} validated movies; "
            f"segments {done}/{total} done, {total - done} missing"
        )
    return "\n".join(lines)

#!/usr/bin/env python
"""Reference movies of the writer: the same frames must always give the same movie.

``python tests/data/writer/make_reference.py OUTDIR`` writes every case of :data:`CASES`
with each backend (``<case>-<backend>.<ext>`` and its ``.times``) using whatever
``fieldmovie`` is importable. The files next to this script were written by the writer
before its pipeline (commit 242e8fe, encode on the caller's thread, see README.md);
``tests/test_writer_pipeline.py`` writes the cases again and compares packets, decoded
frames, sidecar and metadata (all but the provenance).

The data are dyadic rationals (integers over a power of two), so that they and their
quantization are exactly the same on every machine and numpy version.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: name -> (file suffix, writer keyword arguments, frame count, seed)
CASES: dict[str, tuple[str, dict[str, Any], int, int]] = {
    # 2 components on a 2D grid, auto ranges (one frame has a constant component)
    "auto2d": (".mkv", {"components": ["u", "v"], "grid_shape": (24, 16), "bits": 16}, 6, 1),
    # fixed range with values outside (clipped, counted), 12 bit
    "fixed12": (
        ".mkv",
        {"components": ["c"], "grid_shape": (20, 12), "vmin": 0.0, "vmax": 1.0, "bits": 12},
        5,
        2,
    ),
    # a 1D grid with one component: a 1 px high picture, stored doubled; 8 bit in AVI
    "line8": (".avi", {"components": 1, "grid_shape": (30,), "bits": 8}, 5, 3),
    # a 3D grid, one auto and one fixed component, 10 bit, with info
    "vol10": (
        ".mkv",
        {
            "components": ["a", "b"],
            "grid_shape": (6, 5, 4),
            "range": {"b": [-1.0, 1.0]},
            "bits": 10,
            "info": {"model": "reference", "k": 3},
        },
        4,
        4,
    ),
}


def case_frames(name: str) -> Iterator[tuple[float, np.ndarray]]:
    """(time, frame) of the case ``name``: exact dyadic values, some outside ``[0, 1]``."""
    _, kwargs, count, seed = CASES[name]
    comps = kwargs["components"]
    n = comps if isinstance(comps, int) else len(comps)
    rng = np.random.default_rng(seed)
    for k in range(count):
        ints = rng.integers(-64, 1024 + 64, size=(n, *kwargs["grid_shape"]))
        frame = ints.astype(np.float64) / 1024.0
        if name == "auto2d" and k == 2:
            frame[1] = 0.375  # a constant component: stored as zeros, range [c, c]
        yield 0.25 * k + 0.125, frame


def write_case(name: str, folder: Path, backend: str) -> Path:
    """Write the case ``name`` with ``backend`` into ``folder``; return the movie's path."""
    from fieldmovie import MovieWriter

    suffix, kwargs, _, _ = CASES[name]
    path = folder / f"{name}-{backend}{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ClippingWarning of the fixed ranges
        with MovieWriter(path, backend=backend, **kwargs) as writer:
            for t, frame in case_frames(name):
                writer.append(frame, t)
    return path


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else Path(__file__).parent)
    folder.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        for backend in ("pyav", "ffmpeg"):
            print(write_case(name, folder, backend))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

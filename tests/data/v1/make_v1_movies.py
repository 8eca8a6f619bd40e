"""Make the format-1 reference movies in this folder with fieldmovie's format-1 writer.

Run with a fieldmovie checkout from before format 2 (commit 6ae0619 or older) on the path:
``PYTHONPATH=<old checkout>/src python tests/data/v1/make_v1_movies.py``. The data is also
stored as ``*.npy`` (the exact float64 frames written) to compare against.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fieldmovie import MovieWriter
from fieldmovie.movie.metadata import FORMAT_VERSION

HERE = Path(__file__).parent


def main() -> None:
    assert FORMAT_VERSION == 1, "run this with the format-1 fieldmovie"
    rng = np.random.default_rng(11)
    cases = {
        "v1_2d.mkv": dict(
            components=["u", "v"], grid_shape=(6, 5), vmin=[0, -1], vmax=[1, 1], bits=12
        ),
        "v1_1d.mkv": dict(components=["c"], grid_shape=(9,), vmin=-2, vmax=2, bits=8),
    }
    for name, opts in cases.items():
        shape = (3, len(opts["components"]), *opts["grid_shape"])
        frames = rng.uniform(-0.9, 0.9, size=shape)
        with MovieWriter(HERE / name, info={"made_by": "make_v1_movies.py"}, **opts) as writer:
            for k, frame in enumerate(frames):
                writer.append(frame, 0.5 * k)
        np.save(HERE / f"{name}.npy", frames)


if __name__ == "__main__":
    main()

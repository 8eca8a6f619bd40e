"""A whole sweep as one lazy dataset: open, final frames, zarr export (time, peak memory).

    python bench/bench_dataset.py [--points 100] [--frames 40] [--size 96]
        [--export-points 20,100] [--keep DIR]

Writes a synthetic sweep once (POINTS points on a 10 x POINTS/10 (F, k) grid, one seed, each
a validated 2-component movie of FRAMES frames of SIZE x SIZE), then measures in fresh
subprocesses (peak resident memory = ru_maxrss of the Python process; the FFmpeg decoders
it starts hold one frame each and are not included; imports are not timed):

* open: ``open_sweep(results, name)`` (metadata only) vs. the hand loop it replaces (one
  ``open_validated`` per point);
* final frames: ``final_frames(ds.v).values`` (one decoded frame per point) vs. the hand
  loop ``open_validated(...)[-1]``;
* export: ``export_sweep(..., out.zarr)`` of the first N points for each N in
  ``--export-points``: the decoded float64 size grows with N, the peak memory must not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from _common import machine_load, smooth_fields, table

from fieldmovie import MovieWriter
from fieldmovie.movie.validate import check_movie

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    mode, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not mode.startswith("hand"):  # import time is not what is measured
        import dask.array, xarray
    t0 = time.perf_counter()
    if mode.startswith("hand"):
        from pathlib import Path
        from fieldmovie.movie.validate import open_validated
        movies = sorted(Path(results, "bench").glob("*/movie.mkv"))
        readers = [open_validated(m, m.with_name("movie.validation.json")) for m in movies]
        if mode == "hand-final":
            finals = [r[-1] for r in readers]
    else:
        from fieldmovie.workflow.dataset import export_sweep, final_frames, open_sweep
        if mode == "open":
            ds = open_sweep(results, "bench")
        elif mode == "final":
            ds = open_sweep(results, "bench")
            finals = final_frames(ds.v).values
        elif mode == "export":
            export_sweep(results, sys.argv[4], "bench", progress=False)
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": own}))
    """
)


def make_sweep(results: Path, points: int, frames: int, size: int) -> float:
    """Write and validate the synthetic sweep; return the float64 size of one point (MB)."""
    data = smooth_fields(frames, size, 2, seed=1)
    n_k = 10
    for p in range(points):
        f_value, k_value = 0.02 + 0.002 * (p // n_k), 0.05 + 0.001 * (p % n_k)
        params = {"F": f_value, "k": k_value}
        name = f"F~{f_value!r}_k~{k_value!r}_seed~0"
        movie = results / "bench" / name / "movie.mkv"
        movie.parent.mkdir(parents=True)
        info = {"sweep": "bench", "point": name, "model": "gray_scott", "parameters": params,
                "seed": 0, "frame_interval": 1.0, "frames_per_segment": frames}  # fmt: skip
        storage = {"vmin": 0.0, "vmax": 1.0, "bits": 16, "grid_length": (1.0, 1.0)}
        with MovieWriter(
            movie, components=["u", "v"], grid_shape=(size, size), info=info, **storage
        ) as writer:
            for t in range(frames):
                writer.append(data[t] * (1 - 0.001 * p), float(t))
        check_movie(movie, report_path=movie.with_name("movie.validation.json"))
    return data.nbytes / 2**20


def run_child(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def subset(results: Path, n: int, into: Path) -> Path:
    """A results folder (symlinks) with the points of the first ``n // 10`` values of F:
    a full (F, k) grid of about ``n`` points."""
    points = sorted((results / "bench").iterdir())
    f_values = sorted({p.name.split("_")[0] for p in points})[: max(1, n // 10)]
    (into / "bench").mkdir(parents=True)
    for point in points:
        if point.name.split("_")[0] in f_values:
            (into / "bench" / point.name).symlink_to(point)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--export-points", default="20,100")
    parser.add_argument("--keep", help="folder to keep (and reuse) the sweep in")
    args = parser.parse_args()
    print(machine_load())
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(args.keep or tmp) / "results"
        t0 = time.perf_counter()
        point_mb = 2 * args.frames * args.size**2 * 8 / 2**20
        if not (results / "bench").exists():
            point_mb = make_sweep(results, args.points, args.frames, args.size)
        print(f"sweep: {args.points} points x {args.frames} frames x 2 x {args.size}^2 "
              f"(float64 {point_mb * args.points:.0f} MB), written and validated in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        n = str(args.points)
        rows = []
        cases = [("open (metadata)", "open", "hand-open"),
                 ("final frame of every point", "final", "hand-final")]  # fmt: skip
        for label, mode, anchor in cases:
            ours, hand = run_child(mode, str(results), n), run_child(anchor, str(results), n)
            rows.append([label, f"{ours['seconds']:.2f} s", f"{ours['peak_mb']:.0f} MB",
                         f"{hand['seconds']:.2f} s", f"{hand['peak_mb']:.0f} MB",
                         f"{ours['seconds'] / hand['seconds']:.2f}"])  # fmt: skip
        print(table(rows, ["open_sweep", "time", "peak RSS", "hand loop", "peak RSS", "ratio"]))
        rows = []
        for count in [int(c) for c in args.export_points.split(",")]:
            count = min(count, args.points)
            folder = subset(results, count, Path(tmp) / f"subset{count}")
            out = Path(tmp) / f"out{count}.zarr"
            got = run_child("export", str(folder), str(count), str(out))
            stored = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
            rows.append([str(count), f"{point_mb * count:.0f} MB", f"{got['seconds']:.1f} s",
                         f"{got['peak_mb']:.0f} MB", f"{stored:.0f} MB"])  # fmt: skip
        headers = ["export points", "float64", "time", "peak RSS", "zarr on disk"]
        print(table(rows, headers))
        print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()

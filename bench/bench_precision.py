#!/usr/bin/env python
"""Precision benchmark: ``auto`` storage ranges (format 2) vs today's fixed config ranges.

Usage (from the main venv)::

    python bench/bench_precision.py [--repeat 3] [--json out.json]

Data: the default sweep (Gray-Scott on 128x128, the 4 default (F, k) points, seed 0),
simulated in-process with ``fieldmovie.simulation.models`` for 3 segments of 20 frames at
``frame_interval`` 100 (60 frames per point), kept as exact float64.

For each point and each storage choice (``auto``; fixed u [0, 1], v [0, 0.6], 16 bits):
the 3 segments are written with ``MovieWriter`` (write time: constructor + appends +
close; best wall time and least CPU time, this process + FFmpeg, of ``--repeat`` runs,
auto and fixed alternating; on a loaded machine the CPU time is the steadier figure),
joined with ``concat_movies`` and decoded. Reported: the joined file size, the max and
mean absolute error against the exact data per component, the clipped counts, the
largest error relative to the reader's stated per-frame bound (must be <= 1), and the
cost of the per-frame digest (BLAKE2b of the stored picture) against decoding a frame.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import fieldmovie  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(HERE.parent / "src"))

from _common import machine_info, machine_load, table, timed  # noqa: E402

from fieldmovie import ClippingWarning, MovieReader, MovieWriter, concat_movies  # noqa: E402
from fieldmovie.simulation.models import Grid, resolve_model  # noqa: E402

POINTS = [(F, k) for F in (0.030, 0.040) for k in (0.060, 0.062)]
FIXED = {"u": [0.0, 1.0], "v": [0.0, 0.6]}
SEGMENTS, FRAMES, INTERVAL = 3, 20, 100.0


def simulate(F: float, k: float) -> tuple[np.ndarray, list[float]]:
    """60 exact float64 frames (3 segments x 20) of one default-sweep point, and times."""
    model = resolve_model("gray_scott")(Grid((128, 128), (2.5, 2.5)), {"F": F, "k": k})
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    times = [i * INTERVAL for i in range(SEGMENTS * FRAMES)]
    frames = []
    for i, t in enumerate(times):
        frames.append(state.copy())
        state = model.advance(state, t, t + INTERVAL, rng) if i < len(times) - 1 else state
    return np.stack(frames), times


def write_segments(folder: Path, frames: np.ndarray, times: list[float], mode: str) -> list[Path]:
    """Write the 3 segments of one point; return their paths."""
    paths = []
    ranges = {"range": "auto"} if mode == "auto" else {"range": FIXED}
    for s in range(SEGMENTS):
        path = folder / f"{mode}_seg{s}.mkv"
        with MovieWriter(path, components=["u", "v"], grid_shape=(128, 128), bits=16,
                         **ranges) as writer:  # fmt: skip
            for i in range(s * FRAMES, (s + 1) * FRAMES):
                writer.append(frames[i], times[i])
        paths.append(path)
    return paths


def measure_point(folder: Path, frames: np.ndarray, times: list[float], repeat: int) -> dict:
    """Write times (alternating auto/fixed), sizes, errors and clipping for one point."""
    best = {"auto": float("inf"), "fixed": float("inf")}
    cpu = {"auto": float("inf"), "fixed": float("inf")}
    paths: dict[str, list[Path]] = {}
    for _ in range(repeat):
        for mode in ("auto", "fixed"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClippingWarning)
                wall, used, paths[mode] = timed(
                    lambda mode=mode: write_segments(folder, frames, times, mode), 1
                )
            best[mode], cpu[mode] = min(best[mode], wall), min(cpu[mode], sum(used))
    out: dict[str, Any] = {}
    for mode in ("auto", "fixed"):
        joined = concat_movies(paths[mode], folder / f"{mode}_joined.mkv")
        reader = MovieReader(joined)
        decoded = reader.to_array()
        err = np.abs(decoded - frames)
        bound_ratio = (err.reshape(*err.shape[:2], -1).max(axis=2) / reader.error_bound).max()
        out[mode] = {
            "write_s": best[mode],
            "write_cpu_s": cpu[mode],
            "size": joined.stat().st_size,
            "max_err": err.max(axis=(0, 2, 3)).tolist(),
            "mean_err": err.mean(axis=(0, 2, 3)).tolist(),
            "clipped": reader.meta.clipped,
            "err_over_bound": float(bound_ratio),
        }
    return out


def digest_cost(folder: Path) -> dict[str, float]:
    """Seconds per frame: BLAKE2b of a stored picture vs decoding (streaming) one frame."""
    reader = MovieReader(folder / "auto_joined.mkv")
    t0 = time.perf_counter()
    reader.to_array()
    decode = (time.perf_counter() - t0) / len(reader)
    picture = np.zeros(reader.stream.width * reader.stream.height * 2, dtype=np.uint8)
    t0 = time.perf_counter()
    for _ in range(200):
        hashlib.blake2b(picture, digest_size=8).hexdigest()
    digest = (time.perf_counter() - t0) / 200
    return {"decode_s_per_frame": decode, "digest_s_per_frame": digest}


def _row(label: str, r: dict) -> list[Any]:
    errors = [f"{e:.3g}" for e in r["max_err"] + r["mean_err"]]
    clipped = " ".join(map(str, r["clipped"]))
    times = [f"{r['write_s']:.3f}", f"{r['write_cpu_s']:.3f}"]
    return [label, *times, r["size"], *errors, clipped, f"{r['err_over_bound']:.3f}"]


def report(results: dict[str, dict], cost: dict[str, float]) -> None:
    """Print the figures and the ratios auto / fixed."""
    rows = [_row(f"{name} {m}", res[m]) for name, res in results.items() for m in ("auto", "fixed")]
    headers = ["point / ranges", "write s", "cpu s", "bytes", "max err u", "max err v",
               "mean err u", "mean err v", "clipped u v", "err/bound"]  # fmt: skip
    print(table(rows, headers))
    modes = ("auto", "fixed")
    write = {m: sum(res[m]["write_s"] for res in results.values()) for m in modes}
    cpu = {m: sum(res[m]["write_cpu_s"] for res in results.values()) for m in modes}
    size = {m: sum(res[m]["size"] for res in results.values()) for m in modes}
    worst = {m: np.max([res[m]["max_err"] for res in results.values()], axis=0) for m in modes}
    mean = {m: np.mean([res[m]["mean_err"] for res in results.values()], axis=0) for m in modes}
    print(f"\ntotal write time: auto {write['auto']:.3f} s, fixed {write['fixed']:.3f} s, "
          f"ratio auto/fixed {write['auto'] / write['fixed']:.3f} (limit 1.10)")  # fmt: skip
    print(f"total write CPU time (this process + FFmpeg): auto {cpu['auto']:.3f} s, fixed "
          f"{cpu['fixed']:.3f} s, ratio auto/fixed {cpu['auto'] / cpu['fixed']:.3f}")  # fmt: skip
    print(f"total size: auto {size['auto']} B, fixed {size['fixed']} B, "
          f"ratio {size['auto'] / size['fixed']:.3f}")  # fmt: skip
    for what, figures in (("worst max error", worst), ("mean error", mean)):
        ratio = figures["auto"] / figures["fixed"]
        print(f"{what} (u, v): auto {figures['auto'][0]:.3g}, {figures['auto'][1]:.3g}; fixed "
              f"{figures['fixed'][0]:.3g}, {figures['fixed'][1]:.3g}; ratio auto/fixed "
              f"{ratio[0]:.3g}, {ratio[1]:.3g}")  # fmt: skip
    print(
        f"digest {cost['digest_s_per_frame'] * 1e6:.1f} us/frame vs decode "
        f"{cost['decode_s_per_frame'] * 1e6:.0f} us/frame "
        f"({100 * cost['digest_s_per_frame'] / cost['decode_s_per_frame']:.1f} %)"
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(machine_load())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for F, k in POINTS:
            t0 = time.perf_counter()
            frames, times = simulate(F, k)
            name = f"F={F:.3f} k={k:.3f}"
            print(f"{name}: simulated in {time.perf_counter() - t0:.1f} s; "
                  f"u in [{frames[:, 0].min():.6g}, {frames[:, 0].max():.6g}], "
                  f"v in [{frames[:, 1].min():.6g}, {frames[:, 1].max():.6g}]")  # fmt: skip
            folder = Path(tmp) / name.replace(" ", "_")
            folder.mkdir()
            results[name] = measure_point(folder, frames, times, args.repeat)
            cost = digest_cost(folder)
    report(results, cost)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_info(), "results": results,
                                         "digest_cost": cost}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()

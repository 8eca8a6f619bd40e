"""Shared helpers for the benchmarks in ``bench/`` (no fieldmovie imports here).

* :func:`smooth_fields`: deterministic smooth test data in ``[0, 1]``.
* :func:`best_of`: best wall time of ``n`` repetitions; :func:`timed` adds CPU time.
* :func:`quant_error`: error in quantisation steps.
* :func:`table`: plain-text tables; :func:`machine_load`: ``uptime`` for the report.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def smooth_fields(
    frames: int, size: int, n_fields: int = 2, *, seed: int = 0, noise: float = 1e-3
) -> np.ndarray:
    """Smooth time series of ``n_fields`` fields on a periodic ``size x size`` grid.

    Each field is a constant plus a few low Fourier modes (wave numbers 1..3) travelling
    with their own speeds, plus Gaussian noise of standard deviation ``noise``, clipped to
    ``[0, 1]``. Shape ``(frames, n_fields, size, size)``, float64; same ``seed`` -> same data.
    """
    rng = np.random.default_rng(seed)
    x = np.arange(size) * (2 * np.pi / size)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    out = np.empty((frames, n_fields, size, size))
    for f in range(n_fields):
        modes = []
        for _ in range(4):
            kx, ky = rng.integers(-3, 4, size=2)
            if kx == 0 and ky == 0:
                kx = 1
            modes.append(
                (
                    kx * xx + ky * yy,  # phase in space
                    rng.uniform(0.05, 0.1),  # amplitude
                    rng.uniform(-0.2, 0.2),  # angular velocity per frame
                    rng.uniform(0, 2 * np.pi),  # phase
                )
            )
        for t in range(frames):
            frame = out[t, f]
            frame.fill(0.5)
            for space, amp, omega, phi in modes:
                frame += amp * np.cos(space - omega * t + phi)
            if noise:
                frame += rng.normal(0.0, noise, size=frame.shape)
            np.clip(frame, 0.0, 1.0, out=frame)
    return out


def quant_error(
    decoded: np.ndarray, original: np.ndarray, vmin: float, vmax: float, bits: int = 16
) -> float:
    """``max |decoded - original| * (2**bits - 1) / (vmax - vmin)``: error in quantisation steps."""
    return float(np.max(np.abs(decoded - original)) * (2**bits - 1) / (vmax - vmin))


def best_of(fn: Callable[[], Any], n: int) -> tuple[float, Any]:
    """Run ``fn`` ``n`` times; return the shortest wall time (s) and the last result."""
    best, result = float("inf"), None
    for _ in range(max(1, n)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def cpu_seconds() -> tuple[float, float]:
    """User + system CPU time so far of this process and of its reaped children."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def timed(fn: Callable[[], Any], n: int) -> tuple[float, list[float], Any]:
    """Like :func:`best_of`, plus the CPU time ``[this process, children]`` of the run with
    the least CPU time (children count once they are reaped).

    On a loaded machine wall times wander; the CPU time says how much work a run is.
    """
    best, cpu, result = float("inf"), [float("inf"), float("inf")], None
    for _ in range(max(1, n)):
        (s0, c0), t0 = cpu_seconds(), time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        s1, c1 = cpu_seconds()
        if (s1 - s0) + (c1 - c0) < sum(cpu):
            cpu = [s1 - s0, c1 - c0]
    return best, cpu, result


def machine_load() -> str:
    """``uptime`` output (load average), or os.getloadavg() when uptime is missing."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info() -> dict[str, Any]:
    """CPU count, platform and Python version for the saved figures."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Left-aligned first column, right-aligned others; ``None`` shows as ``-``."""
    cells = [[str(h) for h in headers]] + [
        ["-" if c is None else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        parts = [row[0].ljust(widths[0]), *rest]
        return "  ".join(parts).rstrip()

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)

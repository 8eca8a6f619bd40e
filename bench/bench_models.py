#!/usr/bin/env python
"""Model benchmark: time per step, accuracy against py-pde, py-pde model overhead.

Usage (from the main venv, with ``PYTHONPATH=src``)::

    python bench/bench_models.py [--quick] [--sizes 128,256] [--no-pypde] [--anchor REV]
                                 [--parts 1,2,3] [--reps N] [--t-end T]

1. **Per step** (CPU time of this process, best of N; the machine is shared): Gray-Scott
   (``dt = 1``) and Cahn-Hilliard (``dt = 0.25``) at each size, for

   * ``anchor``: the models module of git revision ``--anchor`` (default ``6ae0619``, the
     last before the models package), loaded from ``git show``: today's code;
   * ``numpy``: this code with ``model_options: {fft: numpy, kernels: numpy}``;
   * ``fft``: this code with the default options (pyFFTW when installed, numpy kernels);
   * ``fast``: this code with pyFFTW and numba kernels when installed (``kernels: auto``).

   The ratio ``anchor / fast`` is the speed-up; ``diff`` the largest relative difference
   of the variants' results from the anchor's (round-off: they compute the same steps;
   Cahn-Hilliard with the anchor's ``S = 2``). The variants take turns within each
   repetition, so load changes on the shared machine hit them alike.
2. **Equal accuracy against py-pde** (``--no-pypde`` skips): Gray-Scott (Pearson's
   defaults, F = 0.04, k = 0.06) on L = 2.5 from the same initial state (built on the
   reference grid and spectrally truncated) to t = 200.  Reference: our spectral model on
   512^2 (384^2 with ``--quick``) with ``rtol = 1e-4``.  Errors are the relative L2 norms
   (largest component) against the reference truncated to each grid.  py-pde: ``pde.PDE``
   of the same equations, its finite-difference right-hand side (numba backend, compiled
   once, outside the clock) stepped with explicit Euler, ``dt = 0.25``: what
   ``solve(solver="explicit", adaptive=False)`` computes, minus its per-call compilation.
   Both run on one thread (``NUMBA_NUM_THREADS=1`` unless set): py-pde's multithreaded
   numba code slowed to ~50 ms per step on the shared 2-core machine.
3. **py-pde model overhead per segment job**: a fresh interpreter per backend that
   resolves the Brusselator (``pde:models_for_tests:pde_brusselator``, an expression PDE,
   and ``pde:pdebase_for_tests:brusselator_class``, the same as a ``PDEBase`` subclass),
   builds it on 64^2, advances one step (import + build + first step: what a segment job
   pays before it simulates), then 100 RK4 steps (ms per step), and what ``backend: auto``
   picks for segments of 10, 100 and 1000 frames of 100 steps.  ``numba +disk cache``
   patches py-pde's ``jit`` to numba's ``cache=True`` (run twice into one
   ``NUMBA_CACHE_DIR``): the second process shows what the on-disk cache saves.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # py-pde single-threaded, like our models
from fieldmovie.simulation.models import Grid, resolve_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def best_cpu(fn, reps: int) -> float:
    best = math.inf
    for _ in range(reps):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def anchor_module(rev: str) -> types.ModuleType | None:
    try:
        src = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:src/fieldmovie/simulation/models.py"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("anchor_models")
    sys.modules["anchor_models"] = module  # dataclasses look their module up
    exec(compile(src, f"{rev}:models.py", "exec"), module.__dict__)
    return module


def step_times(name: str, n: int, dt: float, length: float, reps: int,
               anchor: types.ModuleType | None) -> tuple[dict[str, float], float, str]:  # fmt: skip
    """ms per step of the anchor, the numpy path and the fast paths on one grid, and the
    largest relative difference of their results from the anchor's.

    The variants take turns (round robin, ``reps`` rounds, best of each), so a change of
    the load on the shared machine hits all of them alike. Cahn-Hilliard runs with the
    anchor's stabilisation ``S = 2`` (the same cost per step as the default ``S = 0``), so
    that all variants compute the same thing.
    """
    grid, T = Grid((n, n), length), 10 * dt
    extra = {"stabilisation": 2.0} if name == "cahn_hilliard" else {}
    state = resolve_model(name)(grid).initial_state(np.random.default_rng(0))
    state = resolve_model(name)(grid).advance(state, 0.0, 20 * dt, None)
    models = {}
    if anchor is not None:
        models["anchor"] = anchor.resolve_model(name)(anchor.Grid((n, n), (length, length)))
    ours = {"numpy": {"fft": "numpy", "kernels": "numpy"}, "fft": {"kernels": "numpy"},
            "fast": {"kernels": "auto"}}  # fmt: skip
    for key, opts in ours.items():
        models[key] = resolve_model(name)(grid, options={"dt": dt, **extra, **opts})
    fast = models["fast"]
    out = {key: m.advance(state, 0, T, None) for key, m in models.items()}  # warm-up too
    diff = math.nan
    if "anchor" in out:
        ref = out["anchor"]
        diff = max(float(np.linalg.norm(out[k] - ref) / np.linalg.norm(ref)) for k in ours)
    best = dict.fromkeys(models, math.inf)
    for _ in range(reps):
        for key, model in models.items():
            t = time.process_time()
            model.advance(state, 0, T, None)
            best[key] = min(best[key], time.process_time() - t)
    ms = {key: 1e3 * b / 10 for key, b in best.items()}
    return ms, diff, f"{fast.fft_backend}+{fast.kernels_name}"


def per_step(sizes: list[int], reps: int, anchor: types.ModuleType | None) -> None:
    print(f"\n1. time per step (ms, CPU, best of {reps}); diff: largest relative difference of "
          "the results from the anchor's")  # fmt: skip
    print(f"{'model':<15}{'size':>6}{'anchor':>9}{'numpy':>9}{'fft':>9}{'fast':>9}"
          f"{'speed-up':>10}{'diff':>9}  fast=")  # fmt: skip
    for name, dt, length in (("gray_scott", 1.0, 2.5), ("cahn_hilliard", 0.25, None)):
        for n in sizes:
            L = length * n / 128 if length else float(n)
            ms, diff, fast = step_times(name, n, dt, L, reps, anchor)
            ratio = ms["anchor"] / ms["fast"] if "anchor" in ms else math.nan
            times = "".join(
                f"{ms.get(k, math.nan):>9.3f}" for k in ("anchor", "numpy", "fft", "fast")
            )
            print(f"{name:<15}{n:>6}{times}{ratio:>9.2f}x{diff:>9.1e}  {fast}")


def truncate(field: np.ndarray, n: int) -> np.ndarray:
    """Spectral truncation of a periodic square field to ``n x n``."""
    big = field.shape[-1]
    m = np.fft.fftfreq(big, 1.0 / big)
    keep = np.flatnonzero((m >= -n / 2) & (m < n / 2))
    keep = keep[np.argsort(np.where(m[keep] < 0, m[keep] + n, m[keep]))]
    f = np.fft.fft2(field)[np.ix_(keep, keep)]
    return np.real(np.fft.ifft2(f)) * (n / big) ** 2


def rel_error(a: np.ndarray, ref: np.ndarray) -> float:
    return max(float(np.linalg.norm(a[c] - ref[c]) / np.linalg.norm(ref[c])) for c in range(2))


def pypde_solve(state: np.ndarray, n: int, t_end: float, dt: float) -> tuple[np.ndarray, float]:
    """py-pde's finite-difference right-hand side (numba, compiled once) with Euler steps.

    This is what ``solve(solver="explicit", adaptive=False)`` does, without its
    recompilation on every call (which alone takes longer than the simulation here).
    """
    import pde

    grid = pde.CartesianGrid([(0, 2.5), (0, 2.5)], [n, n], periodic=True)
    eq = pde.PDE({"u": "2e-5 * laplace(u) - u * v**2 + 0.04 * (1 - u)",
                  "v": "1e-5 * laplace(v) + u * v**2 - 0.1 * v"})  # fmt: skip
    field = pde.FieldCollection([pde.ScalarField(grid, state[i], label=c)
                                 for i, c in enumerate("uv")])  # fmt: skip
    y = np.array(field.data)
    if n not in _PYPDE_RHS:
        _PYPDE_RHS[n] = eq.make_pde_rhs(field, backend="numba")
        _PYPDE_RHS[n](y.copy(), 0.0)  # compile outside the clock, for the loop's array type
    rhs = _PYPDE_RHS[n]
    steps = math.ceil(t_end / dt - 1e-9)
    t = time.perf_counter()
    for i in range(steps):
        y = y + dt * rhs(y, i * dt)
    return y, time.perf_counter() - t


_PYPDE_RHS: dict[int, object] = {}


def equal_accuracy(t_end: float, quick: bool) -> None:
    print(f"\n2. Gray-Scott to t = {t_end:g} on L = 2.5: error vs wall time")
    ref_n = 384 if quick else 512
    gs = resolve_model("gray_scott")
    ref_model = gs(Grid((ref_n, ref_n), 2.5), options={"rtol": 1e-4})
    start = ref_model.initial_state(np.random.default_rng(0))
    ref = ref_model.advance(start, 0.0, t_end, None)
    print(f"{'solver':<34}{'grid':>6}{'error':>10}{'seconds':>9}")
    for n in (128, 160, 192, 256):
        s0 = np.stack([truncate(c, n) for c in start])
        r = np.stack([truncate(c, n) for c in ref])
        for opts in ({}, {"rtol": 3e-4}):
            model = gs(Grid((n, n), 2.5), options=opts)
            model.advance(s0, 0.0, 1.0, None)  # warm-up
            t = time.perf_counter()
            out = model.advance(s0, 0.0, t_end, None)
            label = f"fieldmovie ETDRK2 rtol={model.options['rtol']:g}"
            print(f"{label:<34}{n:>6}{rel_error(out, r):>10.2e}{time.perf_counter() - t:>9.2f}")
    for n in (192, 256) if quick else (192, 256, 384, 512):
        s0 = np.stack([truncate(c, n) for c in start])
        r = np.stack([truncate(c, n) for c in ref])
        try:
            out, secs = pypde_solve(s0, n, t_end, 0.25)
        except ImportError:
            print("py-pde is not installed: pip install py-pde")
            return
        print(f"{'py-pde FD (numba) Euler dt=0.25':<34}{n:>6}{rel_error(out, r):>10.2e}"
              f"{secs:>9.2f}")  # fmt: skip


OVERHEAD = """
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {data!r})
import numpy as np
if {cached!r}:  # py-pde's jit with numba's on-disk cache (is not in fieldmovie: see docs)
    import pde.backends.numba.utils as nbu
    jit = nbu.nb.jit
    nbu.nb.jit = lambda *a, **k: jit(*a, **{{"cache": True, **k}})
from fieldmovie.simulation.models import Grid, resolve_model
cls = resolve_model({spec!r})
t1 = time.perf_counter()
model = cls(Grid((64, 64), 20.0), options={{"backend": {backend!r}}})
state = model.initial_state(np.random.default_rng(0))
model.advance(state, 0.0, 0.01, None)
t2 = time.perf_counter()
model.advance(state, 0.0, 1.0, None)
t3 = time.perf_counter()
auto = cls(Grid((64, 64), 20.0))
choice = []
for frames in (10, 100, 1000):
    auto.plan_segment(1.0, frames)
    choice.append(auto.rhs_backend)
print(f"{{t1 - t0:.2f}} {{t2 - t1:.2f}} {{(t3 - t2) / 100 * 1e3:.3f}} {{','.join(choice)}}")
"""

PDE_CASES = (  # (label, spec, backend, numba disk cache)
    ("expression", "pde:models_for_tests:pde_brusselator", "spectral", False),
    ("expression", "pde:models_for_tests:pde_brusselator", "numpy", False),
    ("expression", "pde:models_for_tests:pde_brusselator", "numba", False),
    ("PDEBase", "pde:pdebase_for_tests:brusselator_class", "numpy", False),
    ("PDEBase", "pde:pdebase_for_tests:brusselator_class", "numba", False),
    ("PDEBase", "pde:pdebase_for_tests:brusselator_class", "numba", True),
    ("PDEBase", "pde:pdebase_for_tests:brusselator_class", "numba", True),
)


def pypde_overhead() -> None:
    """Part 3: fresh interpreters, one per backend (what a segment job pays)."""
    import tempfile

    print("\n3. py-pde Brusselator on 64^2, fresh process per row (a segment job's overhead)")
    print(f"{'PDE':<11}{'backend':<15}{'import+resolve':>15}{'build+1st step':>15}"
          f"{'ms/RK4 step':>12}{'job 100 steps':>14}{'job 10^4':>9}  auto for 10,100,1000 "
          "frames of 100 steps")  # fmt: skip
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir  # the cached rows: first fills, second reuses
        for label, spec, backend, cached in PDE_CASES:
            code = OVERHEAD.format(data=str(ROOT / "tests" / "data"), spec=spec,
                                   backend=backend, cached=cached)  # fmt: skip
            res = subprocess.run([sys.executable, "-W", "ignore", "-c", code],
                                 capture_output=True, text=True, env=env)  # fmt: skip
            if res.returncode != 0:
                print(f"{label:<11}{backend:<15} failed: {res.stderr.strip()[-300:]}")
                continue
            load, build, step, choice = res.stdout.split()
            total = float(load) + float(build)
            name = backend + (" +disk cache" if cached else "")
            print(f"{label:<11}{name:<15}{load:>13} s{build:>13} s{step:>12}"
                  f"{total + 100 * float(step) / 1e3:>12.1f} s"
                  f"{total + 1e4 * float(step) / 1e3:>7.0f} s  {choice}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 384^2 reference")
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--anchor", default="6ae0619", help="git revision of the anchor")
    parser.add_argument("--t-end", type=float, default=200.0)
    parser.add_argument("--no-pypde", action="store_true")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 2")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    reps = args.reps or (3 if args.quick else 15)
    if 1 in parts:
        per_step([int(s) for s in args.sizes.split(",")], reps, anchor_module(args.anchor))
    if not args.no_pypde and 2 in parts:
        equal_accuracy(args.t_end, args.quick)
    if not args.no_pypde and 3 in parts:
        pypde_overhead()
    print("\nload:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()

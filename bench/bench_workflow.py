#!/usr/bin/env python
"""Workflow benchmark: Snakemake's overhead over simulating the same segments in process.

Usage (from the main venv)::

    python bench/bench_workflow.py [--config config.yaml] [--cores 2] [--json out.json]

What is measured, for the sweeps of ``--config`` (default: the repository's config.yaml):

* **in process**: :func:`fieldmovie.simulation.run_segment` for every segment of every point,
  one after the other in this process (simulation + FFV1 encoding + saved state; the same
  work as the ``simulate_segment`` jobs, without join and validation).
* **workflow, segments**: ``snakemake --cores N`` from scratch in a temporary directory with
  a copy of the config, asking for the validation reports: simulate, join and validate jobs.
* **workflow, all**: the default target from scratch in another directory, when it holds
  more than that (the analysis stage: observables, previews, snapshots, summary).
* **overhead ratio** = workflow wall time / in-process time (target <= 1.25). With N cores
  the workflow runs N points at once, so the ratio can be below 1.
* **dry run**: wall time of ``snakemake -n`` for a sweep of 10 points x 100 segments (1000
  segment jobs; ``--dry-points`` / ``--dry-segments``).

CPU times (user + system of this process or of the Snakemake process tree) are shown too:
wall times on a busy machine wander.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
try:
    import fieldmovie  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(REPO / "src"))

from _common import machine_info, machine_load, table  # noqa: E402

from fieldmovie.movie.writer import ClippingWarning  # noqa: E402
from fieldmovie.simulation.segment import run_segment  # noqa: E402
from fieldmovie.workflow import load_sweeps  # noqa: E402

TARGET_RATIO = 1.25
SEGMENT_RULES = {"simulate_segment", "join_segments", "validate_movie", "all"}


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def cpu_children() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


# -- in process ------------------------------------------------------------------------------
def bench_in_process(config: dict[str, Any], work: Path) -> dict[str, Any]:
    """run_segment for every segment of every point, sequentially; total and split."""
    sweeps = load_sweeps(config)
    total = sim = enc = 0.0
    segments = 0
    cpu0 = cpu_self()
    for sweep in sweeps.values():
        for point in sweep.points():
            settings = sweep.segment_settings(point)
            folder = work / sweep.name / point.name
            folder.mkdir(parents=True)
            state_in = None
            for k in range(sweep.n_segments):
                movie, state = folder / f"{k:04d}.mkv", folder / f"{k:04d}.state.npz"
                t0 = time.perf_counter()
                with warnings.catch_warnings():  # the jobs log it; here it would only spam
                    warnings.simplefilter("ignore", ClippingWarning)
                    result = run_segment(
                        settings, k, movie=movie, state_out=state, state_in=state_in
                    )
                total += time.perf_counter() - t0
                sim += result.simulate_seconds
                enc += result.encode_seconds
                segments += 1
                state_in = state
    return {
        "segments": segments,
        "wall_s": total,
        "simulate_s": sim,
        "encode_s": enc,
        "cpu_s": cpu_self() - cpu0,
    }


# -- snakemake -------------------------------------------------------------------------------
def snakemake(workdir: Path, *args: str, cores: int) -> tuple[float, float, str, int]:
    """Run Snakemake; (wall s, CPU s of its process tree, output, exit status)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", str(cores), *args]  # fmt: skip
    cpu0 = cpu_children()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return wall, cpu_children() - cpu0, proc.stdout + proc.stderr, proc.returncode


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of Snakemake's output: rule -> count."""
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)\s*$", line)
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.startswith("total") or not line.strip():
                break
    return counts


def fresh_dir(parent: Path, name: str, config_text: str) -> Path:
    d = parent / name
    d.mkdir()
    (d / "config.yaml").write_text(config_text)
    return d


def bench_workflow(
    config: dict[str, Any], config_text: str, work: Path, cores: int, run_all: bool = True
) -> dict[str, Any]:
    sweeps = load_sweeps(config)
    reports = [p for s in sweeps.values() for p in s.validation_paths()]
    out: dict[str, Any] = {}

    d = fresh_dir(work, "segments", config_text)
    wall, cpu, text, code = snakemake(d, *reports, cores=cores)
    if code != 0:
        raise RuntimeError(f"snakemake failed (exit {code}):\n{text[-3000:]}")
    out["segments"] = {"wall_s": wall, "cpu_s": cpu, "jobs": job_counts(text)}

    out["all"] = None
    if not run_all:
        return out
    d = fresh_dir(work, "all", config_text)
    _, _, text, code = snakemake(d, "-n", cores=cores)
    planned = job_counts(text)
    if code == 0 and set(planned) - SEGMENT_RULES:
        wall, cpu, text, code = snakemake(d, cores=cores)
        if code != 0:
            raise RuntimeError(f"snakemake (all) failed (exit {code}):\n{text[-3000:]}")
        out["all"] = {"wall_s": wall, "cpu_s": cpu, "jobs": job_counts(text)}
    return out


def bench_dry_run(work: Path, points: int, segments: int, cores: int) -> dict[str, Any]:
    sweep = {
        "model": "diffusion",
        "grid": {"shape": [16, 16]},
        "parameters": {"D": [round(0.1 * (i + 1), 6) for i in range(points)]},
        "time": {"frame_interval": 0.5, "frames_per_segment": 2, "t_end": 1.0 * segments},
        "storage": {"range": {"c": [-5.0, 5.0]}},
    }
    d = fresh_dir(work, "dry", yaml.safe_dump({"sweeps": {"big": sweep}}))
    wall, cpu, text, code = snakemake(d, "-n", cores=cores)
    if code != 0:
        raise RuntimeError(f"dry run failed (exit {code}):\n{text[-3000:]}")
    jobs = job_counts(text)
    return {"points": points, "segments": segments, "wall_s": wall, "cpu_s": cpu, "jobs": jobs}


# -- report ----------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    inproc, wf, dry = results["in_process"], results["workflow"], results["dry_run"]
    cores = results["config"]["cores"]

    def jobs(d: dict[str, Any]) -> str:
        return str(sum(n for rule, n in d["jobs"].items() if rule != "all"))

    def row(name: str, d: dict[str, Any], n_jobs: str, ratio: float) -> list[str]:
        return [name, f"{d['wall_s']:.2f}", f"{d['cpu_s']:.2f}", n_jobs, f"{ratio:.2f}"]

    runs = [
        row(f"in process: run_segment x {inproc['segments']}, sequential", inproc,
            str(inproc["segments"]), 1.0),
        row(f"workflow --cores {cores}: simulate + join + validate", wf["segments"],
            jobs(wf["segments"]), results["ratio"]),
    ]  # fmt: skip
    if wf["all"]:
        runs.append(row(f"workflow --cores {cores}: all (with analysis)", wf["all"],
                        jobs(wf["all"]), results["ratio_all"]))  # fmt: skip
    n_seg = dry["jobs"].get("simulate_segment", 0)
    dry_rows = [[f"snakemake -n ({jobs(dry)} jobs, {n_seg} segments)",
                 f"{dry['wall_s']:.2f}", f"{dry['cpu_s']:.2f}"]]  # fmt: skip
    verdict = "PASS" if results["ratio"] <= TARGET_RATIO else "MISS"
    targets = [
        ["workflow (simulate+join+validate) / in process, wall", f"{results['ratio']:.2f}",
         f"<= {TARGET_RATIO}", verdict],
        ["  the same in CPU time (information)", f"{results['cpu_ratio']:.2f}", "-", "-"],
    ]  # fmt: skip
    title = (
        f"== default sweep: {inproc['segments']} segments (in process: simulate "
        f"{inproc['simulate_s']:.2f} s + encode {inproc['encode_s']:.2f} s) =="
    )
    return "\n".join([
        "", title, table(runs, ["", "wall [s]", "CPU [s]", "jobs", "/ in process"]),
        "", f"== dry run: {dry['points']} points x {dry['segments']} segments ==",
        table(dry_rows, ["", "wall [s]", "CPU [s]"]),
        "", "== target ==", table(targets, ["", "value", "target", "verdict"]),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--dry-points", type=int, default=10)
    ap.add_argument("--dry-segments", type=int, default=100)
    ap.add_argument("--no-all", action="store_true", help="skip the run of the default target")
    ap.add_argument("--json", type=Path, default=None, help="save all figures here")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the results here")
    args = ap.parse_args(argv)

    config_text = args.config.read_text()
    config = yaml.safe_load(config_text)
    load_before = machine_load()
    print(f"machine: {load_before}")
    print(f"config: {args.config} ({', '.join(config['sweeps'])}), --cores {args.cores}")

    if args.workdir:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="bench_workflow_"))
    try:
        print("in process ...", flush=True)
        inproc = bench_in_process(config, work / "in_process")
        print(f"  {inproc['wall_s']:.2f} s", flush=True)
        print("workflow ...", flush=True)
        wf_dir = work / "workflow"
        wf_dir.mkdir()
        wf = bench_workflow(config, config_text, wf_dir, args.cores, run_all=not args.no_all)
        print(f"  {wf['segments']['wall_s']:.2f} s", flush=True)
        print("dry run ...", flush=True)
        dry = bench_dry_run(work, args.dry_points, args.dry_segments, args.cores)
        results: dict[str, Any] = {
            "config": {"config": str(args.config), "cores": args.cores},
            "machine": {**machine_info(), "load_before": load_before},
            "in_process": inproc,
            "workflow": wf,
            "dry_run": dry,
            "ratio": wf["segments"]["wall_s"] / inproc["wall_s"],
            "cpu_ratio": wf["segments"]["cpu_s"] / inproc["cpu_s"],
            "ratio_all": wf["all"]["wall_s"] / inproc["wall_s"] if wf["all"] else None,
            "target_ratio": TARGET_RATIO,
        }
        results["machine"]["load_after"] = machine_load()
        print(report(results))
        print(f"\nmachine after: {results['machine']['load_after']}")
        print(
            "notes: wall clock, one run each, from scratch. In process = run_segment per "
            "segment, sequential, in this process (no join/validate). CPU = user + system of "
            f"the process tree. {os.cpu_count()} CPUs."
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
            print(f"figures saved to {args.json}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

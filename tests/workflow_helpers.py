"""Helpers shared by the workflow tests: run the real Snakefile in a temporary directory.

Snakemake runs as a subprocess (``python -m snakemake -s <repo>/Snakefile --directory
<tmp>``) with the config written to ``<tmp>/config.yaml`` and ``tests/data`` (user models)
on ``PYTHONPATH``. Nothing here imports Snakemake.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SNAKEFILE = REPO / "Snakefile"
TEST_MODELS = TESTS / "data"
#: slack for every Snakemake subprocess (the runs in the tests take seconds)
TIMEOUT = 300


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the Snakemake subprocess: test models and src importable."""
    env = dict(os.environ)
    paths = [str(TEST_MODELS), str(REPO / "src")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def write_config(workdir: Path, sweeps: Mapping[str, Any], **top: Any) -> Path:
    """Write ``workdir/config.yaml`` with these sweeps (plus top-level keys such as results)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump({**top, "sweeps": dict(sweeps)}, sort_keys=False))
    return path


def snakemake_args(workdir: Path, *args: str, cores: int = 2) -> list[str]:
    """The command line of a Snakemake run of the repository's Snakefile in ``workdir``."""
    return [
        sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
        "--cores", str(cores), *args,
    ]  # fmt: skip


class SnakemakeRun:
    """Outcome of :func:`run_snakemake`: exit status, output and the jobs it ran."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self) -> str:
        """stdout and stderr together (Snakemake logs to stderr)."""
        return self.stdout + "\n" + self.stderr

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Jobs Snakemake announced (ran, or would run with ``-n``)."""
        return parse_jobs(self.output)

    def segments_run(self) -> set[tuple[str, int]]:
        """(point, k) of the simulate_segment jobs."""
        return {
            (job["wildcards"]["point"], int(job["wildcards"]["k"]))
            for job in self.jobs
            if job["rule"] == "simulate_segment"
        }

    def rules_run(self) -> list[str]:
        return [job["rule"] for job in self.jobs]

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"$ {' '.join(self.args)}\nexit status {self.returncode}\n{tail}"


def run_snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    cores: int = 2,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> SnakemakeRun:
    """Run Snakemake in ``workdir``; with ``check`` a non-zero exit fails the test."""
    cmd = snakemake_args(workdir, *args, cores=cores)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=subprocess_env(env), timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    run = SnakemakeRun(cmd, proc.returncode, proc.stdout, proc.stderr)
    if check:
        assert run.returncode == 0, run.describe()
    return run


_RULE = re.compile(r"^(?:local)?rule (\w+):\s*$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")


def parse_jobs(text: str) -> list[dict[str, Any]]:
    """Job blocks of Snakemake's output: ``{"rule", "output": [...], "wildcards": {...}}``."""
    jobs: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        m = _RULE.match(line)
        if m:
            current = {"rule": m.group(1), "output": [], "wildcards": {}}
            jobs.append(current)
            continue
        m = _FIELD.match(line)
        if current is None or not m:
            if not line.startswith(" "):
                current = None
            continue
        key, value = m.groups()
        if key == "output":
            current["output"] = [v.strip() for v in value.split(", ")]
        elif key == "wildcards":
            current["wildcards"] = dict(item.split("=", 1) for item in value.split(", "))
    return jobs


# -- results ---------------------------------------------------------------------------------
def point_dir(workdir: Path, sweep: str, point: str, results: str = "results") -> Path:
    return workdir / results / sweep / point


def segment_files(workdir: Path, sweep: str, point: str, k: int) -> list[Path]:
    """The three outputs of segment k: movie, its ``.times`` and the saved state."""
    seg = point_dir(workdir, sweep, point) / "segments"
    return [seg / f"{k:04d}.mkv", seg / f"{k:04d}.mkv.times", seg / f"{k:04d}.state.npz"]


def file_ids(paths: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """(inode, mtime_ns) of each path: a rewritten file changes at least one of them."""
    out = {}
    for p in paths:
        st = os.stat(p)
        out[Path(p)] = (st.st_ino, st.st_mtime_ns)
    return out


def hidden_files(folder: Path) -> list[str]:
    """Names starting with ``.`` in ``folder`` (the writers' temporary files)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """All frames and the times of a movie."""
    from fieldmovie import MovieReader

    reader = MovieReader(path)
    return reader.to_array(), np.array(reader.times)


def expected_times(frame_interval: float, frames_per_segment: int, n_segments: int) -> list[float]:
    """Frame times of the contract: ``k*T + i*frame_interval``."""
    seg = frame_interval * frames_per_segment
    return [
        k * seg + i * frame_interval for k in range(n_segments) for i in range(frames_per_segment)
    ]


# -- processes -------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[2] == pgid and st[0] != "Z":
                found.append(int(entry))
    return found


def wait_for_group_exit(pgid: int, timeout: float) -> list[int]:
    """Poll until no live process of the group is left; return the ones left at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = group_members(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group (the ones a test started) and wait for them."""
    if not group_members(pgid):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for_group_exit(pgid, 10)


class BackgroundSnakemake:
    """A Snakemake run in the background (own process group, output to a file)."""

    def __init__(
        self, workdir: Path, *args: str, env: Mapping[str, str] | None = None, cores: int = 2
    ) -> None:
        self.args = snakemake_args(workdir, *args, cores=cores)
        self.log_path = workdir / f"snakemake-{time.monotonic_ns()}.out"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=subprocess_env(env), start_new_session=True,
        )  # fmt: skip
        self.pgid = self.proc.pid

    def wait(self, timeout: float = TIMEOUT) -> SnakemakeRun:
        """Wait for the end (killing the group on timeout); the run's outcome."""
        try:
            self.proc.wait(timeout)
        finally:
            self.cleanup()
        return SnakemakeRun(self.args, self.proc.returncode, self.log_path.read_text(), "")

    def cleanup(self) -> None:
        """Kill whatever is left of the group (Snakemake and its jobs) and reap Snakemake."""
        kill_group(self.pgid)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()

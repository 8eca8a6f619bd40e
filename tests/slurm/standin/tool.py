"""Tiny deterministic jobs for the stand-in workflow (tests/slurm/standin/Snakefile)."""

import json
import math
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

SLURM_VARS = (
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_CPUS_PER_TASK",
    "SLURM_CPUS_ON_NODE",
    "SLURM_MEM_PER_NODE",
    "SLURM_JOB_PARTITION",
    "SLURM_STEP_ID",
)


def provenance(path, **extra):
    info = {k: os.environ.get(k) for k in SLURM_VARS}
    info.update(host=socket.gethostname(), pid=os.getpid(), **extra)
    with open(path, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


def simulate(i, length, out, prov):
    i, length = int(i), int(length)
    # a damped oscillator sampled on a grid: deterministic, cheap
    with open(out, "w") as f:
        for n in range(length):
            t = (i * length + n) * 0.01
            f.write(f"{math.exp(-0.01 * t) * math.sin(t + 0.1 * i):.12e}\n")
    provenance(prov, segment=i)


def join(movie, prov, threads, *segments):
    def read(p):
        with open(p) as f:
            return f.read()

    with ThreadPoolExecutor(int(threads)) as pool:
        parts = list(pool.map(read, segments))
    with open(movie, "w") as f:
        f.write("".join(parts))
    provenance(prov, threads=int(threads), segments=len(segments))


def validate(movie, expected, ok, prov):
    with open(movie) as f:
        n = sum(1 for line in f if line.strip())
    if n != int(expected):
        sys.exit(f"validate: {movie} has {n} samples, expected {expected}")
    with open(ok, "w") as f:
        f.write(f"{n} samples\n")
    provenance(prov)


def observables(movie, out, prov):
    with open(movie) as f:
        xs = [float(line) for line in f if line.strip()]
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    with open(out, "w") as f:
        json.dump({"n": len(xs), "mean": mean, "var": var}, f, indent=1, sort_keys=True)
        f.write("\n")
    provenance(prov)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"simulate": simulate, "join": join, "validate": validate, "observables": observables}[cmd](
        *args
    )

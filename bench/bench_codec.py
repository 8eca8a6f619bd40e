#!/usr/bin/env python
"""Codec benchmark: the pyav and ffmpeg backends side by side, against raw ffmpeg and py-pde.

Usage (from the main venv)::

    python bench/bench_codec.py [--frames 200] [--long-frames 2000] [--size 256] [--reps 3]
                                [--json out.json] [--no-pypde]

On the same smooth 16-bit data (``vmin=0``, ``vmax=1``, ``.mkv``), for ONE and TWO fields,
each backend (``MovieWriter(..., backend=b)``, ``MovieReader(..., backend=b)``):

* write (best of N; the backends' writes and the raw CLI encode take turns in each
  repetition, so that a change of load hits them alike), read all (``to_array()`` on
  an opened reader, best of N); wall clock and CPU time, FFmpeg's processes included;
* random frame from a kept-open reader (mean over ``--random`` random indices, after one
  warm-up read) and from a fresh reader (``MovieReader(path)[i]`` incl. open and close,
  mean over 5 random indices), at ``--frames`` and (1 field) ``--long-frames`` frames;
* ``validate_movie`` of a movie joined from 3 segments, with its segments (best of N).

Anchors measured in the same run: the raw ``ffmpeg`` CLI encoding our exact quantised
pictures from a raw file with the ffmpeg backend's own encoder command, and decoding our
movie to ``-f rawvideo`` into a pipe read by Python; py-pde's ``MovieStorage`` writing the
same fields (in a subprocess under ``--pypde-python``; reported as not measured when
py-pde is not available). The ratios to the targets of issue 9 are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import fieldmovie  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(HERE.parent / "src"))

from _common import machine_info, machine_load, smooth_fields, table, timed  # noqa: E402

from fieldmovie import MovieReader, MovieWriter, concat_movies, validate_movie  # noqa: E402
from fieldmovie.movie import codec  # noqa: E402
from fieldmovie.movie.backends import EncoderSpec, get_backend  # noqa: E402
from fieldmovie.movie.backends.ffmpeg_cli import encoder_command  # noqa: E402

VMIN, VMAX, BITS, DT = 0.0, 1.0, 16, 0.1
COMPONENTS = ["u", "v"]
BACKENDS = ("pyav", "ffmpeg")
PYPDE_DEFAULT = "/work/pdeenv/bin/python"


# --------------------------------------------------------------------------------------
# py-pde part: runs in a subprocess under the py-pde interpreter; prints one JSON line.
# --------------------------------------------------------------------------------------
PYPDE_SCRIPT = r"""
import json, os, sys, time
import numpy as np

cfg = json.loads(sys.argv[1])
import pde
from pde.storage import MovieStorage

def cpu_seconds():
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system

def timed(fn, n):
    best, cpu, res = float("inf"), [float("inf"), float("inf")], None
    for _ in range(max(1, n)):
        (s0, c0), t0 = cpu_seconds(), time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
        s1, c1 = cpu_seconds()
        if (s1 - s0) + (c1 - c0) < sum(cpu):
            cpu = [s1 - s0, c1 - c0]
    return best, cpu, res

def reap():
    # storage.data starts ffmpeg with run_async and never waits for it: reap it here so
    # that its CPU time is counted (it has written all frames and is exiting)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return

def read_all(st):
    data = st.data
    reap()
    return data

def best_of(fn, n):
    best, _, res = timed(fn, n)
    return best, res

data = np.load(cfg["npy"], mmap_mode="r")
frames, _, nx, ny = data.shape
reps, dt = cfg["reps"], cfg["dt"]
steps = (2 ** 16 - 1) / (cfg["vmax"] - cfg["vmin"])
grid = pde.UnitGrid([nx, ny])
workdir = cfg["workdir"]

def make_fields(n_fields):
    if n_fields == 1:
        return [pde.ScalarField(grid, np.array(data[i, 0])) for i in range(frames)]
    return [
        pde.FieldCollection(
            [pde.ScalarField(grid, np.array(data[i, k]), label="uv"[k]) for k in range(n_fields)]
        )
        for i in range(frames)
    ]

def write(path, fields, count):
    st = MovieStorage(path, vmin=cfg["vmin"], vmax=cfg["vmax"], bits_per_channel=16,
                      write_times=True)
    st.start_writing(fields[0])
    for i in range(count):
        st.append(fields[i % len(fields)], i * dt)
    st.end_writing()

def open_storage(path):
    st = MovieStorage(path, write_mode="readonly")
    n = len(st)  # reads the metadata (ffprobe) before any clock starts
    return st, n

out = {"pde_version": pde.__version__, "python": sys.version.split()[0], "cases": {}}
for n_fields in cfg["cases"]:
    fields = make_fields(n_fields)
    path = os.path.join(workdir, f"pypde_{n_fields}f.mkv")
    res = {}
    res["write_s"], res["write_cpu_s"], _ = timed(lambda: write(path, fields, frames), reps)
    res["size_bytes"] = os.path.getsize(path)
    st, n = open_storage(path)
    res["len"] = n
    res["video_format"] = st.info.get("video_format")
    res["read_all_s"], res["read_all_cpu_s"], arr = timed(lambda: read_all(st), reps)
    arr = np.asarray(arr).reshape(frames, n_fields, nx, ny)
    res["max_err_steps"] = float(np.max(np.abs(arr - data[:, :n_fields])) * steps)
    access = {}
    for i in cfg["indices"]:
        access[str(i)], fld = best_of(lambda: st[i], reps)
        got = np.asarray(fld.data).reshape(n_fields, nx, ny)
        if not np.array_equal(got, arr[i]):
            res.setdefault("problems", []).append(f"storage[{i}] differs from storage.data[{i}]")
    res["access_s"] = access
    out["cases"][str(n_fields)] = res
    del fields, arr

if cfg["long_frames"]:
    fields = make_fields(1)
    path = os.path.join(workdir, "pypde_long.mkv")
    n_long = cfg["long_frames"]
    t0 = time.perf_counter()
    write(path, fields, n_long)
    res = {"frames": n_long, "write_s": time.perf_counter() - t0}
    st, n = open_storage(path)
    res["len"] = n
    last = n_long - 1
    if n < n_long:
        res["problem"] = f"len(storage) = {n} < {n_long} frames written (mkv duration rounding)"
        last = n - 1
    res["last_index"] = last
    res["last_s"], fld = best_of(lambda: st[last], reps)
    res["first_s"], _ = best_of(lambda: st[0], reps)
    want = data[last % frames, 0]
    res["last_err_steps"] = float(np.max(np.abs(np.asarray(fld.data) - want)) * steps)
    res["size_bytes"] = os.path.getsize(path)
    out["long"] = res

print("BENCH_JSON:" + json.dumps(out))
"""


def find_pypde(arg: str | None, disabled: bool) -> tuple[str | None, str]:
    """Interpreter with py-pde (and ffmpeg-python) importable, or None and the reason."""
    if disabled:
        return None, "disabled by --no-pypde"
    if arg:
        candidates = [("--pypde-python", arg)]
    elif os.environ.get("FIELDMOVIE_PYPDE_PYTHON"):
        candidates = [("$FIELDMOVIE_PYPDE_PYTHON", os.environ["FIELDMOVIE_PYPDE_PYTHON"])]
    else:
        candidates = [("default", PYPDE_DEFAULT), ("current interpreter", sys.executable)]
    reasons = []
    for label, python in candidates:
        try:
            proc = subprocess.run(
                [python, "-c", "import pde, ffmpeg; print(pde.__version__)"],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"{label} {python}: {exc}")
            continue
        if proc.returncode == 0:
            return python, f"{python} (py-pde {proc.stdout.strip()}, {label})"
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        reasons.append(f"{label} {python}: {last}")
    return None, "; ".join(reasons)


def run_pypde(python: str, cfg: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    proc = subprocess.run(
        [python, "-c", PYPDE_SCRIPT, json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON:"):
            return json.loads(line[len("BENCH_JSON:") :]), proc.stderr.strip()
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    return None, f"py-pde subprocess failed (exit {proc.returncode}):\n{tail}"


# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# fieldmovie through each backend
# --------------------------------------------------------------------------------------
def write_ours(path: Path, data: np.ndarray, n_fields: int, backend: str, count: int = 0) -> None:
    count = count or len(data)
    with MovieWriter(path, components=COMPONENTS[:n_fields], grid_shape=data.shape[2:],
                     vmin=VMIN, vmax=VMAX, bits=BITS, backend=backend) as writer:  # fmt: skip
        for i in range(count):
            writer.append(data[i % len(data), :n_fields], i * DT)


def random_access(path: Path, backend: str, n: int, seed: int) -> dict[str, float]:
    """Mean seconds per random frame: kept-open reader (n frames), fresh reader (5)."""
    rng = np.random.default_rng(seed)
    with MovieReader(path, backend=backend) as reader:
        picks = [int(i) for i in rng.integers(0, len(reader), n)]
        reader[picks[0]]  # warm-up: first decode
        t0 = time.perf_counter()
        for i in picks:
            reader[i]
        kept = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i in picks[:5]:
        with MovieReader(path, backend=backend) as fresh:
            fresh[i]
    return {"kept_open_s": kept, "fresh_s": (time.perf_counter() - t0) / 5}


def bench_writes(work: Path, data: np.ndarray, nf: int, reps: int) -> dict[str, dict[str, Any]]:
    """Write with each backend and encode with the raw CLI, interleaved (one of each per
    repetition), so that a change of the machine's load hits all of them alike: best wall
    time and least CPU time of each. Leaves ``<backend>_<nf>f.mkv`` and ``raw_<nf>f.mkv``."""
    raw, out = work / f"raw_{nf}f.raw", work / f"raw_{nf}f.mkv"
    with open(raw, "wb") as fh:
        for frame in data[:, :nf]:
            pixels, _ = codec.quantize(frame, [VMIN] * nf, [VMAX] * nf, BITS)
            fh.write(codec.to_picture(pixels).tobytes())
    width, height = codec.stored_size(data.shape[2:], nf)
    spec = EncoderSpec("matroska", codec.PIXEL_FORMATS[BITS], width, height, 25,
                       codec.encoder_settings(width, height), "{}")  # fmt: skip
    cmd = encoder_command(out, spec, source=str(raw))
    jobs = {b: lambda b=b: write_ours(work / f"{b}_{nf}f.mkv", data, nf, b) for b in BACKENDS}
    jobs["raw"] = lambda: run_checked(cmd)
    res: dict[str, dict[str, Any]] = {k: {"s": float("inf"), "cpu": None} for k in jobs}
    res["raw"]["cmd"], res["raw"]["exe"] = " ".join(cmd), cmd[0]
    for _ in range(max(1, reps)):
        for key, job in jobs.items():
            wall, cpu, _ = timed(job, 1)
            res[key]["s"] = min(res[key]["s"], wall)
            if res[key]["cpu"] is None or sum(cpu) < sum(res[key]["cpu"]):
                res[key]["cpu"] = cpu
    res["raw"]["raw_bytes"] = raw.stat().st_size
    raw.unlink()
    return res


def bench_backend(
    work: Path, data: np.ndarray, nf: int, b: str, args: Any, written: dict[str, Any]
) -> dict[str, Any]:
    movie = work / f"{b}_{nf}f.mkv"
    res: dict[str, Any] = {"write_s": written["s"], "write_cpu_s": written["cpu"]}
    with MovieReader(movie, backend=b) as reader:
        res["read_all_s"], res["read_all_cpu_s"], arr = timed(reader.to_array, args.reps)
    res["digest"] = hash(arr.tobytes())
    res.update(random_access(movie, b, args.random, seed=nf))
    res["size_bytes"] = movie.stat().st_size
    return res


def raw_ffmpeg(work: Path, nf: int, reps: int, written: dict[str, Any]) -> dict[str, Any]:
    """The raw ffmpeg CLI: its encode (timed in :func:`bench_writes`) and decoding our
    pictures from its movie into a pipe."""
    out = work / f"raw_{nf}f.mkv"
    res: dict[str, Any] = {"encode_cmd": written["cmd"], "encode_s": written["s"],
                           "encode_cpu_s": written["cpu"]}  # fmt: skip
    dec = [written["exe"], "-nostdin", "-v", "error", "-i", str(out), "-map", "0:v:0",
           "-f", "rawvideo", "-pix_fmt", codec.PIXEL_FORMATS[BITS], "pipe:1"]  # fmt: skip
    expect = written["raw_bytes"]
    res["decode_s"], res["decode_cpu_s"], _ = timed(lambda: decode_to_pipe(dec, expect), reps)
    return res


def run_checked(args: list[str]) -> None:
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0 or proc.stderr.strip():
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def decode_to_pipe(args: list[str], expect: int) -> None:
    """ffmpeg decodes to rawvideo on stdout; Python reads 1 MiB chunks and discards them."""
    buf, total = memoryview(bytearray(1 << 20)), 0
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0) as p:
        while n := p.stdout.readinto(buf):
            total += n
        err = p.stderr.read()
    if p.returncode != 0 or err.strip() or total != expect:
        raise RuntimeError(f"decode: {total} of {expect} bytes; {err[-2000:]!r}")


def bench_long(work: Path, data: np.ndarray, count: int, args: Any) -> dict[str, Any]:
    movie = work / "long.mkv"
    write_ours(movie, data, 1, "pyav", count)
    return {b: random_access(movie, b, args.random, seed=7) for b in BACKENDS}


def bench_validate(work: Path, data: np.ndarray, reps: int) -> dict[str, Any]:
    """validate_movie of a 3-segment join (2 fields), with its segments, per backend."""
    third = len(data) // 3
    segments = []
    for k in range(3):
        seg = work / f"seg{k}.mkv"
        with MovieWriter(seg, components=COMPONENTS, grid_shape=data.shape[2:], vmin=VMIN,
                         vmax=VMAX, bits=BITS) as writer:  # fmt: skip
            for i in range(k * third, (k + 1) * third):
                writer.append(data[i], i * DT)
        segments.append(seg)
    res: dict[str, Any] = {"frames": 3 * third}
    for b in BACKENDS:
        joined = concat_movies(segments, work / f"joined_{b}.mkv", backend=b)
        res[f"{b}_s"], res[f"{b}_cpu_s"], report = timed(
            lambda j=joined, b=b: validate_movie(j, segments, backend=b), reps
        )
        if not report.ok:
            raise RuntimeError(f"validate_movie ({b}) found problems: {report.problems}")
    return res


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def checks(r: dict[str, Any]) -> list[list[Any]]:
    """Every target of issue 9: name, value, op, limit, verdict."""
    rows: list[list[Any]] = []

    def add(name: str, value: float | None, op: str, limit: float) -> None:
        ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
        verdict = "NOT MEASURED" if ok is None else ("PASS" if ok else "MISS")
        rows.append([name, "-" if value is None else f"{value:.2f}", f"{op} {limit}", verdict])

    pp = (r.get("pypde") or {}).get("cases", {})
    for nf in ("1", "2"):
        py, ff, raw = r["cases"][nf]["pyav"], r["cases"][nf]["ffmpeg"], r["cases"][nf]["raw"]
        tag = f"{nf} field{'s' if nf == '2' else ''}"
        add(f"ffmpeg reader[i] / pyav kept-open reader[i] ({tag})",
            ratio(ff["kept_open_s"], py["kept_open_s"]), ">=", 10)  # fmt: skip
        add(f"pyav kept-open reader[i] in ms ({tag})", 1e3 * py["kept_open_s"], "<=", 5)
        add(f"ffmpeg fresh / pyav fresh MovieReader(path)[i] ({tag})",
            ratio(ff["fresh_s"], py["fresh_s"]), ">=", 4)  # fmt: skip
        add(f"pyav write / ffmpeg backend write ({tag})", ratio(py["write_s"], ff["write_s"]),
            "<=", 1.0)  # fmt: skip
        add(f"pyav read-all / ffmpeg backend read-all ({tag})",
            ratio(py["read_all_s"], ff["read_all_s"]), "<=", 1.0)  # fmt: skip
        add(f"pyav write / raw ffmpeg encode ({tag})", ratio(py["write_s"], raw["encode_s"]),
            "<=", 1.1)  # fmt: skip
        add(f"pyav read-all / raw ffmpeg decode ({tag})",
            ratio(py["read_all_s"], raw["decode_s"]), "<=", 1.1)  # fmt: skip
        add(f"py-pde write / pyav write ({tag})", ratio(pp.get(nf, {}).get("write_s"),
            py["write_s"]), ">=", 1.5 if nf == "1" else 3.5)  # fmt: skip
    v = r["validate"]
    add("validate 3-segment join: ffmpeg / pyav", ratio(v["ffmpeg_s"], v["pyav_s"]), ">=", 1.5)
    if r.get("long"):
        for b in BACKENDS:
            for key in ("kept_open_s", "fresh_s"):
                add(f"{b} {key[:-2]} random frame, {r['config']['long_frames']} / "
                    f"{r['config']['frames']} frames",
                    ratio(r["long"][b][key], r["cases"]["1"][b][key]), "<=", 1.5)  # fmt: skip
    return rows


def ms(x: float | None) -> str:
    return "-" if x is None else f"{1e3 * x:.1f}"


def sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def cpu(x: list[float] | None) -> str:
    """CPU seconds of a run: this process plus its children."""
    return "-" if not x else f"{sum(x):.2f}"


def case_table(r: dict[str, Any], nf: str) -> str:
    c, pp = r["cases"][nf], ((r.get("pypde") or {}).get("cases") or {}).get(nf, {})
    py, ff, raw = c["pyav"], c["ffmpeg"], c["raw"]
    rows = [
        ["write [s]", sec(py["write_s"]), sec(ff["write_s"]), sec(raw["encode_s"]),
         sec(pp.get("write_s"))],
        ["write CPU, all processes [s]", cpu(py.get("write_cpu_s")), cpu(ff.get("write_cpu_s")),
         cpu(raw.get("encode_cpu_s")), cpu(pp.get("write_cpu_s"))],
        ["read all [s]", sec(py["read_all_s"]), sec(ff["read_all_s"]), sec(raw["decode_s"]),
         sec(pp.get("read_all_s"))],
        ["read all, CPU incl. FFmpeg processes [s]", cpu(py.get("read_all_cpu_s")),
         cpu(ff.get("read_all_cpu_s")), cpu(raw.get("decode_cpu_s")),
         cpu(pp.get("read_all_cpu_s"))],
        ["random frame, kept-open reader [ms]", ms(py["kept_open_s"]), ms(ff["kept_open_s"]),
         "", ""],
        ["random frame, fresh reader [ms]", ms(py["fresh_s"]), ms(ff["fresh_s"]), "", ""],
        ["file size [MB]", f"{py['size_bytes'] / 1e6:.2f}", f"{ff['size_bytes'] / 1e6:.2f}", "",
         "-" if "size_bytes" not in pp else f"{pp['size_bytes'] / 1e6:.2f}"],
    ]  # fmt: skip
    return table(rows, ["", "pyav", "ffmpeg backend", "raw ffmpeg CLI", "py-pde"])


def report(r: dict[str, Any]) -> str:
    cfg = r["config"]
    lines = []
    for nf in ("1", "2"):
        lines += ["", f"== {nf} field(s): {cfg['frames']} frames, {cfg['size']}x{cfg['size']}, "
                  "16 bit, mkv ==", case_table(r, nf)]  # fmt: skip
        same = r["cases"][nf]["pyav"]["digest"] == r["cases"][nf]["ffmpeg"]["digest"]
        lines.append(f"read-all arrays of both backends identical: {'yes' if same else 'NO'}")
    if r.get("long"):
        rows = [[f"{b}: random frame, {k} [ms]", ms(r["cases"]["1"][b][f"{k}_s"]),
                 ms(r["long"][b][f"{k}_s"])]
                for b in BACKENDS for k in ("kept_open", "fresh")]  # fmt: skip
        lines += [
            "",
            "== movie length (1 field) ==",
            table(rows, ["", f"{cfg['frames']} frames", f"{cfg['long_frames']} frames"]),
        ]
    v = r["validate"]
    lines += ["", f"== validate_movie, 3-segment join of {v['frames']} frames (2 fields) ==",
              table([["validate with segments [s]", sec(v["pyav_s"]), sec(v["ffmpeg_s"])],
                     ["  CPU incl. FFmpeg processes [s]", cpu(v.get("pyav_cpu_s")),
                      cpu(v.get("ffmpeg_cpu_s"))]],
                    ["", "pyav", "ffmpeg backend"])]  # fmt: skip
    lines += ["", "== targets (issue 9) ==",
              table(checks(r), ["target", "value", "target", "verdict"])]  # fmt: skip
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--long-frames", type=int, default=2000, help="0: skip")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3, help="repetitions (best is kept)")
    ap.add_argument("--random", type=int, default=20, help="random frames per reader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pypde-python", default=None, help="interpreter with py-pde (default: "
                    f"$FIELDMOVIE_PYPDE_PYTHON, else {PYPDE_DEFAULT}, else this one)")  # fmt: skip
    ap.add_argument("--no-pypde", action="store_true", help="skip the py-pde anchor")
    ap.add_argument("--json", type=Path, default=None, help="save all figures here")
    return ap.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = smooth_fields(args.frames, args.size, 2, seed=args.seed, noise=1e-3)
    npy = work / "data.npy"
    np.save(npy, data)
    versions = {b: get_backend(b).version() for b in BACKENDS}
    r: dict[str, Any] = {"config": vars(args) | {"json": None}, "versions": versions,
                         "machine": {**machine_info(), "load_before": machine_load()},
                         "cases": {}}  # fmt: skip
    for nf in (1, 2):
        case = r["cases"][str(nf)] = {}
        print(f"writing, {nf} field(s) ...", flush=True)
        written = bench_writes(work, data, nf, args.reps)
        for b in BACKENDS:
            print(f"{b}, {nf} field(s) ...", flush=True)
            case[b] = bench_backend(work, data, nf, b, args, written[b])
        case["raw"] = raw_ffmpeg(work, nf, args.reps, written["raw"])
    if args.long_frames > args.frames:
        print(f"{args.long_frames}-frame movie ...", flush=True)
        r["long"] = bench_long(work, data, args.long_frames, args)
    print("validate_movie ...", flush=True)
    r["validate"] = bench_validate(work, data, args.reps)
    python, why = find_pypde(args.pypde_python, args.no_pypde)
    r["pypde_interpreter"] = why
    if python is not None:
        print(f"py-pde anchor: {why} ...", flush=True)
        cfg = {
            "npy": str(npy),
            "workdir": str(work),
            "reps": args.reps,
            "dt": DT,
            "vmin": VMIN,
            "vmax": VMAX,
            "cases": [1, 2],
            "indices": [],
            "long_frames": 0,
        }
        r["pypde"], r["pypde_error"] = run_pypde(python, cfg)
    r["machine"]["load_after"] = machine_load()
    return r


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    print(f"machine: {machine_load()}")
    work = Path(tempfile.mkdtemp(prefix="bench_codec_"))
    try:
        r = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"versions: {r['versions']}")
    if not r.get("pypde"):
        print(f"py-pde anchor NOT MEASURED: {r.get('pypde_error') or r['pypde_interpreter']}")
    print(report(r))
    print(f"\nmachine before: {r['machine']['load_before']}\nmachine after: "
          f"{r['machine']['load_after']}")  # fmt: skip
    print(
        "notes: wall clock; write/read-all/validate best of --reps; random frames are means; "
        "write CPU = user+system of the run with the least CPU (this process and its children: "
        "the ffmpeg processes; for py-pde its writing, in its own interpreter). "
        "raw ffmpeg CLI = the ffmpeg backend's encoder command reading a raw file / decoding "
        "to rawvideo into a pipe read by Python."
    )
    if args.json:
        args.json.write_text(json.dumps(r, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Codec benchmark: fieldmovie vs py-pde's MovieStorage vs plain ffmpeg, in one run.

Usage (from the main venv)::

    python bench/bench_codec.py [--frames 200] [--size 256] [--quick] [--json out.json]

What is measured (16 bit, ``vmin=0``, ``vmax=1``, ``.mkv``), on the same smooth data in
``[0, 1]`` (a few moving low Fourier modes plus tiny noise, fixed seed), for ONE scalar
field and for TWO fields:

* fieldmovie ``MovieWriter`` (write), ``MovieReader.to_array()`` (read all; the reader is
  opened, i.e. probed, before the clock starts; the open time is shown separately),
  ``reader[i]`` for the first, middle and last frame.
* py-pde ``MovieStorage(bits_per_channel=16, write_times=True)`` in a subprocess run by the
  interpreter of ``--pypde-python``: ScalarField or FieldCollection of two ScalarFields on
  a ``UnitGrid``; the fields are built before the clock starts, so write time is
  ``start_writing`` + ``append`` loop + ``end_writing``; read all = ``storage.data`` and
  access = ``storage[i]`` on a storage whose metadata has been read before.
* ``ffmpeg`` encoding our exact raw quantised pictures from a file on disk with the writer's
  own encoder arguments (``MovieWriter._encoder_args``, input ``pipe:0`` replaced by the raw
  file): the encode limit.
* ``ffmpeg`` decoding our movie to ``-f rawvideo -pix_fmt gray16le pipe:1``, read by Python
  in 1 MiB chunks and discarded: the read limit (``-f null -`` is shown for information).

Also: last-frame access on a 1000-frame movie (1 field, the 200 frames repeated) for both,
to show whether access time depends on the length of the movie.

Timings are the best of N repetitions (3; 1 with ``--quick``).
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

from _common import (  # noqa: E402
    best_of,
    machine_info,
    machine_load,
    quant_error,
    smooth_fields,
    table,
    timed,
)

from fieldmovie import MovieReader, MovieWriter  # noqa: E402
from fieldmovie.movie import codec  # noqa: E402

VMIN, VMAX, BITS, DT = 0.0, 1.0, 16, 0.1
COMPONENTS = ["u", "v"]
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
# fieldmovie and plain ffmpeg
# --------------------------------------------------------------------------------------
def new_writer(path: Path, n_fields: int, grid_shape: tuple[int, ...]) -> MovieWriter:
    return MovieWriter(
        path,
        components=COMPONENTS[:n_fields],
        grid_shape=grid_shape,
        vmin=VMIN,
        vmax=VMAX,
        bits=BITS,
    )


def write_ours(path: Path, data: np.ndarray, n_fields: int, count: int | None = None) -> None:
    frames = len(data)
    count = frames if count is None else count
    with new_writer(path, n_fields, data.shape[2:]) as writer:
        for i in range(count):
            writer.append(data[i % frames, :n_fields], i * DT)


def write_raw(path: Path, data: np.ndarray, n_fields: int) -> int:
    """Our exact pictures (quantize + to_picture) of all frames, back to back."""
    lo, hi = [VMIN] * n_fields, [VMAX] * n_fields
    with open(path, "wb") as f:
        for frame in data[:, :n_fields]:
            pixels, _ = codec.quantize(frame, lo, hi, BITS)
            f.write(codec.to_picture(pixels).tobytes())
    return path.stat().st_size


def encoder_args_from_raw(raw: Path, out: Path, n_fields: int, grid_shape) -> list[str]:
    writer = new_writer(out, n_fields, grid_shape)
    args = writer._encoder_args(out)
    writer.abort()  # never started: nothing to clean up
    i = args.index("pipe:0")
    return args[:i] + [str(raw)] + args[i + 1 :]


def run_checked(args: list[str]) -> None:
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0 or proc.stderr.strip():
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def decode_to_pipe(ffmpeg: str, movie: Path, pix_fmt: str, expect: int) -> int:
    """ffmpeg decodes to rawvideo on stdout; Python reads 1 MiB chunks and discards them."""
    args = [
        ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", str(movie),
        "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1",
    ]  # fmt: skip
    buf = memoryview(bytearray(1 << 20))
    total = 0
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0) as p:
        while n := p.stdout.readinto(buf):
            total += n
        err = p.stderr.read()
    if p.returncode != 0 or err.strip() or total != expect:
        raise RuntimeError(f"decode of {movie}: {total} of {expect} bytes; {err[-2000:]!r}")
    return total


def packets_md5(ffmpeg: str, movie: Path) -> str:
    """MD5 of the video packets (stream copy, no decoding)."""
    proc = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(movie), "-map", "0:v", "-c", "copy",
         "-f", "md5", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout.strip()


def decode_to_null(ffmpeg: str, movie: Path) -> None:
    run_checked(
        [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", str(movie),
         "-map", "0:v:0", "-f", "null", "-"]
    )  # fmt: skip


def bench_ours(
    work: Path, data: np.ndarray, n_fields: int, reps: int, indices: list[int]
) -> dict[str, Any]:
    frames = len(data)
    grid_shape = data.shape[2:]
    movie = work / f"ours_{n_fields}f.mkv"
    res: dict[str, Any] = {}

    res["write_s"], res["write_cpu_s"], _ = timed(lambda: write_ours(movie, data, n_fields), reps)
    res["size_bytes"] = movie.stat().st_size

    t0 = time.perf_counter()
    reader = MovieReader(movie)
    res["open_s"] = time.perf_counter() - t0
    res["read_all_s"], res["read_all_cpu_s"], arr = timed(reader.to_array, reps)
    res["max_err_steps"] = quant_error(arr, data[:, :n_fields], VMIN, VMAX, BITS)
    access: dict[str, float] = {}
    for i in indices:
        access[str(i)], frame = best_of(lambda i=i: reader[i], reps)
        if not np.array_equal(frame, arr[i]):
            res.setdefault("problems", []).append(f"reader[{i}] differs from to_array()[{i}]")
    res["access_s"] = access
    del arr

    # the encode limit: ffmpeg with the writer's own arguments, input from a raw file
    raw = work / f"ours_{n_fields}f.raw"
    res["raw_bytes"] = write_raw(raw, data, n_fields)
    raw_out = work / f"ffmpeg_{n_fields}f.mkv"
    args = encoder_args_from_raw(raw, raw_out, n_fields, grid_shape)
    shown = [a if not a.startswith("comment=") else "comment=<meta>" for a in args]
    res["ffmpeg_encode_cmd"] = " ".join(shown)
    res["ffmpeg_encode_s"], res["ffmpeg_encode_cpu_s"], _ = timed(lambda: run_checked(args), reps)
    res["ffmpeg_encode_size_bytes"] = raw_out.stat().st_size
    # container bytes differ (Matroska writes random UIDs): compare the video packets
    res["ffmpeg_encode_identical"] = packets_md5(args[0], raw_out) == packets_md5(args[0], movie)
    raw.unlink()

    # the read limit: ffmpeg decoding our movie into a pipe read by Python
    ffmpeg = args[0]
    pix_fmt = codec.PIXEL_FORMATS[BITS]
    res["ffmpeg_decode_pipe_s"], res["ffmpeg_decode_pipe_cpu_s"], _ = timed(
        lambda: decode_to_pipe(ffmpeg, movie, pix_fmt, res["raw_bytes"]), reps
    )
    res["ffmpeg_decode_null_s"], res["ffmpeg_decode_null_cpu_s"], _ = timed(
        lambda: decode_to_null(ffmpeg, movie), reps
    )
    res["frames"] = frames
    return res


def bench_ours_long(work: Path, data: np.ndarray, count: int, reps: int) -> dict[str, Any]:
    movie = work / "ours_long.mkv"
    t0 = time.perf_counter()
    write_ours(movie, data, 1, count)
    res: dict[str, Any] = {"frames": count, "write_s": time.perf_counter() - t0}
    reader = MovieReader(movie)
    res["len"] = len(reader)
    res["last_index"] = count - 1
    res["last_s"], frame = best_of(lambda: reader[count - 1], reps)
    res["first_s"], _ = best_of(lambda: reader[0], reps)
    res["last_err_steps"] = quant_error(frame, data[(count - 1) % len(data), :1], VMIN, VMAX)
    res["size_bytes"] = movie.stat().st_size
    return res


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def fmt_s(x: float | None) -> str | None:
    return None if x is None else f"{x:.3f}"


def fmt_cpu(x: list[float] | None) -> str | None:
    return None if x is None else f"{x[0]:.2f} + {x[1]:.2f} = {sum(x):.2f}"


def fmt_ms(x: float | None) -> str | None:
    return None if x is None else f"{1e3 * x:.1f}"


def fmt_fps(frames: int, x: float | None) -> str | None:
    return None if not x else f"{frames / x:.0f}"


def fmt_mb(x: int | None) -> str | None:
    return None if x is None else f"{x / 1e6:.2f}"


def case_table(frames: int, ours: dict, pp: dict | None, indices: list[int]) -> str:
    pp = pp or {}
    ppa = pp.get("access_s", {})
    rows = [
        ["write [s]", fmt_s(ours["write_s"]), fmt_s(pp.get("write_s")),
         fmt_s(ours["ffmpeg_encode_s"])],
        ["write [frames/s]", fmt_fps(frames, ours["write_s"]), fmt_fps(frames, pp.get("write_s")),
         fmt_fps(frames, ours["ffmpeg_encode_s"])],
        ["write CPU, Python + ffmpeg [s]", fmt_cpu(ours["write_cpu_s"]),
         fmt_cpu(pp.get("write_cpu_s")), fmt_cpu(ours["ffmpeg_encode_cpu_s"])],
        ["read all [s]", fmt_s(ours["read_all_s"]), fmt_s(pp.get("read_all_s")),
         fmt_s(ours["ffmpeg_decode_pipe_s"])],
        ["read all [frames/s]", fmt_fps(frames, ours["read_all_s"]),
         fmt_fps(frames, pp.get("read_all_s")), fmt_fps(frames, ours["ffmpeg_decode_pipe_s"])],
        ["read all CPU, Python + ffmpeg [s]", fmt_cpu(ours["read_all_cpu_s"]),
         fmt_cpu(pp.get("read_all_cpu_s")), fmt_cpu(ours["ffmpeg_decode_pipe_cpu_s"])],
        ["  ffmpeg -f null - [frames/s]", None, None,
         fmt_fps(frames, ours["ffmpeg_decode_null_s"])],
        ["  ffmpeg -f null - CPU [s]", None, None, fmt_cpu(ours["ffmpeg_decode_null_cpu_s"])],
    ]  # fmt: skip
    for i in indices:
        rows.append([f"frame {i} by index [ms]", fmt_ms(ours["access_s"][str(i)]),
                     fmt_ms(ppa.get(str(i))), None])  # fmt: skip
    rows += [
        ["file size [MB]", fmt_mb(ours["size_bytes"]), fmt_mb(pp.get("size_bytes")),
         fmt_mb(ours["ffmpeg_encode_size_bytes"])],
        ["max error [quant. steps]", f"{ours['max_err_steps']:.3f}",
         None if "max_err_steps" not in pp else f"{pp['max_err_steps']:.3f}", None],
        ["open/probe before reading [ms]", fmt_ms(ours["open_s"]), None, None],
    ]  # fmt: skip
    return table(rows, ["", "fieldmovie", "py-pde", "ffmpeg limit"])


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target: name, value, comparison, limit, verdict."""
    ours, pp = results["fieldmovie"], results.get("pypde") or {}
    ppc = pp.get("cases", {})
    last = str(results["config"]["frames"] - 1)
    out = []

    def add(name: str, value: float | None, op: str, limit: float, cpu: Any = None) -> None:
        if value is None:
            verdict = "SKIP"
        elif op == "<=":  # tolerance: an error of exactly half a step computes as 0.5000000x
            verdict = "PASS" if value <= limit * (1 + 1e-9) else "MISS"
        else:
            verdict = "PASS" if value >= limit else "MISS"
        out.append(
            {"target": name, "value": value, "op": op, "limit": limit, "verdict": verdict,
             "cpu_ratio": cpu}
        )  # fmt: skip

    def cpu(a: list[float] | None, b: list[float] | None) -> float | None:
        return ratio(sum(a), sum(b)) if a and b else None

    for nf in ("1", "2"):
        o, p = ours[nf], ppc.get(nf, {})
        tag = f"{nf} field{'s' if nf == '2' else ''}"
        add(f"ours write / ffmpeg raw encode ({tag})",
            ratio(o["write_s"], o["ffmpeg_encode_s"]), "<=", 1.25,
            cpu(o["write_cpu_s"], o["ffmpeg_encode_cpu_s"]))  # fmt: skip
        add(f"ours read-all / ffmpeg raw decode ({tag})",
            ratio(o["read_all_s"], o["ffmpeg_decode_pipe_s"]), "<=", 1.25,
            cpu(o["read_all_cpu_s"], o["ffmpeg_decode_pipe_cpu_s"]))  # fmt: skip
        add(f"py-pde write / ours ({tag})", ratio(p.get("write_s"), o["write_s"]),
            ">=", 1.4 if nf == "1" else 3.0,
            cpu(p.get("write_cpu_s"), o["write_cpu_s"]))  # fmt: skip
        add(f"py-pde read-all / ours ({tag})", ratio(p.get("read_all_s"), o["read_all_s"]),
            ">=", 1.5, cpu(p.get("read_all_cpu_s"), o["read_all_cpu_s"]))  # fmt: skip
        add(f"py-pde last-frame access / ours ({tag})",
            ratio(p.get("access_s", {}).get(last), o["access_s"][last]), ">=", 7.0)  # fmt: skip
        add(f"ours max error, steps ({tag})", o["max_err_steps"], "<=", 0.5)
        add(f"py-pde max error, steps ({tag})", p.get("max_err_steps"), "<=", 1.0)
    add("ours 2-field size / py-pde 2-field size",
        ratio(ours["2"]["size_bytes"], ppc.get("2", {}).get("size_bytes")), "<=", 0.6)  # fmt: skip
    ol, pl = results.get("fieldmovie_long"), pp.get("long")
    if ol:
        add(f"ours last-frame access {ol['frames']} / {results['config']['frames']} frames",
            ratio(ol["last_s"], ours["1"]["access_s"][last]), "<=", 1.5)  # fmt: skip
        add(f"py-pde last-frame access / ours ({ol['frames']} frames)",
            ratio(pl["last_s"] if pl else None, ol["last_s"]), ">=", 7.0)  # fmt: skip
    return out


def report(results: dict[str, Any]) -> str:
    cfg = results["config"]
    frames, indices = cfg["frames"], cfg["indices"]
    pp = results.get("pypde") or {}
    lines = []
    for nf in ("1", "2"):
        title = "ONE scalar field" if nf == "1" else "TWO fields"
        lines += ["", f"== {title}: {frames} frames, {cfg['size']}x{cfg['size']}, 16 bit, mkv ==",
                  case_table(frames, results["fieldmovie"][nf], pp.get("cases", {}).get(nf),
                             indices)]  # fmt: skip
        o = results["fieldmovie"][nf]
        lines.append(
            "ffmpeg raw encode: video packets identical to our movie's: "
            f"{'yes' if o['ffmpeg_encode_identical'] else 'NO'}"
        )
        for name, d in (("fieldmovie", o), ("py-pde", pp.get("cases", {}).get(nf, {}))):
            for problem in d.get("problems", []):
                lines.append(f"PROBLEM ({name}): {problem}")
        if nf in pp.get("cases", {}):
            lines.append(f"py-pde video_format: {pp['cases'][nf].get('video_format')}, "
                         f"len(storage) = {pp['cases'][nf].get('len')}")  # fmt: skip
    ol, pl = results.get("fieldmovie_long"), pp.get("long")
    if ol:
        last = str(frames - 1)
        rows = [
            [f"last frame, {frames}-frame movie [ms]",
             fmt_ms(results["fieldmovie"]["1"]["access_s"][last]),
             fmt_ms(pp.get("cases", {}).get("1", {}).get("access_s", {}).get(last))],
            [f"last frame, {ol['frames']}-frame movie [ms]", fmt_ms(ol["last_s"]),
             fmt_ms(pl["last_s"]) if pl else None],
            [f"first frame, {ol['frames']}-frame movie [ms]", fmt_ms(ol["first_s"]),
             fmt_ms(pl["first_s"]) if pl else None],
            [f"write {ol['frames']} frames, 1 run [s]", fmt_s(ol["write_s"]),
             fmt_s(pl["write_s"]) if pl else None],
            [f"file size, {ol['frames']} frames [MB]", fmt_mb(ol["size_bytes"]),
             fmt_mb(pl["size_bytes"]) if pl else None],
        ]  # fmt: skip
        lines += ["", f"== last-frame access vs movie length (1 field; the {frames} frames "
                      "repeated) ==", table(rows, ["", "fieldmovie", "py-pde"])]  # fmt: skip
        lines.append(f"frames read back: fieldmovie len(reader) = {ol['len']}"
                     + (f", py-pde len(storage) = {pl['len']}" if pl else ""))  # fmt: skip
        if pl and pl.get("problem"):
            lines.append(f"py-pde: {pl['problem']}")
    rows = []
    for c in results["checks"]:
        v, r = c["value"], c.get("cpu_ratio")
        rows.append([c["target"], "-" if v is None else f"{v:.2f}", f"{c['op']} {c['limit']}",
                     c["verdict"], "" if r is None else f"{r:.2f}"])  # fmt: skip
    lines += ["", "== targets (verdict on wall time; same ratio of CPU time for information) ==",
              table(rows, ["target", "value", "target", "verdict", "CPU ratio"])]  # fmt: skip
    busy = results["machine"].get("busy")
    if busy:
        lines.append(f"WARNING: {busy}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="one repetition instead of --reps")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per timing (best is kept)")
    ap.add_argument("--long-frames", type=int, default=1000,
                    help="length of the movie for the last-frame test (0: skip)")  # fmt: skip
    ap.add_argument("--noise", type=float, default=1e-3, help="std of the added noise")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pypde-python", default=None,
                    help="interpreter with py-pde (default: $FIELDMOVIE_PYPDE_PYTHON, else "
                         f"{PYPDE_DEFAULT}, else this one)")  # fmt: skip
    ap.add_argument("--no-pypde", action="store_true", help="skip the py-pde anchor")
    ap.add_argument("--json", type=Path, default=None, help="save all figures here")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the movies here")
    args = ap.parse_args(argv)
    reps = 1 if args.quick else args.reps
    frames, size = args.frames, args.size
    if frames < 2:
        ap.error("--frames must be at least 2")
    indices = sorted({0, frames // 2, frames - 1})
    long_frames = args.long_frames if args.long_frames > frames else 0

    load_before = machine_load()
    load1 = os.getloadavg()[0]
    print(f"machine: {load_before}")
    print(f"config: {frames} frames, {size}x{size}, 16 bit, best of {reps}, noise {args.noise}")

    if args.workdir:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        work = Path(tempfile.mkdtemp(prefix="bench_codec_"))
        cleanup = True
    try:
        t0 = time.perf_counter()
        data = smooth_fields(frames, size, 2, seed=args.seed, noise=args.noise)
        npy = work / "data.npy"
        np.save(npy, data)
        print(f"data: {data.shape} float64 in [{data.min():.3f}, {data.max():.3f}], "
              f"made in {time.perf_counter() - t0:.1f} s -> {npy}")  # fmt: skip

        results: dict[str, Any] = {
            "config": {"frames": frames, "size": size, "bits": BITS, "vmin": VMIN, "vmax": VMAX,
                       "reps": reps, "noise": args.noise, "seed": args.seed,
                       "indices": indices, "long_frames": long_frames},
            "machine": {**machine_info(), "load_before": load_before},
            "fieldmovie": {},
        }  # fmt: skip
        for nf in (1, 2):
            print(f"fieldmovie + ffmpeg, {nf} field(s) ...", flush=True)
            results["fieldmovie"][str(nf)] = bench_ours(work, data, nf, reps, indices)
        if long_frames:
            print(f"fieldmovie, {long_frames}-frame movie ...", flush=True)
            results["fieldmovie_long"] = bench_ours_long(work, data, long_frames, reps)

        python, why = find_pypde(args.pypde_python, args.no_pypde)
        results["pypde_interpreter"] = why
        if python is None:
            print(f"py-pde anchor SKIPPED: {why}")
            results["pypde"] = None
        else:
            print(f"py-pde anchor: {why} ...", flush=True)
            cfg = {"npy": str(npy), "workdir": str(work), "reps": reps, "dt": DT,
                   "vmin": VMIN, "vmax": VMAX, "cases": [1, 2], "indices": indices,
                   "long_frames": long_frames}  # fmt: skip
            pp, msg = run_pypde(python, cfg)
            results["pypde"] = pp
            if pp is None:
                print(f"py-pde anchor SKIPPED: {msg}")
                results["pypde_error"] = msg

        results["checks"] = checks(results)
        results["machine"]["load_after"] = machine_load()
        load1 = max(load1, os.getloadavg()[0])
        if load1 > 0.5 * (os.cpu_count() or 1):
            results["machine"]["busy"] = (
                f"1-minute load average reached {load1:.1f} on {os.cpu_count()} cores: other "
                "processes compete for the CPU, so wall times (and the PASS/MISS of ratios "
                "that depend on using both cores) are unreliable; compare the CPU ratios."
            )
        print(report(results))
        print(f"\nmachine after: {results['machine']['load_after']}")
        print(
            "notes: times are wall clock, best of N. fieldmovie read-all = reader.to_array() on "
            "an opened reader; py-pde read-all = storage.data (metadata read before). ffmpeg "
            "decode limit = rawvideo gray16le to a pipe read by Python in 1 MiB chunks. File "
            "sizes are the movie only (no .times)."
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
            print(f"figures saved to {args.json}")
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

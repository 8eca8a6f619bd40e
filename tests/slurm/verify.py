"""Checks for tests/slurm/run.sh.

    python verify.py evidence  --log SNAKEMAKE_LOG [--expect RULE=N ...] [--cpus RULE=N ...]
                               [--prov DIR]
        Did the jobs really run in SLURM? Parses the job ids that the slurm
        executor reported, checks the kept per-job SLURM logs, asks the
        controller (squeue --states=all, no accounting needed) about every id
        and, for the stand-in, matches the SLURM_JOB_ID each job recorded itself.

    python verify.py compare --mode standin|real [--subset] SLURM_WORKDIR LOCAL_WORKDIR
        Are the results of the SLURM run the same as those of the local run?
        (--subset: the SLURM run made only some of the local run's files)

Exit status 0 = all good, 1 = a check failed (problems are printed).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?\s*$")
RUN_ID = re.compile(r"SLURM run ID: (\S+)")
# per-job log directory: <logdir>/rule_<rule>/<wildcards>/<id>.log or group_<group>_.../<id>.log
LOG_KIND = re.compile(r"/(rule|group)_([^/]+)/")


def fail(problems: list[str], what: str) -> int:
    if problems:
        print(f"verify {what}: FAILED", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"verify {what}: OK")
    return 0


def parse_pairs(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items or []:
        k, _, v = item.partition("=")
        out[k] = int(v)
    return out


# --------------------------------------------------------------------------- evidence
def squeue_states(run_id: str) -> dict[str, dict[str, str]]:
    fmt = "%i|%T|%C|%m|%j"
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_id, f"--format={fmt}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    jobs = {}
    for line in out.splitlines():
        jid, state, cpus, mem, name = line.strip().split("|")
        jobs[jid] = {"state": state, "cpus": cpus, "mem": mem, "name": name}
    return jobs


def job_stats(text: str) -> dict[str, int]:
    """The first 'Job stats' table of a snakemake log: rule -> number of jobs."""
    lines = text.splitlines()
    try:
        i = lines.index("Job stats:")
    except ValueError:
        return {}
    stats = {}
    for line in lines[i + 3 :]:  # header, dashes
        parts = line.split()
        if len(parts) < 2 or parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


def cmd_evidence(args: argparse.Namespace) -> int:
    problems: list[str] = []
    text = Path(args.log).read_text(errors="replace")
    run_ids = RUN_ID.findall(text)
    submissions = []  # (jobid, logpath, kind, name)
    for line in text.splitlines():
        m = SUBMITTED.search(line)
        if m:
            jid, log = m.group(1), m.group(2)
            k = LOG_KIND.search(log)
            kind, name = (k.group(1), k.group(2)) if k else ("?", "?")
            submissions.append((jid, log, kind, name))

    if len(set(run_ids)) != 1:
        problems.append(f"expected one 'SLURM run ID' line in {args.log}, found {run_ids}")
    if not submissions:
        problems.append(f"no 'submitted with SLURM jobid' lines in {args.log}")
        return fail(problems, "evidence")
    ids = [s[0] for s in submissions]
    if len(set(ids)) != len(ids):
        problems.append(f"SLURM job ids reported twice: {sorted(ids)}")

    # 1. the per-job SLURM logs (kept with --slurm-keep-successful-logs)
    for jid, log, _kind, _name in submissions:
        p = Path(log)
        if not p.is_file():
            problems.append(f"SLURM log of job {jid} missing: {log}")
            continue
        body = p.read_text(errors="replace")
        if "--executor slurm-jobstep" not in body:
            problems.append(f"{log}: no 'slurm-jobstep' command, not a snakemake job step")
        if not re.search(r"\d+ of \d+ steps \(100%\) done", body):
            problems.append(f"{log}: job step did not report '100% done'")

    # 2. the controller knows every id, under this run's job name, as COMPLETED
    if run_ids:
        try:
            known = squeue_states(run_ids[0])
        except (subprocess.SubprocessError, OSError) as e:
            problems.append(f"squeue failed: {e}")
            known = {}
        for jid, _log, _kind, name in submissions:
            info = known.get(jid)
            if info is None:
                problems.append(f"job {jid} ({name}) unknown to slurmctld under {run_ids[0]}")
            elif info["state"] != "COMPLETED":
                problems.append(f"job {jid} ({name}) is {info['state']}, not COMPLETED")
        extra = set(known) - set(ids)
        if extra:
            problems.append(
                f"slurmctld has jobs of this run that snakemake did not report: {extra}"
            )
        for rule, cpus in parse_pairs(args.cpus).items():
            for jid, _log, kind, name in submissions:
                if kind == "rule" and name == rule and known.get(jid, {}).get("cpus") != str(cpus):
                    problems.append(
                        f"job {jid} ({rule}) got {known.get(jid, {}).get('cpus')} CPUs, "
                        f"expected {cpus} (threads -> --cpus-per-task)"
                    )

    # 3. submissions per rule/group
    per_name = Counter(f"{kind}_{name}" for _jid, _log, kind, name in submissions)
    for key, n in parse_pairs(args.expect).items():
        key = key if key.startswith(("rule_", "group_")) else f"rule_{key}"
        if per_name.get(key, 0) != n:
            problems.append(f"{key}: {per_name.get(key, 0)} SLURM submissions, expected {n}")
    if args.job_stats:
        # every rule of snakemake's "Job stats" table was submitted once per job,
        # or not at all (a localrule, e.g. `all`)
        stats = job_stats(text)
        if not stats:
            problems.append("no 'Job stats' table in the log")
        for rule, n in stats.items():
            got = per_name.get(f"rule_{rule}", 0)
            if got not in (0, n):
                problems.append(f"rule {rule}: {got} SLURM submissions for {n} jobs")
        local = sorted(r for r in stats if f"rule_{r}" not in per_name)
        print(f"rules not submitted (localrules): {', '.join(local) or 'none'}")
    print("SLURM submissions: " + ", ".join(f"{k}={v}" for k, v in sorted(per_name.items())))
    print(f"SLURM job ids: {' '.join(sorted(ids, key=int))}")

    # 4. stand-in only: every job wrote down the SLURM_JOB_ID it ran under
    if args.prov:
        seen = set()
        for f in sorted(Path(args.prov).glob("*.json")):
            info = json.loads(f.read_text())
            jid = info.get("SLURM_JOB_ID")
            if jid not in ids:
                problems.append(f"{f.name}: SLURM_JOB_ID={jid} is not one snakemake submitted")
            seen.add(jid)
            if f.name == "join_segments.json" and info.get("SLURM_CPUS_PER_TASK") != str(
                info.get("threads")
            ):
                problems.append(f"{f.name}: SLURM_CPUS_PER_TASK != threads: {info}")
        if not seen:
            problems.append(f"no provenance files in {args.prov}")
        missing = set(ids) - seen
        if missing:
            problems.append(f"jobs without provenance record: {missing}")
    return fail(problems, "evidence")


# --------------------------------------------------------------------------- compare
# Paths that legitimately differ between a SLURM and a local run.
ALWAYS_IGNORED = [".snakemake/*", "prov/*", "logs/*", "log/*", "benchmarks/*", "*.log"]


def file_set(root: Path, ignore: list[str]) -> dict[str, Path]:
    files = {}
    for p in root.rglob("*"):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            if not any(fnmatch.fnmatch(rel, pat) for pat in ignore):
                files[rel] = p
    return files


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compare_bytes(a: Path, b: Path, rel: str, problems: list[str]) -> None:
    if sha256(a) != sha256(b):
        problems.append(f"{rel}: contents differ")


def same_files(a: dict[str, Path], b: dict[str, Path], subset: bool, problems: list[str]) -> None:
    """a (SLURM) and b (local) hold the same files; with subset, a may hold fewer."""
    only_a, only_b = set(a) - set(b), set(b) - set(a)
    if only_a or (only_b and not subset):
        problems.append(f"different files: only SLURM {only_a}, only local {only_b}")


def compare_standin_results(slurm_dir: Path, local_dir: Path, subset: bool = False) -> list[str]:
    """Stand-in workflow: deterministic text files, so byte equality."""
    problems: list[str] = []
    a = file_set(slurm_dir, ALWAYS_IGNORED)
    b = file_set(local_dir, ALWAYS_IGNORED)
    same_files(a, b, subset, problems)
    for rel in sorted(set(a) & set(b)):
        compare_bytes(a[rel], b[rel], rel, problems)
    if not a:
        problems.append("no result files at all")
    print(f"compared {len(set(a) & set(b))} files")
    return problems


MOVIE_SUFFIXES = {".mkv", ".nut", ".avi", ".mov", ".mp4"}


def decoded_frames_digest(movie: Path) -> str:
    """sha256 of all decoded video frames, in the stream's own pixel format."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found")
    proc = subprocess.Popen(
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(movie), "-map", "0:v", "-f", "rawvideo", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    h = hashlib.sha256()
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
        h.update(chunk)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not decode {movie}: {err.decode(errors='replace')}")
    return h.hexdigest()


# ============================================================================
# REAL-WORKFLOW HOOK: comparison of the real sweep's results.
#
# Called by run.sh (`verify.py compare --mode real SLURM_WORKDIR LOCAL_WORKDIR`)
# after the same config ran once through SLURM and once locally. Returns a list
# of human-readable problems; empty means "same results". Rules:
#   * the same set of files (outside .snakemake/, logs/, benchmarks/, prov/);
#   * FFV1 movies (*.mkv): decoded with fieldmovie.MovieReader, fields, times and
#     metadata must be identical (the simulation is deterministic and FFV1 is
#     lossless; container bytes may differ, e.g. muxing metadata);
#   * other videos (preview.mp4): decoded frames compared (ffmpeg rawvideo);
#   * *.npz (restart states): every array identical (zip members carry dates);
#   * everything else: byte-identical.
# Files that legitimately differ between two runs go into REAL_IGNORED (globs,
# relative to the working directory) or FIELDMOVIE_SLURM_COMPARE_IGNORE
# (comma-separated globs) - say why next to them.
# ============================================================================
REAL_IGNORED: list[str] = []


def compare_fieldmovie(a: Path, b: Path, rel: str, problems: list[str]) -> bool:
    """Compare two fieldmovie movies by content. False if fieldmovie is unavailable."""
    try:
        import numpy as np

        from fieldmovie import MovieReader
    except ImportError:
        return False
    ra, rb = MovieReader(a), MovieReader(b)
    if ra.info != rb.info:
        problems.append(f"{rel}: metadata differs: {ra.info} != {rb.info}")
    if not np.array_equal(ra.times, rb.times):
        problems.append(f"{rel}: frame times differ")
    xa, xb = ra.to_array(), rb.to_array()
    if xa.shape != xb.shape or not np.array_equal(xa, xb):
        problems.append(f"{rel}: decoded fields differ (shapes {xa.shape} / {xb.shape})")
    return True


def compare_npz(a: Path, b: Path, rel: str, problems: list[str]) -> None:
    import numpy as np

    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if sorted(za.files) != sorted(zb.files):
            problems.append(f"{rel}: different arrays {za.files} / {zb.files}")
            return
        for k in za.files:
            if not np.array_equal(za[k], zb[k]):
                problems.append(f"{rel}: array {k!r} differs")


def compare_real_results(slurm_dir: Path, local_dir: Path, subset: bool = False) -> list[str]:
    problems: list[str] = []
    extra = [p for p in os.environ.get("FIELDMOVIE_SLURM_COMPARE_IGNORE", "").split(",") if p]
    ignore = ALWAYS_IGNORED + REAL_IGNORED + extra
    a = file_set(slurm_dir, ignore)
    b = file_set(local_dir, ignore)
    same_files(a, b, subset, problems)
    kinds: Counter[str] = Counter()
    for rel in sorted(set(a) & set(b)):
        suffix = Path(rel).suffix.lower()
        try:
            if suffix == ".mkv" and compare_fieldmovie(a[rel], b[rel], rel, problems):
                kinds["fieldmovie"] += 1
            elif suffix in MOVIE_SUFFIXES:
                kinds["video frames"] += 1
                if decoded_frames_digest(a[rel]) != decoded_frames_digest(b[rel]):
                    problems.append(f"{rel}: decoded frames differ")
            elif suffix == ".npz":
                kinds["npz"] += 1
                compare_npz(a[rel], b[rel], rel, problems)
            else:
                kinds["bytes"] += 1
                compare_bytes(a[rel], b[rel], rel, problems)
        except Exception as e:  # a reader failing on one side is a difference too
            problems.append(f"{rel}: could not compare: {type(e).__name__}: {e}")
    if not a:
        problems.append("no result files at all")
    print(
        f"compared {sum(kinds.values())} files: " + ", ".join(f"{k} {v}" for k, v in kinds.items())
    )
    return problems


def cmd_compare(args: argparse.Namespace) -> int:
    slurm_dir, local_dir = Path(args.slurm_dir), Path(args.local_dir)
    if args.mode == "standin":
        problems = compare_standin_results(slurm_dir, local_dir, args.subset)
    else:
        problems = compare_real_results(slurm_dir, local_dir, args.subset)
    return fail(problems, f"compare ({args.mode})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("evidence")
    ev.add_argument("--log", required=True, help="snakemake's output of the SLURM run")
    ev.add_argument(
        "--expect", nargs="*", help="RULE=N: N SLURM jobs for RULE (group_G=N for groups)"
    )
    ev.add_argument("--cpus", nargs="*", help="RULE=N: jobs of RULE must have N CPUs")
    ev.add_argument("--prov", help="stand-in provenance dir (prov/)")
    ev.add_argument(
        "--job-stats",
        action="store_true",
        help="each rule in the log's Job stats table: all jobs submitted, or none (local)",
    )
    cp = sub.add_parser("compare")
    cp.add_argument("--mode", choices=["standin", "real"], required=True)
    cp.add_argument(
        "--subset", action="store_true", help="the SLURM run made only part of the outputs"
    )
    cp.add_argument("slurm_dir")
    cp.add_argument("local_dir")
    args = ap.parse_args()
    return cmd_evidence(args) if args.cmd == "evidence" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())

"""The Snakemake workflow end to end: real Snakemake, real FFmpeg, tiny sweeps in tmp dirs.

Covers the contract of the segment workflow: output layout and point names, frame times,
joined movie = segments in order, validation; resume after SIGKILL of Snakemake
(``--unlock`` + ``--rerun-incomplete`` redoes only unfinished segments, results identical
to an uninterrupted run); extending and lowering ``t_end``; a simulation that produces NaN;
a dry run of a 1000-segment sweep; and finally the default ``all`` target.

Runs request the validation reports (or movies) explicitly, so they do not depend on the
analysis stage; only ``test_default_target_all`` runs ``all``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from workflow_helpers import (
    BackgroundSnakemake,
    SnakemakeRun,
    decode,
    expected_times,
    file_ids,
    hidden_files,
    point_dir,
    run_snakemake,
    segment_files,
    wait_for_group_exit,
    write_config,
)

from fieldmovie import MovieReader
from fieldmovie.movie.sidecar import read_times
from fieldmovie.simulation.segment import load_state

pytestmark = pytest.mark.slow  # every test here starts Snakemake

# -- end to end ------------------------------------------------------------------------------
E2E = "e2e"
E2E_SWEEP = {
    "model": "gray_scott",
    "grid": {"shape": [16, 16], "length": [0.4, 0.4]},
    # one swept and one single parameter; 0.030 must be written "0.03"
    "parameters": {"k": 0.062, "F": [0.030, 0.04]},
    "seeds": [3],
    # t_end is not a multiple of T = 80: ceil(200 / 80) = 3 segments
    "time": {"frame_interval": 20.0, "frames_per_segment": 4, "t_end": 200.0},
    "storage": {"bits": 16, "range": {"u": [0.0, 1.0], "v": [0.0, 0.6]}},
    # only for test_default_target_all: keep the analysis stage small
    "analysis": {"preview": False, "snapshots": 0},
}
E2E_POINTS = ["F~0.03_k~0.062_seed~3", "F~0.04_k~0.062_seed~3"]  # written by hand
E2E_SEGMENTS = 3


def validation_targets(sweep: str, points: list[str]) -> list[str]:
    return [f"results/{sweep}/{p}/movie.validation.json" for p in points]


def movie_targets(sweep: str, points: list[str]) -> list[str]:
    return [f"results/{sweep}/{p}/movie.mkv" for p in points]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory) -> tuple[Path, SnakemakeRun]:
    workdir = tmp_path_factory.mktemp("e2e")
    write_config(workdir, {E2E: E2E_SWEEP})
    run = run_snakemake(workdir, *validation_targets(E2E, E2E_POINTS))
    return workdir, run


def test_end_to_end_outputs_and_point_names(e2e):
    workdir, run = e2e
    sweep_dir = workdir / "results" / E2E
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == E2E_POINTS
    for point in E2E_POINTS:
        base = sweep_dir / point
        for k in range(E2E_SEGMENTS):
            for f in segment_files(workdir, E2E, point, k):
                assert f.is_file() and f.stat().st_size > 0, f
        assert not (base / "segments" / f"{E2E_SEGMENTS:04d}.mkv").exists()
        for name in ("movie.mkv", "movie.mkv.times", "movie.validation.json"):
            assert (base / name).is_file(), base / name
        assert hidden_files(base / "segments") == []
        assert hidden_files(base) == []
    # exactly the jobs needed, each once
    assert sorted(run.segments_run()) == [(p, k) for p in E2E_POINTS for k in range(E2E_SEGMENTS)]
    assert sorted(run.rules_run()) == sorted(
        ["simulate_segment"] * 6 + ["join_segments"] * 2 + ["validate_movie"] * 2
    )
    # the run's summary at the end
    assert f"fieldmovie: sweep '{E2E}': 2 points, 2 validated movies; segments 6/6 done" in (
        run.output
    )


def test_end_to_end_outputs_respect_umask(e2e):
    # results are written under temporary names and renamed: they must still get the
    # normal permissions of a new file (0o666 minus the umask), not mkstemp's 0o600
    workdir, _ = e2e
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    base = point_dir(workdir, E2E, E2E_POINTS[0])
    for f in [*segment_files(workdir, E2E, E2E_POINTS[0], 0), base / "movie.mkv",
              base / "movie.mkv.times", base / "movie.validation.json"]:  # fmt: skip
        assert f.stat().st_mode & 0o777 == expected, (f, oct(f.stat().st_mode))


@pytest.mark.parametrize("point", E2E_POINTS)
def test_end_to_end_movie(e2e, point):
    workdir, _ = e2e
    base = point_dir(workdir, E2E, point)
    fps, interval = E2E_SWEEP["time"]["frames_per_segment"], E2E_SWEEP["time"]["frame_interval"]
    frames, times = decode(base / "movie.mkv")
    assert frames.shape == (fps * E2E_SEGMENTS, 2, 16, 16)
    assert times.tolist() == expected_times(interval, fps, E2E_SEGMENTS)
    assert np.isfinite(frames).all()
    assert not np.array_equal(frames[0], frames[-1])  # something happened

    # the joined movie holds the segments' frames and times in order
    seg_frames, seg_times = [], []
    for k in range(E2E_SEGMENTS):
        f, t = decode(base / "segments" / f"{k:04d}.mkv")
        assert t.tolist() == expected_times(interval, fps, E2E_SEGMENTS)[k * fps : (k + 1) * fps]
        seg_frames.append(f)
        seg_times.append(t)
        # segment k saves the exact state at (k+1)*T, chained to the next segment
        state, _, t_state, settings = load_state(base / "segments" / f"{k:04d}.state.npz")
        assert t_state == (k + 1) * fps * interval
        assert state.shape == (2, 16, 16) and state.dtype == np.float64
        assert settings["point"] == point
    assert np.array_equal(frames, np.concatenate(seg_frames))
    assert np.array_equal(times, np.concatenate(seg_times))

    reader = MovieReader(base / "movie.mkv")
    assert reader.components == ["u", "v"] and reader.bits == 16
    assert reader.info["point"] == point and reader.info["sweep"] == E2E
    assert reader.info["parameters"]["k"] == 0.062

    report = json.loads((base / "movie.validation.json").read_text())
    assert report["ok"] is True and report["problems"] == []
    assert report["frames"] == report["expected_frames"] == fps * E2E_SEGMENTS
    assert report["time_range"] == [times[0], times[-1]]


# -- extend and lower t_end ------------------------------------------------------------------
def test_extend_runs_only_new_segments_and_lowering_deletes_nothing(tmp_path):
    sweep = {
        "model": "diffusion",
        "grid": {"shape": [16, 16]},
        "parameters": {"D": 0.5},
        "time": {"frame_interval": 0.5, "frames_per_segment": 3, "t_end": 3.0},  # T = 1.5
        "storage": {"range": {"c": [-5.0, 5.0]}},
    }
    point = "D~0.5_seed~0"
    base = point_dir(tmp_path, "ext", point)
    target = movie_targets("ext", [point])

    write_config(tmp_path, {"ext": sweep})
    first = run_snakemake(tmp_path, *target)
    assert first.segments_run() == {(point, 0), (point, 1)}
    old = file_ids(f for k in (0, 1) for f in segment_files(tmp_path, "ext", point, k))
    old_movie = file_ids([base / "movie.mkv"])
    old_frames, _ = decode(base / "movie.mkv")
    assert len(old_frames) == 6

    sweep["time"]["t_end"] = 6.0  # 2T -> 4T
    write_config(tmp_path, {"ext": sweep})
    second = run_snakemake(tmp_path, *target)
    assert second.segments_run() == {(point, 2), (point, 3)}, second.describe()
    assert sorted(second.rules_run()) == ["join_segments", "simulate_segment", "simulate_segment"]
    assert file_ids(old) == old, "finished segments were rewritten"
    assert file_ids([base / "movie.mkv"]) != old_movie, "the movie was not joined again"
    frames, times = decode(base / "movie.mkv")
    assert times.tolist() == expected_times(0.5, 3, 4)
    assert np.array_equal(frames[:6], old_frames)

    all_four = file_ids(f for k in range(4) for f in segment_files(tmp_path, "ext", point, k))
    sweep["time"]["t_end"] = 1.5  # down to 1T
    write_config(tmp_path, {"ext": sweep})
    third = run_snakemake(tmp_path, *target)
    assert third.segments_run() == set(), third.describe()
    assert file_ids(all_four) == all_four, "lowering t_end touched computed segments"
    # README: lowering t_end joins fewer segments
    assert third.rules_run() == ["join_segments"]
    frames, times = decode(base / "movie.mkv")
    assert times.tolist() == expected_times(0.5, 3, 1)
    assert np.array_equal(frames, old_frames[:3])


# -- NaN -------------------------------------------------------------------------------------
def test_nan_fails_its_segment_and_keeps_earlier_segments(tmp_path):
    sweep = {
        "model": "models_for_tests:NanAfter",
        "grid": {"shape": [8, 8]},
        "parameters": {"t_nan": 3.5},  # T = 1.5: segment 2 (t = 3.0 .. 4.5) meets NaN at 3.5
        "time": {"frame_interval": 0.5, "frames_per_segment": 3, "t_end": 4.5},
        "storage": {"bits": 8, "range": {"c": [-1.0, 1.0]}},
    }
    point = "t_nan~3.5_seed~0"
    write_config(tmp_path, {"nan": sweep})
    target = validation_targets("nan", [point])
    run = run_snakemake(tmp_path, *target, check=False)
    assert run.returncode != 0, run.describe()

    # the error names point, segment and time (in Snakemake's output and in the job's log)
    log = (tmp_path / "logs" / "nan" / point / "segment_0002.log").read_text()
    for text in (run.output, log):
        assert "NaN" in text or "non-finite" in text
        assert point in text
        assert re.search(r"segment\W{0,3}2\b", text), text[-3000:]
        assert re.search(r"\bt\s*=\s*3\.5\b", text), text[-3000:]

    segments = point_dir(tmp_path, "nan", point) / "segments"
    for k in (0, 1):
        frames, times = decode(segments / f"{k:04d}.mkv")
        assert times.tolist() == expected_times(0.5, 3, 3)[3 * k : 3 * k + 3]
        assert np.isfinite(frames).all()
        assert load_state(segments / f"{k:04d}.state.npz")[2] == 1.5 * (k + 1)
    assert sorted(p.name for p in segments.iterdir()) == [
        "0000.mkv", "0000.mkv.times", "0000.state.npz",
        "0001.mkv", "0001.mkv.times", "0001.state.npz",
    ]  # fmt: skip
    assert not (segments.parent / "movie.mkv").exists()

    # running again fails again in segment 2 only; the good segments are not recomputed
    before = file_ids(f for k in (0, 1) for f in segment_files(tmp_path, "nan", point, k))
    again = run_snakemake(tmp_path, *target, check=False)
    assert again.returncode != 0
    assert again.segments_run() == {(point, 2)}, again.describe()
    assert file_ids(before) == before
    assert hidden_files(segments) == []


# -- resume after SIGKILL --------------------------------------------------------------------
RESUME = "resume"
RESUME_SEGMENTS = 4
RESUME_SWEEP = {
    "model": "models_for_tests:SlowDiffusion",  # sleeps $FIELDMOVIE_TEST_SLEEP per frame
    "grid": {"shape": [16, 16]},
    "parameters": {"D": [0.25, 1.0]},
    "time": {"frame_interval": 0.25, "frames_per_segment": 3, "t_end": 0.75 * RESUME_SEGMENTS},
    "storage": {"range": {"c": [-5.0, 5.0]}},
}
RESUME_POINTS = ["D~0.25_seed~0", "D~1.0_seed~0"]
ALL_RESUME_SEGMENTS = {(p, k) for p in RESUME_POINTS for k in range(RESUME_SEGMENTS)}
SLEEP = {"FIELDMOVIE_TEST_SLEEP": "0.15"}  # a segment job writes for >= 0.45 s


@pytest.fixture(scope="module")
def resume_reference(tmp_path_factory):
    """Decoded movies of an uninterrupted run (no sleeping: same results, faster).

    The run starts in the background when the first resume test starts; calling the
    fixture's value waits for it.
    """
    workdir = tmp_path_factory.mktemp("reference")
    write_config(workdir, {RESUME: RESUME_SWEEP})
    background = BackgroundSnakemake(workdir, *movie_targets(RESUME, RESUME_POINTS))
    movies: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def result() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if not movies:
            run = background.wait()
            assert run.returncode == 0, run.describe()
            assert run.segments_run() == ALL_RESUME_SEGMENTS
            for p in RESUME_POINTS:
                movies[p] = decode(point_dir(workdir, RESUME, p) / "movie.mkv")
        return movies

    yield result
    background.cleanup()


def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete (running jobs) in ``.snakemake/incomplete``."""
    root = workdir / ".snakemake" / "incomplete"
    found = set()
    for dirpath, _, names in os.walk(root):
        for name in names:
            rel = Path(dirpath, name).relative_to(root)
            b64 = "".join(part.lstrip("@") for part in rel.parts)
            try:
                found.add(base64.urlsafe_b64decode(b64).decode())
            except ValueError:  # e.g. "migration_underway"
                continue
    return found


def complete_segments(workdir: Path) -> set[tuple[str, int]]:
    """Segments whose three outputs exist and none is marked incomplete."""
    marked = incomplete_outputs(workdir)
    done = set()
    for point, k in ALL_RESUME_SEGMENTS:
        files = segment_files(workdir, RESUME, point, k)
        rel = {str(f.relative_to(workdir)) for f in files}
        if all(f.exists() for f in files) and not rel & marked:
            done.add((point, k))
    return done


def assert_no_partial_segment_looks_complete(workdir: Path) -> None:
    """Every file under a segment's final name is complete."""
    fps = RESUME_SWEEP["time"]["frames_per_segment"]
    for point, k in ALL_RESUME_SEGMENTS:
        movie, times, state = segment_files(workdir, RESUME, point, k)
        if movie.exists():
            frames, t = decode(movie)
            assert len(frames) == len(t) == fps, movie
        if times.exists():
            assert len(read_times(times)) == fps, times
        if state.exists():
            assert load_state(state)[2] == 0.75 * (k + 1), state


def _wait_until_mid_run(workdir: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until Snakemake has a finished segment and another one is being written."""
    seg_dirs = [point_dir(workdir, RESUME, p) / "segments" for p in RESUME_POINTS]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "Snakemake ended before it could be killed"
        writing = [d for d in seg_dirs if d.is_dir() and hidden_files(d)]
        if writing and complete_segments(workdir):
            return
        time.sleep(0.02)
    raise AssertionError("no segment completed in time")


@pytest.mark.parametrize("orphans", ["finish", "killed"])
def test_resume_after_sigkill(tmp_path, resume_reference, orphans):
    """SIGKILL Snakemake mid-run, then ``--unlock`` and ``--rerun-incomplete``.

    ``finish``: only Snakemake is killed; its running jobs go on as orphans and finish
    (their outputs stay marked incomplete). ``killed``: the jobs die with it (lost node).
    """
    write_config(tmp_path, {RESUME: RESUME_SWEEP})
    targets = movie_targets(RESUME, RESUME_POINTS)
    killed = BackgroundSnakemake(tmp_path, *targets, env=SLEEP)
    try:
        _wait_until_mid_run(tmp_path, killed.proc)
        if orphans == "finish":
            os.kill(killed.proc.pid, signal.SIGKILL)
            killed.proc.wait()
            left = wait_for_group_exit(killed.pgid, 60)
            assert not left, f"orphaned jobs still running after 60 s: {left}"
        else:
            os.killpg(killed.pgid, signal.SIGKILL)
            killed.proc.wait()
            assert not wait_for_group_exit(killed.pgid, 10)
    finally:
        killed.cleanup()  # no stray process survives the test
    assert killed.proc.returncode == -signal.SIGKILL

    assert_no_partial_segment_looks_complete(tmp_path)
    finished = complete_segments(tmp_path)
    assert finished, "no segment was complete when Snakemake was killed"
    assert finished != ALL_RESUME_SEGMENTS, "the kill came after the last segment"
    finished_ids = file_ids(
        f for point, k in finished for f in segment_files(tmp_path, RESUME, point, k)
    )

    run_snakemake(tmp_path, "--unlock")
    resumed = run_snakemake(tmp_path, "--rerun-incomplete", *targets)
    assert resumed.segments_run() == ALL_RESUME_SEGMENTS - finished, resumed.describe()
    assert file_ids(finished_ids) == finished_ids, "finished segments were recomputed"
    assert_no_partial_segment_looks_complete(tmp_path)

    reference = resume_reference()
    for point in RESUME_POINTS:
        frames, times = decode(point_dir(tmp_path, RESUME, point) / "movie.mkv")
        ref_frames, ref_times = reference[point]
        assert np.array_equal(times, ref_times)
        assert np.array_equal(frames, ref_frames), point


def test_resume_after_ctrl_c(tmp_path, resume_reference):
    """Ctrl-C (SIGINT to the foreground process group) mid-run, then a plain ``snakemake``."""
    write_config(tmp_path, {RESUME: RESUME_SWEEP})
    targets = movie_targets(RESUME, RESUME_POINTS)
    interrupted = BackgroundSnakemake(tmp_path, *targets, env=SLEEP)
    try:
        _wait_until_mid_run(tmp_path, interrupted.proc)
        os.killpg(interrupted.pgid, signal.SIGINT)
        interrupted.proc.wait(timeout=120)
        assert not wait_for_group_exit(interrupted.pgid, 30)
    finally:
        interrupted.cleanup()
    assert interrupted.proc.returncode != 0

    assert_no_partial_segment_looks_complete(tmp_path)
    finished = complete_segments(tmp_path)
    assert finished != ALL_RESUME_SEGMENTS, "the interrupt came after the last segment"
    finished_ids = file_ids(
        f for point, k in finished for f in segment_files(tmp_path, RESUME, point, k)
    )
    resumed = run_snakemake(tmp_path, *targets)  # no --unlock, no --rerun-incomplete
    assert resumed.segments_run() == ALL_RESUME_SEGMENTS - finished, resumed.describe()
    assert file_ids(finished_ids) == finished_ids, "finished segments were recomputed"
    reference = resume_reference()
    for point in RESUME_POINTS:
        frames, times = decode(point_dir(tmp_path, RESUME, point) / "movie.mkv")
        assert np.array_equal(times, reference[point][1])
        assert np.array_equal(frames, reference[point][0]), point


# -- dry run of a big sweep ------------------------------------------------------------------
def test_dry_run_of_1000_segments(tmp_path, record_property):
    sweep = {
        "model": "diffusion",
        "grid": {"shape": [16, 16]},
        "parameters": {"D": [0.1 * (i + 1) for i in range(10)]},
        "time": {"frame_interval": 0.5, "frames_per_segment": 2, "t_end": 100.0},  # 100 segments
        "storage": {"range": {"c": [-5.0, 5.0]}},
    }
    write_config(tmp_path, {"big": sweep})
    t0 = time.perf_counter()
    run = run_snakemake(tmp_path, "-n")
    seconds = time.perf_counter() - t0
    record_property("dry_run_1000_segments_seconds", round(seconds, 2))
    print(f"dry run of 1000 segments: {seconds:.2f} s")
    m = re.search(r"^simulate_segment\s+(\d+)\s*$", run.output, re.MULTILINE)
    assert m and int(m.group(1)) == 1000, run.describe()
    assert len(run.segments_run()) == 1000
    assert not (tmp_path / "results").exists()


# -- the default target (runs last: it includes the analysis stage) ---------------------------
def test_default_target_all(e2e):
    """``snakemake`` without targets finishes in the end-to-end folder without redoing
    any segment, join or validation."""
    workdir, _ = e2e
    before = file_ids(
        f
        for p in E2E_POINTS
        for k in range(E2E_SEGMENTS)
        for f in segment_files(workdir, E2E, p, k)
    )
    run = run_snakemake(workdir)
    assert not {"simulate_segment", "join_segments", "validate_movie"} & set(run.rules_run()), (
        run.describe()
    )
    assert file_ids(before) == before
    for p in E2E_POINTS:
        assert (point_dir(workdir, E2E, p) / "movie.validation.json").is_file()

"""The workflow as a user meets it: results layout, segment spec, progress and warnings in the
job's log, the model's resolution check, ``--configfile``, code-aware reruns, lint/format.

The first part runs in process (fast); the tests that start Snakemake are marked ``slow``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import REPO, TEST_MODELS, run_snakemake, write_config

from fieldmovie.simulation.segment import SimulationError, load_state, run_segment
from fieldmovie.simulation.spec import SegmentSpec
from fieldmovie.workflow import ResultsLayout, load_sweeps
from fieldmovie.workflow.fingerprint import code_fingerprint
from fieldmovie.workflow.jobs import job_logging

if str(TEST_MODELS) not in sys.path:  # user models
    sys.path.insert(0, str(TEST_MODELS))


def tiny_sweep(**changes) -> dict:
    sweep = {
        "model": "diffusion",
        "grid": {"shape": [8, 8]},
        "parameters": {"D": [0.1, 0.2]},
        "time": {"frame_interval": 0.5, "frames_per_segment": 2, "t_end": 2.0},
        "storage": {"range": {"c": [-4.0, 4.0]}},
        "analysis": {"preview": False, "snapshots": 0},
    }
    sweep.update(changes)
    return sweep


# -- layout and spec -------------------------------------------------------------------------
def test_layout_gives_patterns_and_concrete_paths():
    patterns = ResultsLayout("res")
    assert patterns.movie() == "res/{sweep}/{point}/movie.mkv"
    assert patterns.segment() == "res/{sweep}/{point}/segments/{k}.mkv"
    assert patterns.state() == "res/{sweep}/{point}/segments/{k}.state.npz"
    assert patterns.log("segment", k="{k}") == "logs/{sweep}/{point}/segment_{k}.log"
    assert patterns.log("summary", point=None) == "logs/{sweep}/summary.log"

    sweep = load_sweeps({"results": "res", "sweeps": {"s": tiny_sweep()}})["s"]
    point = sweep.points()[0]
    layout = sweep.layout
    base = f"res/s/{point.name}"
    assert layout.observables(point) == f"{base}/observables.csv"
    assert layout.segment(point, 3) == f"{base}/segments/0003.mkv"
    assert layout.segment_times(point.name, 3) == f"{base}/segments/0003.mkv.times"
    assert layout.preview(point) == f"{base}/preview.mp4"
    assert layout.preview_page(point) == f"{base}/preview.html"
    assert layout.snapshots(point) == f"{base}/snapshots.png"
    assert layout.validation(point) == sweep.validation_path(point)
    assert sweep.validation_path(point) == f"{base}/movie.validation.json"
    assert layout.summary_csv() == "res/s/summary.csv"
    assert layout.summary_png() == "res/s/summary.png"
    assert sweep.segment_paths(point) == [f"{base}/segments/0000.mkv", f"{base}/segments/0001.mkv"]
    # every rule output is a layout pattern filled in
    for name in ("movie", "movie_times", "validation", "observables", "preview", "snapshots"):
        assert getattr(patterns, name)().replace("res/{sweep}/{point}", base) == getattr(
            layout, name
        )(point)


def test_segment_spec_round_trip_and_chain_check():
    sweep = load_sweeps({"sweeps": {"s": tiny_sweep(strict=True)}})["s"]
    spec = sweep.segment_spec(sweep.points()[0])
    assert spec.strict is True and spec.model_options == {}
    as_dict = spec.as_dict()
    assert "t_end" not in as_dict and as_dict == sweep.segment_settings(sweep.points()[0])
    assert SegmentSpec.from_dict(json.loads(json.dumps(as_dict))) == spec
    assert hash(SegmentSpec.from_dict(as_dict)) == hash(spec)
    with pytest.raises(AttributeError):
        spec.seed = 3  # frozen
    assert spec.chain_mismatch(as_dict) is None
    assert spec.chain_mismatch({**as_dict, "model_options": {"dt": 0.1}})[0] == "model_options"
    assert spec.chain_mismatch({**as_dict, "bits": 8}) is None  # storage is not the chain's


def test_schema_defaults_for_new_keys():
    config = {"sweeps": {"s": tiny_sweep()}}
    sweep = load_sweeps(config)["s"]
    assert sweep.model_options == {} and sweep.strict is False
    assert config["results"] == "results"  # filled in place, as Snakemake's config
    assert config["sweeps"]["s"]["analysis"]["cmap"] == "viridis"
    assert config["sweeps"]["s"]["storage"]["bits"] == 16


# -- progress, warnings, resolution ----------------------------------------------------------
def _spec(model: str = "diffusion", fps: int = 20, strict: bool = False) -> SegmentSpec:
    sweep = tiny_sweep(model=model, parameters={"D": 0.1}, strict=strict)
    sweep["time"] = {"frame_interval": 0.5, "frames_per_segment": fps, "t_end": 0.5 * fps}
    loaded = load_sweeps({"sweeps": {"s": sweep}})["s"]
    return loaded.segment_spec(loaded.points()[0])


def test_progress_lines_every_tenth_of_the_frames(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fieldmovie")
    run_segment(_spec(fps=20), 0, movie=tmp_path / "0.mkv", state_out=tmp_path / "0.npz")
    lines = [r.getMessage() for r in caplog.records if "progress" in r.getMessage()]
    done = [int(re.search(r"progress (\d+)/20 frames", line)[1]) for line in lines]
    assert done == list(range(2, 21, 2)), lines
    last = lines[-1]
    assert "point 'D~0.1_seed~0'" in last and "(100%)" in last and "t=10 of 10" in last
    assert re.search(r"[\d.e+]+ frames/s, ETA \d+ s$", last), last


def test_warnings_go_into_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    with job_logging(str(log)):
        warnings.warn("values clipped in component 'c'", UserWarning, stacklevel=1)
    text = log.read_text()
    assert "WARNING" in text and "values clipped in component 'c'" in text


def test_job_clears_what_a_killed_predecessor_left(tmp_path):
    """A job's outputs lose the temporaries of a killed earlier job (logged); other hidden
    files and the outputs themselves are left alone."""
    out = tmp_path / "movie.mkv"
    out.write_bytes(b"old result")
    stale = [tmp_path / ".movie.mkv.0123abcd.tmp.mkv", tmp_path / ".movie.mkv.times.99.tmp.times"]
    for path in stale:
        path.write_bytes(b"half written")
    other = tmp_path / ".notes.txt"
    other.write_text("mine")
    log = tmp_path / "job.log"
    with job_logging(str(log), outputs=[str(out), f"{out}.times"]):
        pass
    assert not any(p.exists() for p in stale)
    assert out.read_bytes() == b"old result" and other.exists()
    text = log.read_text()
    assert all(f"removed {p}" in text for p in stale), text


def test_resolution_is_recorded_and_warned(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fieldmovie")
    spec = _spec("resolution_models:TailGrows", fps=4)
    result = run_segment(spec, 0, movie=tmp_path / "0.mkv", state_out=tmp_path / "0.npz")
    assert result.resolution == [{"c": 0.0}, {"c": 0.5}, {"c": 1.0}, {"c": 1.5}]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert "D~0.1_seed~0" in warned[0] and "t=1.5" in warned[0] and "c=1.5" in warned[0]
    assert "limit 1" in warned[0]
    with np.load(tmp_path / "0.npz") as npz:
        assert json.loads(str(npz["resolution"])) == result.resolution
    assert load_state(tmp_path / "0.npz")[3]["strict"] is False


def test_strict_under_resolution_fails_the_segment(tmp_path):
    spec = _spec("resolution_models:TailGrows", fps=4, strict=True)
    with pytest.raises(SimulationError, match=r"t=1\.5.*c=1\.5.*strict"):
        run_segment(spec, 0, movie=tmp_path / "0.mkv", state_out=tmp_path / "0.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- code fingerprints -----------------------------------------------------------------------
def test_fingerprint_follows_content_not_mtime(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    before = code_fingerprint.__wrapped__(("movie",), (str(a),))
    os.utime(a, (0, 0))
    assert code_fingerprint.__wrapped__(("movie",), (str(a),)) == before
    a.write_text("x = 2\n")
    assert code_fingerprint.__wrapped__(("movie",), (str(a),)) != before


# -- Snakemake -------------------------------------------------------------------------------
def planned(run) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in run.jobs:
        counts[job["rule"]] = counts.get(job["rule"], 0) + 1
    return counts


def planned_sweeps(run) -> set[str]:
    return {job["wildcards"]["sweep"] for job in run.jobs if "sweep" in job["wildcards"]}


@pytest.mark.slow
def test_configfile_runs_exactly_its_sweeps(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # the demo, as in a checkout
    mine = tmp_path / "my.yaml"
    mine.write_text(yaml.safe_dump({"sweeps": {"mine": tiny_sweep()}}))
    run = run_snakemake(tmp_path, "-n", "--configfile", str(mine))
    assert planned_sweeps(run) == {"mine"}, run.describe()
    assert planned(run)["simulate_segment"] == 4
    default = run_snakemake(tmp_path, "-n")  # without a config file: the demo
    assert planned_sweeps(default) == {"gray_scott"}
    assert planned(default)["simulate_segment"] == 12


@pytest.fixture
def package_copy(tmp_path) -> Path:
    """A copy of src/fieldmovie that a test may edit (first on the jobs' PYTHONPATH)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "src" / "fieldmovie", src / "fieldmovie",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return src


@pytest.mark.slow
def test_code_changes_rerun_exactly_the_rules_that_use_the_code(tmp_path, package_copy):
    """Plain ``snakemake`` runs (the workflow profile next to the Snakefile sets the rerun
    triggers: content fingerprints, not Snakemake's mtime-based ``code`` trigger)."""
    work = tmp_path / "work"
    write_config(work, {"c": tiny_sweep()})
    env = {"PYTHONPATH": os.pathsep.join([str(package_copy), str(TEST_MODELS)])}
    targets = [f"results/c/{p}/observables.csv" for p in ("D~0.1_seed~0", "D~0.2_seed~0")]

    def dry() -> dict[str, int]:
        return planned(run_snakemake(work, "-n", *targets, env=env))

    run_snakemake(work, *targets, env=env)
    assert dry() == {}
    # touching every file of the package and every rule script changes nothing
    for path in [*package_copy.rglob("*.py"), *(REPO / "scripts").glob("*.py")]:
        os.utime(path)
    assert dry() == {}
    # a real change in the analysis code reruns the analysis only
    with open(package_copy / "fieldmovie" / "analysis" / "observables.py", "a") as fh:
        fh.write("\n# changed\n")
    assert dry() == {"observables": 2}
    changes = run_snakemake(work, "--list-changes", "params", *targets, env=env)
    assert sorted(re.findall(r"\S+observables\.csv", changes.stdout)) == targets
    # a change in the simulation code reruns the segments and all that follows
    with open(package_copy / "fieldmovie" / "simulation" / "segment.py", "a") as fh:
        fh.write("\n# changed\n")
    assert dry() == {"simulate_segment": 4, "join_segments": 2, "validate_movie": 2,
                     "observables": 2}  # fmt: skip


@pytest.mark.slow
def test_segment_log_has_progress_and_run_summary(tmp_path):
    write_config(tmp_path, {"p": tiny_sweep(parameters={"D": 0.1})})
    run = run_snakemake(tmp_path, "results/p/D~0.1_seed~0/movie.validation.json")
    log = (tmp_path / "logs" / "p" / "D~0.1_seed~0" / "segment_0001.log").read_text()
    assert "progress 1/2 frames (50%), t=1.5 of 2" in log
    assert "progress 2/2 frames (100%), t=2 of 2" in log
    assert "fieldmovie: sweep 'p': 1 points, 1 validated movies; segments 2/2 done" in run.output


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.mark.slow
def test_lint_finds_only_the_accepted_per_rule_environment_finding(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    run = run_snakemake(tmp_path, "--lint", check=False)
    findings = re.findall(r"^\s+\* (.+?):?$", run.output, re.MULTILINE)
    assert findings, run.describe()
    assert set(findings) == {"Specify a conda environment or container for each rule."}


@pytest.mark.slow
def test_snakefiles_are_formatted():
    files = [REPO / "Snakefile", REPO / "workflow"]
    proc = subprocess.run([_tool("snakefmt"), "--check", *map(str, files)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr

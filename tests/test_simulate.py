"""Segments in process (``fieldmovie.simulation.run_segment``): exact restart, errors.

Segment k holds the frames at ``k*T + i*frame_interval`` and saves the exact state at
``(k+1)*T``; a run resumed from any saved state -- also in a fresh process -- must give
frames bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from workflow_helpers import TEST_MODELS, decode, expected_times, hidden_files, subprocess_env

from fieldmovie import MovieWriter
from fieldmovie.movie.validate import frame_checksums
from fieldmovie.simulation.models import Grid, resolve_model
from fieldmovie.simulation.segment import (
    SimulationError,
    load_state,
    run_segment,
    save_state,
    segment_times,
)
from fieldmovie.workflow import load_sweeps

if str(TEST_MODELS) not in sys.path:  # user models
    sys.path.insert(0, str(TEST_MODELS))

N_SEGMENTS = 3

# model, grid, parameters, frame_interval, frames_per_segment, storage range
MODELS: dict[str, dict[str, Any]] = {
    "diffusion": {
        "grid": {"shape": [16, 12]},
        "parameters": {"D": 0.3},
        "time": (0.1, 3),  # 0.1 is not a binary fraction: times must still match exactly
        "range": {"c": [-5.0, 5.0]},
    },
    "noisy_diffusion": {  # stochastic: the generator state must be restored exactly
        "grid": {"shape": [16, 16]},
        "parameters": {"sigma": 0.5, "decay": 0.2},
        "time": (0.3, 3),
        "range": {"c": [-6.0, 6.0]},
    },
    "gray_scott": {
        "grid": {"shape": [16, 16], "length": [0.4, 0.4]},
        "parameters": {"F": 0.035, "k": 0.06},
        "time": (7.0, 4),
        "range": {"u": [-0.1, 1.1], "v": [-0.1, 0.7]},
    },
    "cahn_hilliard": {
        "grid": {"shape": [16, 16], "length": [16.0, 16.0]},
        "parameters": {},
        "time": (0.7, 3),
        "range": {"c": [-1.5, 1.5]},
    },
    "kuramoto_sivashinsky": {
        "grid": {"shape": [64], "length": [100.53096491487338]},
        "parameters": {},
        "time": (0.5, 3),
        "range": {"u": [-4.0, 4.0]},
    },
}


def settings_for(model: str, spec: dict[str, Any], seed: int = 7, bits: int = 16) -> dict:
    """Segment settings as the workflow makes them (via load_sweeps)."""
    interval, fps = spec["time"]
    config = {
        "sweeps": {
            "s": {
                "model": model,
                "grid": spec["grid"],
                "parameters": spec["parameters"],
                "seeds": [seed],
                "time": {
                    "frame_interval": interval,
                    "frames_per_segment": fps,
                    "t_end": interval * fps * N_SEGMENTS,
                },
                "storage": {"bits": bits, "range": spec["range"]},
            }
        }
    }
    sweep = load_sweeps(config)["s"]
    assert sweep.n_segments == N_SEGMENTS
    return sweep.segment_settings(sweep.points()[0])


def paths(folder: Path, k: int) -> dict[str, Path]:
    return {"movie": folder / f"{k:04d}.mkv", "state_out": folder / f"{k:04d}.state.npz"}


def run_chain(settings: dict, folder: Path, first: int = 0, state_in: Path | None = None) -> None:
    """Segments ``first`` .. N_SEGMENTS-1, each resuming from the previous one's state."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(first, N_SEGMENTS):
        out = paths(folder, k)
        result = run_segment(settings, k, state_in=state_in, **out)
        assert result.frames == settings["frames_per_segment"]
        state_in = out["state_out"]


def uninterrupted(settings: dict) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """One model, one generator, advanced from frame time to frame time over all segments."""
    grid = Grid(tuple(settings["grid_shape"]), tuple(settings["grid_length"]))
    model = resolve_model(settings["model"])(grid, settings["parameters"])
    rng = np.random.default_rng(settings["seed"])
    state = model.initial_state(rng)
    interval, fps = settings["frame_interval"], settings["frames_per_segment"]
    times = expected_times(interval, fps, N_SEGMENTS) + [N_SEGMENTS * interval * fps]
    frames = []
    for t0, t1 in zip(times[:-1], times[1:], strict=True):
        frames.append(state)
        state = model.advance(state, t0, t1, rng)
    return frames, state, rng.bit_generator.state


def write_frames(settings: dict, frames: list[np.ndarray], path: Path) -> None:
    comps = list(settings["range"])
    interval, fps = settings["frame_interval"], settings["frames_per_segment"]
    with MovieWriter(
        path,
        components=comps,
        grid_shape=settings["grid_shape"],
        vmin=[settings["range"][c][0] for c in comps],
        vmax=[settings["range"][c][1] for c in comps],
        bits=settings["bits"],
    ) as writer:
        for frame, t in zip(frames, expected_times(interval, fps, N_SEGMENTS), strict=True):
            writer.append(frame, t)


def assert_same_state(a: Path, b: Path) -> None:
    sa, ra, ta, seta = load_state(a)
    sb, rb, tb, setb = load_state(b)
    assert sa.dtype == sb.dtype == np.float64
    assert np.array_equal(sa, sb), f"{a} and {b} hold different states"
    assert sa.tobytes() == sb.tobytes()
    assert ra == rb and ta == tb and seta == setb


class Chain:
    """Settings, folder and decoded segments of an uninterrupted chain of segments 0, 1, 2."""

    def __init__(self, settings: dict, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        run_chain(settings, folder)
        self.decoded = [decode(paths(folder, k)["movie"]) for k in range(N_SEGMENTS)]

    def assert_same_segment(self, folder: Path, k: int, packets: bool = False) -> None:
        """Segment k in ``folder`` equals the chain's: decoded frames, times and state."""
        mine, other = paths(self.folder, k), paths(folder, k)
        frames, times = decode(other["movie"])
        assert np.array_equal(times, self.decoded[k][1])
        assert np.array_equal(frames, self.decoded[k][0]), f"segment {k} differs"
        if packets:  # the stored packets too, not only the decoded values
            packets_a, _, _ = frame_checksums(mine["movie"], decode=False)
            packets_b, _, _ = frame_checksums(other["movie"], decode=False)
            assert packets_a == packets_b
        assert_same_state(mine["state_out"], other["state_out"])


@pytest.fixture(scope="module", params=sorted(MODELS))
def chain(request, tmp_path_factory) -> Chain:
    settings = settings_for(request.param, MODELS[request.param])
    return Chain(settings, tmp_path_factory.mktemp(request.param) / "chain")


def test_segments_equal_an_uninterrupted_run(chain, tmp_path):
    settings, folder = chain.settings, chain.folder
    frames, state, rng_state = uninterrupted(settings)
    interval, fps = settings["frame_interval"], settings["frames_per_segment"]

    seg_frames, seg_times = [], []
    for k in range(N_SEGMENTS):
        f, t = chain.decoded[k]
        seg_frames.append(f)
        seg_times.append(t)
        assert t.tolist() == segment_times(interval, fps, k)[:-1]
        saved, saved_rng, t_saved, _ = load_state(paths(folder, k)["state_out"])
        assert t_saved == (k + 1) * interval * fps
    assert np.concatenate(seg_times).tolist() == expected_times(interval, fps, N_SEGMENTS)

    # the exact float64 state and generator at the end equal the uninterrupted run's
    assert np.array_equal(saved, state) and saved.tobytes() == state.tobytes()
    assert saved_rng == rng_state

    # frames: the uninterrupted run's states stored the same way decode to the same values
    write_frames(settings, frames, tmp_path / "long.mkv")
    long_frames, _ = decode(tmp_path / "long.mkv")
    assert np.array_equal(np.concatenate(seg_frames), long_frames)
    assert not np.array_equal(long_frames[0], long_frames[-1])  # the model did evolve


@pytest.mark.parametrize("resume_from", [0, 1])
def test_resume_from_any_saved_state_is_exact(chain, tmp_path, resume_from):
    resumed = tmp_path / "resumed"
    state = paths(chain.folder, resume_from)["state_out"]
    run_chain(chain.settings, resumed, resume_from + 1, state)
    for k in range(resume_from + 1, N_SEGMENTS):
        chain.assert_same_segment(resumed, k)


FRESH_PROCESS = """
import json, sys
from fieldmovie.simulation.segment import run_segment
settings, k, movie, state_out, state_in = json.loads(sys.argv[1])
run_segment(settings, k, movie=movie, state_out=state_out, state_in=state_in)
"""


@pytest.mark.parametrize("model", ["noisy_diffusion", "gray_scott"])
def test_segment_rerun_in_a_fresh_process_is_identical(tmp_path, model):
    chain = Chain(settings_for(model, MODELS[model]), tmp_path / "chain")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    out = paths(fresh, 2)
    args = [chain.settings, 2, str(out["movie"]), str(out["state_out"]),
            str(paths(chain.folder, 1)["state_out"])]  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, json.dumps(args)],
        check=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    chain.assert_same_segment(fresh, 2, packets=True)


def test_stochastic_restart_uses_the_saved_generator(tmp_path):
    """Reseeding instead of restoring the generator would give other frames."""
    settings = settings_for("noisy_diffusion", MODELS["noisy_diffusion"])
    run_segment(settings, 0, **paths(tmp_path / "a", 0))
    run_segment(
        settings, 1, state_in=paths(tmp_path / "a", 0)["state_out"], **paths(tmp_path / "a", 1)
    )
    # the same state with the generator of another seed
    state, _, t, saved = load_state(paths(tmp_path / "a", 0)["state_out"])
    other_rng = np.random.default_rng(settings["seed"] + 1)
    save_state(tmp_path / "b.npz", state, other_rng, t, saved, 0)
    run_segment(settings, 1, state_in=tmp_path / "b.npz", **paths(tmp_path / "b", 1))
    a, _ = decode(paths(tmp_path / "a", 1)["movie"])
    b, _ = decode(paths(tmp_path / "b", 1)["movie"])
    assert not np.array_equal(a, b)


# -- errors ----------------------------------------------------------------------------------
def assert_nothing_written(folder: Path, k: int) -> None:
    out = paths(folder, k)
    assert not out["movie"].exists()
    assert not Path(f"{out['movie']}.times").exists()
    assert not out["state_out"].exists()
    assert hidden_files(folder) == []


@pytest.mark.parametrize("inf", [0.0, 1.0], ids=["nan", "inf"])
def test_non_finite_values_fail_the_segment(tmp_path, inf):
    spec = {
        "grid": {"shape": [8, 8]},
        "parameters": {"t_nan": 2.0, "inf": inf},  # T = 1.5: segment 1 meets it at t = 2.0
        "time": (0.5, 3),
        "range": {"c": [-1.0, 1.0]},
    }
    settings = settings_for("models_for_tests:NanAfter", spec)
    run_segment(settings, 0, **paths(tmp_path, 0))
    before = paths(tmp_path, 0)["movie"].read_bytes()
    with pytest.raises(SimulationError) as info:
        run_segment(settings, 1, state_in=paths(tmp_path, 0)["state_out"], **paths(tmp_path, 1))
    message = str(info.value)
    assert settings["point"] in message
    assert re.search(r"segment\W{0,3}1\b", message), message
    assert re.search(r"\bt\s*=\s*2(\.0)?\b", message), message
    assert_nothing_written(tmp_path, 1)
    assert paths(tmp_path, 0)["movie"].read_bytes() == before


def test_resume_needs_the_state_of_the_previous_segment(tmp_path):
    settings = settings_for("diffusion", MODELS["diffusion"])
    with pytest.raises(SimulationError, match="segment 1"):
        run_segment(settings, 1, **paths(tmp_path, 1))
    assert_nothing_written(tmp_path, 1)


def test_resume_from_a_state_at_another_time_fails(tmp_path):
    settings = settings_for("diffusion", MODELS["diffusion"])
    run_segment(settings, 0, **paths(tmp_path, 0))
    with pytest.raises(SimulationError, match="t="):
        run_segment(settings, 2, state_in=paths(tmp_path, 0)["state_out"], **paths(tmp_path, 2))
    assert_nothing_written(tmp_path, 2)


def test_resume_from_another_points_state_fails(tmp_path):
    settings = settings_for("diffusion", MODELS["diffusion"])
    run_segment(settings, 0, **paths(tmp_path, 0))
    other = settings_for("diffusion", {**MODELS["diffusion"], "parameters": {"D": 0.4}})
    with pytest.raises(SimulationError, match="parameters"):
        run_segment(other, 1, state_in=paths(tmp_path, 0)["state_out"], **paths(tmp_path, 1))
    assert_nothing_written(tmp_path, 1)

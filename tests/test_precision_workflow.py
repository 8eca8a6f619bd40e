"""Storage precision in the workflow: ``storage.range: auto`` and ``storage.tolerance``.

In process: a missed tolerance fails the segment naming point, segment, component, the half
step and the bits that would meet it, and leaves no output. End to end (slow): a sweep whose
points have very different ranges, stored with auto ranges, clips nothing and stays within
each frame's stated bound of the exact float64 state.
"""

from __future__ import annotations

import numpy as np
import pytest
from workflow_helpers import run_snakemake, write_config

from fieldmovie import MovieReader
from fieldmovie.simulation.segment import SimulationError, load_state, run_segment
from fieldmovie.simulation.spec import SegmentSpec
from fieldmovie.workflow import load_sweeps


def _spec(**changes) -> SegmentSpec:
    base = dict(
        sweep="s", point="p", model="diffusion", parameters={"D": 0.1}, seed=3,
        grid_shape=(16, 16), grid_length=(16.0, 16.0), frame_interval=0.5,
        frames_per_segment=3, bits=8, ranges={"c": "auto"},
    )  # fmt: skip
    base.update(changes)
    return SegmentSpec(**base)


def test_missed_tolerance_fails_the_segment_without_output(tmp_path) -> None:  # noqa: ANN001
    movie, state = tmp_path / "0000.mkv", tmp_path / "0000.state.npz"
    with pytest.raises(SimulationError) as info:
        run_segment(_spec(tolerance={"c": 1e-9}), 0, movie, state)
    message = str(info.value)
    for part in ("point 'p'", "segment 0", "component 'c'", "half step", "tolerance", "bits"):
        assert part in message, message
    assert "even 16 bits" in message  # 1e-9 is out of reach for a field of size ~1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_met_tolerance_and_auto_ranges_in_a_segment(tmp_path) -> None:  # noqa: ANN001
    movie, state = tmp_path / "0000.mkv", tmp_path / "0000.state.npz"
    run_segment(_spec(tolerance={"c": 0.05}), 0, movie, state)
    with MovieReader(movie) as reader:
        assert reader.meta.modes == ["auto"]
        assert reader.meta.clipped == [0]
        assert (reader.error_bound <= 0.05).all()


@pytest.mark.slow
def test_sweep_with_very_different_ranges_clips_nothing(tmp_path) -> None:  # noqa: ANN001
    """Diffusion at D = 0.01 and D = 10: the fast point's field decays by orders of
    magnitude, so no fixed range would fit both. With the default ``auto`` ranges nothing is
    clipped and frame 0 of segment 1 (the saved exact state of segment 0) is decoded within
    its own frame's bound."""
    sweeps = {
        "d": {
            "model": "diffusion",
            "grid": {"shape": [16, 16], "length": [16.0, 16.0]},
            "parameters": {"D": [0.01, 10.0]},
            "time": {"frame_interval": 1.0, "frames_per_segment": 3, "t_end": 6.0},
            "analysis": {"preview": False, "snapshots": 0},
        }
    }
    write_config(tmp_path, sweeps)
    run_snakemake(tmp_path)
    sweep = load_sweeps({"sweeps": sweeps})["d"]  # paths relative to tmp_path
    spans = []
    for point in sweep.points():
        with MovieReader(tmp_path / sweep.layout.movie(point.name)) as reader:
            assert reader.meta.modes == ["auto"]
            assert reader.meta.clipped == [0]
            lo, hi = reader.frame_ranges
            spans.append(float(hi[-1, 0] - lo[-1, 0]))
            exact, _, t, _ = load_state(tmp_path / sweep.layout.state(point.name, 0))
            index = int(np.flatnonzero(reader.times == t)[0])
            error = np.abs(reader[index] - exact).max()
            assert error <= reader.error_bound[index, 0], (point.name, error)
        obs = tmp_path / sweep.layout.observables(point.name)
        columns = obs.read_text().splitlines()[0].split(",")
        assert "c_mean" in columns and "c_clipped" not in columns, columns
    assert max(spans) > 100 * min(spans), spans  # the points really differ in range

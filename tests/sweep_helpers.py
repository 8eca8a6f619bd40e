"""A small real sweep made in-process: run_segment, concat_movies and check_movie per point."""

from __future__ import annotations

from pathlib import Path

from fieldmovie.movie.concat import concat_movies
from fieldmovie.movie.validate import check_movie
from fieldmovie.simulation.segment import run_segment
from fieldmovie.workflow import Sweep, load_sweeps


def small_config(results: Path, *, grid=(16, 12), segments: int = 3, seeds=(1, 2)) -> dict:  # noqa: ANN001
    """2 x 2 Gray-Scott points (F, k), ``seeds``, ``segments`` segments of 2 frames."""
    return {
        "results": str(results),
        "sweeps": {
            "gs": {
                "model": "gray_scott",
                "grid": {"shape": list(grid), "length": [0.5, 0.4][: len(grid)]},
                "parameters": {"F": [0.03, 0.04], "k": [0.06, 0.062], "Du": 2e-5},
                "seeds": list(seeds),
                "time": {"frame_interval": 20.0, "frames_per_segment": 2,
                         "t_end": 40.0 * segments},
                "storage": {"bits": 12, "range": {"u": [-1.0, 2.0], "v": [-1.0, 2.0]}},
            }
        },
    }  # fmt: skip


def make_point(sweep: Sweep, point, segments: int | None = None) -> None:  # noqa: ANN001
    """Simulate, join and validate one point (``segments`` of them, default all)."""
    n = sweep.n_segments if segments is None else segments
    seg_paths = sweep.segment_paths(point)[:n]
    settings = sweep.segment_settings(point)
    for k, movie in enumerate(seg_paths):
        state_in = None if k == 0 else movie.replace(f"{k:04d}.mkv", f"{k - 1:04d}.state.npz")
        Path(movie).parent.mkdir(parents=True, exist_ok=True)
        run_segment(settings, k, movie, movie.replace(".mkv", ".state.npz"), state_in)
    info = {
        "sweep": sweep.name, "point": point.name, "model": sweep.model,
        "parameters": point.parameters, "seed": point.seed, "segments": n,
        "frame_interval": sweep.frame_interval, "frames_per_segment": sweep.frames_per_segment,
    }  # fmt: skip
    concat_movies(seg_paths, sweep.movie_path(point), info=info)
    check_movie(sweep.movie_path(point), seg_paths, sweep.validation_path(point))


def make_sweep(results: Path, **kwargs) -> Sweep:  # noqa: ANN003
    """The sweep of :func:`small_config`, every point made."""
    sweep = load_sweeps(small_config(results, **kwargs))["gs"]
    for point in sweep.points():
        make_point(sweep, point)
    return sweep

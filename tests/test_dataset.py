"""A whole sweep as one lazy dataset: open_sweep, observables, export, the rule helper."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldmovie.analysis.observables import length_scale, write_observables_csv
from fieldmovie.movie.concat import concat_movies
from fieldmovie.movie.reader import MovieReader
from fieldmovie.movie.validate import check_movie

xr = pytest.importorskip("xarray")
pytest.importorskip("dask")

sys.path.insert(0, str(Path(__file__).parent))
from sweep_helpers import make_sweep  # noqa: E402

from fieldmovie.workflow.dataset import (  # noqa: E402
    SweepDatasetError,
    export_sweep,
    final_frames,
    frame_statistic,
    open_sweep,
    open_sweep_movies,
    open_sweep_observables,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_ffmpeg")]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):  # noqa: ANN001, ANN201
    """2 x 2 (F, k) points x 2 seeds, 3 segments of 2 frames, 16 x 12 grid, validated."""
    return make_sweep(tmp_path_factory.mktemp("sweep") / "results")


@pytest.fixture
def copy_of(sweep, tmp_path):  # noqa: ANN001, ANN201
    """A copy of the sweep's results (to damage or extend), and the copied Sweep."""
    from dataclasses import replace

    results = tmp_path / "results"
    shutil.copytree(sweep.results, results)
    return replace(sweep, results=str(results))


@pytest.fixture
def decodes(monkeypatch):  # noqa: ANN001, ANN201
    """Count the frames MovieReader decodes."""
    count = [0]
    original = MovieReader._stream

    def counting(self, start, n):  # noqa: ANN001, ANN202
        count[0] += n
        return original(self, start, n)

    monkeypatch.setattr(MovieReader, "_stream", counting)
    return count


def test_every_value_is_the_movies_frame(sweep) -> None:  # noqa: ANN001
    ds = open_sweep(sweep)
    assert list(ds.data_vars) == ["u", "v"]
    assert ds.u.dims == ("F", "k", "seed", "time", "x", "y")
    assert ds.sizes == {"F": 2, "k": 2, "seed": 2, "time": 6, "x": 16, "y": 12}
    assert ds.attrs["model"] == "gray_scott" and ds.attrs["grid_shape"] == [16, 12]
    assert ds.attrs["bits"] == 12 and ds.attrs["ragged"] == 0 and ds.attrs["missing_points"] == []
    assert float(ds.Du) == 2e-5  # a parameter that is not swept: a scalar coordinate
    np.testing.assert_allclose(ds.x, (np.arange(16) + 0.5) * 0.5 / 16)
    np.testing.assert_allclose(ds.y, (np.arange(12) + 0.5) * 0.4 / 12)
    loaded = open_sweep(sweep, time_chunk=3).load()  # fewer decoder processes
    for point in sweep.points():
        reader = MovieReader(sweep.movie_path(point))
        frames = reader.to_array()
        where = {"F": point.parameters["F"], "k": point.parameters["k"], "seed": point.seed}
        np.testing.assert_array_equal(loaded.time, reader.times)
        for c, comp in enumerate(reader.components):
            got = loaded[comp].sel(where).values
            np.testing.assert_array_equal(got, frames[:, c])


def test_open_decodes_nothing_and_one_selection_one_frame(sweep, decodes) -> None:  # noqa: ANN001
    ds = open_sweep(sweep)
    assert decodes[0] == 0
    value = ds.v.sel(F=0.04, k=0.06, seed=2).isel(time=-1).values
    assert decodes[0] == 1
    point = next(
        p for p in sweep.points() if p.parameters["F"] == 0.04 and p.parameters["k"] == 0.06
        and p.seed == 2
    )  # fmt: skip
    np.testing.assert_array_equal(value, MovieReader(sweep.movie_path(point))[-1][1])
    decodes[0] = 0
    final = final_frames(ds.u).values
    assert final.shape == (2, 2, 2, 16, 12) and decodes[0] == 8  # one frame per point


def test_results_folder_without_config_gives_the_same_dataset(sweep) -> None:  # noqa: ANN001
    from fieldmovie import _dataset_api

    assert _dataset_api.__getattr__("open_sweep") is open_sweep  # fieldmovie.open_sweep
    by_segment = open_sweep(sweep, time_chunk=None)
    assert by_segment.u.data.chunksize == (1, 1, 1, 2, 16, 12)  # frames_per_segment
    by_config = open_sweep(sweep)
    by_folder = open_sweep(sweep.results, "gs")
    assert open_sweep(sweep.results).attrs["sweep"] == "gs"  # the only sweep there
    by_movies = open_sweep_movies(sweep.movie_paths())
    for other in (by_folder, by_movies):
        xr.testing.assert_identical(by_config.drop_attrs(), other.drop_attrs())
        assert other.attrs["swept_parameters"] == ["F", "k"]
    with pytest.raises(SweepDatasetError, match="no point movies"):
        open_sweep(sweep.results, "nope")


def test_ragged_end_times_are_aligned_on_the_union(copy_of, decodes) -> None:  # noqa: ANN001
    sweep = copy_of
    short = sweep.points()[0]  # F=0.03, k=0.06, seed=1 ends one segment early
    segments = sweep.segment_paths(short)[:2]
    info = MovieReader(sweep.movie_path(short)).info
    os.remove(sweep.movie_path(short))
    concat_movies(segments, sweep.movie_path(short), info={**info, "segments": 2})
    check_movie(sweep.movie_path(short), segments, sweep.validation_path(short))
    ds = open_sweep(sweep.results, "gs")
    assert ds.attrs["ragged"] == 1 and ds.sizes["time"] == 6
    where = {"F": 0.03, "k": 0.06, "seed": 1}
    assert int(ds.frames.sel(where)) == 4 and int(ds.last_frame.sel(where)) == 3
    assert int(ds.frames.sel(F=0.04, k=0.06, seed=1)) == 6
    u = ds.u.sel(where).values
    assert np.isnan(u[4:]).all() and np.isfinite(u[:4]).all()
    np.testing.assert_array_equal(u[:4], MovieReader(sweep.movie_path(short)).to_array()[:, 0])
    decodes[0] = 0
    final = final_frames(ds.u).sel(where).values  # its own last frame, not NaN
    np.testing.assert_array_equal(final, u[3])
    assert decodes[0] == 1  # only that point's last frame


def test_missing_or_unvalidated_points(copy_of) -> None:  # noqa: ANN001
    sweep = copy_of
    gone, unchecked = sweep.points()[1], sweep.points()[6]
    shutil.rmtree(sweep.point_dir(gone))
    os.remove(sweep.validation_path(unchecked))
    with pytest.raises(SweepDatasetError) as info:
        open_sweep(sweep)
    message = str(info.value)
    assert "2 point(s)" in message and gone.name in message and unchecked.name in message
    assert "does not exist" in message and "validation report" in message
    with pytest.raises(SweepDatasetError, match="no movie for this combination"):
        open_sweep(sweep.results, "gs")  # discovered: the hole in the grid is named

    ds = open_sweep(sweep, missing="skip")
    assert len(ds.attrs["missing_points"]) == 2
    for point in (gone, unchecked):
        where = {**point.parameters, "seed": point.seed}
        where.pop("Du")
        assert np.isnan(ds.v.sel(where).values).all()
        assert int(ds.frames.sel(where)) == 0
    assert np.isfinite(ds.v.sel(F=0.04, k=0.062, seed=2).values).all()


def test_two_movies_of_one_point_are_refused(copy_of) -> None:  # noqa: ANN001
    sweep = copy_of
    odd = sweep.points()[3]
    other = sweep.points()[0]
    for suffix in ("movie.mkv", "movie.mkv.times", "movie.validation.json"):
        shutil.copy(Path(sweep.point_dir(other)) / suffix, Path(sweep.point_dir(odd)) / suffix)
    with pytest.raises(SweepDatasetError, match="are both the point"):
        open_sweep(sweep.results, "gs")


def test_frame_statistic_gives_a_phase_diagram(sweep) -> None:  # noqa: ANN001
    ds = open_sweep(sweep)
    lengths = tuple(ds.attrs["grid_length"])
    ell = frame_statistic(final_frames(ds.v), length_scale, grid_length=lengths)
    assert ell.dims == ("F", "k", "seed")
    values = ell.values
    point = sweep.points()[5]
    frame = MovieReader(sweep.movie_path(point))[-1][1]
    where = {"F": point.parameters["F"], "k": point.parameters["k"], "seed": point.seed}
    assert float(ell.sel(where)) == length_scale(frame, lengths)
    assert np.isfinite(values).all()


def test_open_sweep_observables(copy_of) -> None:  # noqa: ANN001
    sweep = copy_of
    tables = {}
    for point in sweep.points():
        reader = MovieReader(sweep.movie_path(point))
        tables[point.name] = write_observables_csv(
            reader, f"{sweep.point_dir(point)}/observables.csv"
        )
    obs = open_sweep_observables(sweep)
    assert obs.v_length_scale.dims == ("F", "k", "seed", "time")
    point = sweep.points()[2]
    where = {"F": point.parameters["F"], "k": point.parameters["k"], "seed": point.seed}
    np.testing.assert_allclose(obs.u_mean.sel(where), tables[point.name]["u_mean"], rtol=1e-15)
    xr.testing.assert_identical(obs, open_sweep_observables(sweep.results, "gs").assign_attrs(
        obs.attrs))  # fmt: skip
    os.remove(f"{sweep.point_dir(point)}/observables.csv")
    with pytest.raises(SweepDatasetError, match="observables rule"):
        open_sweep_observables(sweep)
    skipped = open_sweep_observables(sweep, missing="skip")
    assert np.isnan(skipped.u_mean.sel(where)).all() and len(skipped.attrs["missing_points"]) == 1


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_export_round_trip(sweep, tmp_path, suffix, capfd) -> None:  # noqa: ANN001
    from fieldmovie.cli import main

    out = tmp_path / f"gs{suffix}"
    code = main([
        "export", str(sweep.results), "--sweep", "gs", "-o", str(out), "--time-chunk", "2",
    ])  # fmt: skip
    assert code == 0, capfd.readouterr().err
    assert "100%" in capfd.readouterr().out  # the progress bar
    back = xr.open_zarr(out) if suffix == ".zarr" else xr.open_dataset(out)
    ds = open_sweep(sweep, time_chunk=6).load()
    xr.testing.assert_equal(back.load().drop_attrs(), ds.drop_attrs())
    assert back.attrs["model"] == "gray_scott" and list(back.attrs["grid_shape"]) == [16, 12]
    if suffix == ".zarr":
        assert back.u.encoding["chunks"] == (1, 1, 1, 2, 16, 12)
    back.close()
    # an existing output is kept unless asked to replace it
    assert main(["export", str(sweep.results), "--sweep", "gs", "-o", str(out)]) == 2
    assert "exists" in capfd.readouterr().err
    export_sweep(sweep, out, overwrite=True, progress=False, time_chunk=6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_export_of_a_missing_point_leaves_nothing(copy_of, tmp_path) -> None:  # noqa: ANN001
    sweep = copy_of
    os.remove(sweep.validation_path(sweep.points()[0]))
    out = tmp_path / "gs.zarr"
    with pytest.raises(SweepDatasetError):
        export_sweep(sweep, out, progress=False)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    export_sweep(sweep, out, missing="skip", progress=False, time_chunk=6)
    assert "F~0.03_k~0.06_seed~1" in xr.open_zarr(out).attrs["missing_points"]


def test_rule_helper(sweep, tmp_path) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from fieldmovie.workflow.dataset import sweep_rule, sweep_rule_inputs

    inputs = SimpleNamespace(**sweep_rule_inputs(sweep))
    log = tmp_path / "rule.log"
    smk = SimpleNamespace(input=inputs, log=[str(log)])
    with sweep_rule(smk) as ds:
        assert ds.sizes["seed"] == 2 and ds.attrs["sweep"] == "gs"
    assert "opened sweep 'gs'" in log.read_text()


def test_phase_diagram_example_end_to_end(tmp_path) -> None:  # noqa: ANN001
    """examples/phase_diagram: Snakemake runs the sweep and the open_sweep-based rule."""
    import csv

    example = Path(__file__).parents[1] / "examples" / "phase_diagram"
    shutil.copy(example / "config.yaml", tmp_path / "config.yaml")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(example / "Snakefile"),
           "--directory", str(tmp_path), "--cores", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "results" / "gs"
    assert (out / "phase_diagram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "phase_diagram.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((float(r["F"]), float(r["k"])) for r in rows) == [
        (0.03, 0.06), (0.03, 0.062), (0.04, 0.06), (0.04, 0.062)
    ]  # fmt: skip
    for row in rows:  # each value is the length scale of that point's last stored frame
        name = f"F~{float(row['F'])!r}_k~{float(row['k'])!r}_seed~{row['seed']}"
        reader = MovieReader(out / name / "movie.mkv")
        frame = reader[-1][reader.components.index("v")]
        assert float(row["v_length_scale"]) == length_scale(frame, reader.grid_length)

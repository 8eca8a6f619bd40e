"""Per-frame resolution values in the movie's info: segment movies and joined movies."""

from __future__ import annotations

import json

import numpy as np
import pytest
import test_simulate as ts

from fieldmovie import MovieReader, MovieWriter, concat_movies
from fieldmovie.movie import concat
from fieldmovie.movie.concat import merge_resolution
from fieldmovie.movie.metadata import MAX_METADATA_BYTES
from fieldmovie.simulation.segment import (
    RESOLUTION_DIGITS,
    _record_resolution,
    load_state,
    resolution_info,
    run_segment,
)

GRAY_SCOTT = ts.MODELS["gray_scott"]


def info(path) -> dict:  # noqa: ANN001
    with MovieReader(path) as reader:
        return reader.meta.info


def rounded(value: float) -> float:
    return float(f"{value:.{RESOLUTION_DIGITS}g}")


def test_segment_movie_holds_the_per_frame_values(tmp_path) -> None:
    """run_segment -> the movie's info: every frame's tail per component, the limit, the max."""
    settings = ts.settings_for("gray_scott", GRAY_SCOTT)
    out = ts.paths(tmp_path, 0)
    result = run_segment(settings, 0, **out)
    record = info(out["movie"])["resolution"]
    assert record["limit"] == 1e-4 and record["measure"].startswith("spectral_tail")
    assert set(record["frames"]) == {"u", "v"}
    for c in ("u", "v"):
        measured = [r[c] for r in result.resolution]
        assert len(measured) == result.frames == 4
        assert record["frames"][c] == [rounded(v) for v in measured]
        assert record["max"][c] == max(measured)  # exact, not rounded
        assert record["max"][c] > 0  # this 16^2 test grid is under-resolved: values > limit
    # the saved state keeps them unrounded
    with np.load(out["state_out"]) as npz:
        assert json.loads(str(npz["resolution"])) == result.resolution
    load_state(out["state_out"])


def test_models_without_a_measure_add_nothing(tmp_path) -> None:
    settings = ts.settings_for("noisy_diffusion", ts.MODELS["noisy_diffusion"])
    out = ts.paths(tmp_path, 0)
    run_segment(settings, 0, **out)
    assert "resolution" not in info(out["movie"])


@pytest.mark.parametrize("given", [None, {"point": "p0", "segments": 3}])
def test_join_keeps_every_segments_frames_in_order(tmp_path, given) -> None:
    """concat_movies: the joined info carries all segments' per-frame values in order, also
    when the workflow replaces the info (as rule join_segments does)."""
    settings = ts.settings_for("gray_scott", GRAY_SCOTT)
    ts.run_chain(settings, tmp_path)
    segments = [ts.paths(tmp_path, k)["movie"] for k in range(ts.N_SEGMENTS)]
    records = [info(s)["resolution"] for s in segments]
    joined = info(concat_movies(segments, tmp_path / "joined.mkv", info=given))
    record = joined["resolution"]
    if given is not None:
        assert joined["point"] == "p0"
    for c in ("u", "v"):
        assert record["frames"][c] == [v for r in records for v in r["frames"][c]]
        assert len(record["frames"][c]) == ts.N_SEGMENTS * settings["frames_per_segment"]
        assert record["segment_max"][c] == [r["max"][c] for r in records]
        assert record["max"][c] == max(r["max"][c] for r in records)
    assert record["limit"] == records[0]["limit"]
    # an info with its own record keeps it
    own = info(concat_movies(segments, tmp_path / "own.mkv", info={"resolution": "mine"}))
    assert own["resolution"] == "mine"


def test_join_over_the_metadata_limit_keeps_the_maxima(tmp_path, monkeypatch) -> None:
    settings = ts.settings_for("gray_scott", GRAY_SCOTT)
    ts.run_chain(settings, tmp_path)
    segments = [ts.paths(tmp_path, k)["movie"] for k in range(ts.N_SEGMENTS)]
    with MovieReader(concat_movies(segments, tmp_path / "full.mkv")) as reader:
        size = len(reader.meta.to_json().encode())
    monkeypatch.setattr(concat, "MAX_METADATA_BYTES", size - 1)
    record = info(concat_movies(segments, tmp_path / "joined.mkv"))["resolution"]
    assert "frames" not in record and "64 KiB" in record["frames_omitted"]
    assert len(record["segment_max"]["v"]) == ts.N_SEGMENTS


def test_a_2000_frame_segment_with_two_components_fits(tmp_path) -> None:
    """The 64 KiB metadata limit: 2000 frames x 2 components keep all per-frame values."""
    spec = {**GRAY_SCOTT, "grid": {"shape": [8, 8], "length": [0.2, 0.2]}, "time": (1.0, 2000)}
    settings = ts.settings_for("gray_scott", spec)
    out = ts.paths(tmp_path, 0)
    result = run_segment(settings, 0, **out)
    with MovieReader(out["movie"]) as reader:
        record = reader.meta.info["resolution"]
        assert len(reader.meta.to_json().encode()) < 0.6 * MAX_METADATA_BYTES  # ~34 KB
    assert [len(record["frames"][c]) for c in ("u", "v")] == [2000, 2000]
    assert record["frames"]["v"][-1] == rounded(result.resolution[-1]["v"])


def test_too_many_values_fall_back_to_the_maxima(tmp_path) -> None:
    """Values that would overflow the metadata stay in the saved state only."""
    rng = np.random.default_rng(0)
    values = [{c: float(v) for c, v in zip("abcd", rng.uniform(1e-9, 1e-5, 4), strict=True)}
              for _ in range(3000)]  # fmt: skip
    record = resolution_info(values, 1e-4)
    assert len(json.dumps(record)) > MAX_METADATA_BYTES
    with MovieWriter(tmp_path / "m.mkv", components=["c"], grid_shape=(8, 8)) as writer:
        writer.append(np.zeros((1, 8, 8)), 0.0)
        _record_resolution(writer, record)
    stored = info(tmp_path / "m.mkv")["resolution"]
    assert "frames" not in stored and "saved state" in stored["frames_omitted"]
    assert stored["max"] == {c: max(v[c] for v in values) for c in "abcd"}


def test_merge_resolution_needs_matching_records() -> None:
    a = {"limit": 1.0, "max": {"u": 0.1}, "frames": {"u": [0.1, 0.05]}}
    b = {"limit": 1.0, "max": {"u": 0.2}, "frames": {"u": [0.2]}}
    assert merge_resolution([a, b], [2, 1])["frames"] == {"u": [0.1, 0.05, 0.2]}
    partial = merge_resolution([a, {**b, "frames": None}], [2, 1])
    assert "frames" not in partial and partial["max"] == {"u": 0.2}
    assert merge_resolution([a, {"max": {"w": 0.1}}], [2, 1]) is None
    assert merge_resolution([a, None], [2, 1]) is None
    assert resolution_info([None, None], 1.0) is None

"""Observables: hand-computed values on small known fields, streaming, CSV, sweep summary."""

from __future__ import annotations

import math
import struct
import warnings

import numpy as np
import pandas as pd
import pytest

from fieldmovie.analysis.observables import (
    OBSERVABLES,
    compute_observables,
    frame_observables,
    length_scale,
    observable,
    structure_factor,
    write_observables_csv,
)
from fieldmovie.analysis.plots import key_observables, plot_summary
from fieldmovie.analysis.summary import final_observables, summarize


def _sine_1d(n: int, m: int, phase: float = 0.3) -> np.ndarray:
    x = np.arange(n) / n
    return np.sin(2 * np.pi * m * x + phase)


# -- structure factor and length scale -----------------------------------------------------
@pytest.mark.parametrize("m", [1, 3, 7])
@pytest.mark.parametrize("length", [None, 10.0, 2 * np.pi])
def test_sine_1d_length_scale_is_L_over_m(m: int, length: float | None) -> None:
    n = 64
    field = _sine_1d(n, m)
    k, s = structure_factor(field, None if length is None else (length,))
    big = float(length if length is not None else n)
    assert k[0] == pytest.approx(2 * np.pi / big)
    assert k[np.argmax(s)] == pytest.approx(2 * np.pi * m / big)
    # all power in one shell; with S = |F|^2/N the mean over all N modes is the variance
    assert np.count_nonzero(s > 1e-12 * s.max()) == 1
    assert s.max() * 2 / n == pytest.approx(field.var())
    assert length_scale(field, length) == pytest.approx(big / m, rel=1e-12)


def test_sine_1d_odd_grid() -> None:
    field = _sine_1d(45, 4)
    assert length_scale(field, 9.0) == pytest.approx(9.0 / 4)


def test_two_modes_first_moment() -> None:
    n, length = 128, 32.0
    x = np.arange(n) * length / n
    # amplitudes a1, a2 -> S proportional to a^2 at k1, k2
    a1, m1, a2, m2 = 1.0, 2, 0.5, 6
    field = a1 * np.cos(2 * np.pi * m1 * x / length) + a2 * np.sin(2 * np.pi * m2 * x / length)
    k1, k2 = 2 * np.pi * m1 / length, 2 * np.pi * m2 / length
    k_star = (k1 * a1**2 + k2 * a2**2) / (a1**2 + a2**2)
    assert length_scale(field, length) == pytest.approx(2 * np.pi / k_star)


def test_2d_sine_in_x_only() -> None:
    nx, ny, lx, ly = 64, 32, 20.0, 10.0
    x = (np.arange(nx) + 0.5) * lx / nx
    field = np.sin(2 * np.pi * 5 * x / lx)[:, None] * np.ones((1, ny))
    k, s = structure_factor(field, (lx, ly))
    assert k[np.argmax(s)] == pytest.approx(2 * np.pi * 5 / lx)
    assert length_scale(field, (lx, ly)) == pytest.approx(lx / 5)
    # a stripe along y of wavelength ly/3 (shell 6 of dk = 2 pi / lx)
    y = np.arange(ny) * ly / ny
    stripes_y = np.ones((nx, 1)) * np.cos(2 * np.pi * 3 * y / ly)[None, :]
    assert length_scale(stripes_y, (lx, ly)) == pytest.approx(ly / 3)
    # without physical lengths: grid cells
    assert length_scale(field) == pytest.approx(nx / 5)


def test_2d_radial_average_counts_mirror_modes() -> None:
    n = 32
    x = np.arange(n) / n
    # diagonal plane wave: |k| = sqrt(2) * 2 pi * 4 / L, shell round(4 sqrt 2) = 6
    field = np.cos(2 * np.pi * 4 * (x[:, None] + x[None, :]))
    k, s = structure_factor(field, 1.0)
    assert k[np.argmax(s)] == pytest.approx(2 * np.pi * 6)
    # the shell mean of S equals the total power divided by the number of modes in the shell
    kx = np.fft.fftfreq(n, 1 / n)
    kmag = np.hypot(kx[:, None], kx[None, :])
    shell6 = np.count_nonzero(np.rint(kmag) == 6)
    total = np.sum(np.abs(np.fft.fftn(field)) ** 2) / field.size
    assert s.max() == pytest.approx(total / shell6)


def test_3d_length_scale() -> None:
    n = 16
    z = np.arange(n) / n
    field = np.broadcast_to(np.sin(2 * np.pi * 2 * z), (n, n, n)).copy()
    assert length_scale(field, (4.0, 4.0, 4.0)) == pytest.approx(2.0)


def test_constant_and_degenerate_fields_give_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(length_scale(np.full(32, 0.1)))
        assert math.isnan(length_scale(np.full((8, 8), 3.0), (1.0, 1.0)))
        assert math.isnan(length_scale(np.array([1.0])))
        assert math.isnan(length_scale(np.array([0.0, np.nan, 1.0])))


def test_grid_length_validation() -> None:
    with pytest.raises(ValueError, match="does not match"):
        structure_factor(np.zeros((4, 4)), (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="positive"):
        structure_factor(np.zeros(4), (0.0,))
    with pytest.raises(ValueError, match="axes"):
        structure_factor(np.zeros((2, 2, 2, 2)))


# -- frame observables ---------------------------------------------------------------------
def test_frame_observables_match_numpy() -> None:
    rng = np.random.default_rng(1)
    data = rng.uniform(-1.0, 1.0, size=(2, 12, 10))
    obs = frame_observables(
        data, vmin=[-2.0, -2.0], vmax=[2.0, 2.0], components=["u", "v"], grid_length=(6.0, 5.0)
    )
    for c, name in enumerate(["u", "v"]):
        assert obs[f"{name}_mean"] == pytest.approx(data[c].mean())
        assert obs[f"{name}_std"] == pytest.approx(data[c].std())
        assert obs[f"{name}_min"] == data[c].min()
        assert obs[f"{name}_max"] == data[c].max()
        assert obs[f"{name}_clipped"] == 0.0
        assert obs[f"{name}_length_scale"] == pytest.approx(length_scale(data[c], (6.0, 5.0)))
    assert all(type(v) is float for v in obs.values())
    assert set(obs) == {
        f"{n}_{s}"
        for n in ("u", "v")
        for s in ("mean", "std", "min", "max", "clipped", "length_scale")
    }


def test_constant_component() -> None:
    data = np.stack([np.full((8, 8), 0.25), np.linspace(0, 1, 64).reshape(8, 8)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obs = frame_observables(data, vmin=0.0, vmax=1.0, components=["c", "phi"])
    assert obs["c_mean"] == 0.25 and obs["c_std"] == 0.0
    assert obs["c_min"] == obs["c_max"] == 0.25
    assert obs["c_clipped"] == 0.0
    assert math.isnan(obs["c_length_scale"])
    assert obs["phi_clipped"] == pytest.approx(2 / 64)  # the two ends sit at the bounds
    assert not math.isnan(obs["phi_length_scale"])


def test_clipped_fraction_counts_values_at_and_beyond_bounds() -> None:
    lo, hi = 0.1, 0.7
    field = np.array([lo, hi, 0.3, 0.5, -3.0, 9.0, 0.4, 0.6, lo + 1e-3, hi - 1e-3])
    obs = frame_observables(field[None], vmin=[lo], vmax=[hi], components=["u"])
    assert obs["u_clipped"] == pytest.approx(4 / 10)
    # dequantized values: vmin + q * step may land an ulp away from vmax
    levels = 2**16 - 1
    q = np.array([0, 1, 2, levels - 1, levels, levels, 300])
    decoded = lo + q * ((hi - lo) / levels)
    obs = frame_observables(decoded[None], vmin=[lo], vmax=[hi], components=["u"])
    assert obs["u_clipped"] == pytest.approx(3 / 7)
    # float32 decoded data: float32(0.1) > 0.1 but still counts as at the bound
    obs32 = frame_observables(
        decoded.astype(np.float32)[None], vmin=[lo], vmax=[hi], components=["u"]
    )
    assert obs32["u_clipped"] == pytest.approx(3 / 7)


def test_clipped_nan_for_degenerate_range() -> None:
    obs = frame_observables(np.ones((1, 4)), vmin=[1.0], vmax=[1.0], components=["u"])
    assert math.isnan(obs["u_clipped"])
    obs = frame_observables(np.ones((1, 4)), vmin=[math.nan], vmax=[1.0], components=["u"])
    assert math.isnan(obs["u_clipped"])


def test_frame_observables_shape_errors() -> None:
    with pytest.raises(ValueError, match="components"):
        frame_observables(np.zeros((2, 4)), vmin=0, vmax=1, components=["u"])
    with pytest.raises(ValueError, match="vmin"):
        frame_observables(np.zeros((2, 4)), vmin=[0], vmax=[1, 1], components=["u", "v"])


# -- per run -------------------------------------------------------------------------------
class FakeReader:
    """Duck-typed stand-in for MovieReader; counts how many frames were alive at once."""

    def __init__(self, n: int = 5, grid: tuple[int, ...] = (16,)) -> None:
        self.times = np.arange(n) * 0.5
        self.components = ["u", "v"]
        self.vmin = [-1.0, 0.0]
        self.vmax = [1.0, 2.0]
        self.grid_length = tuple(2.0 * g for g in grid)
        self.grid_shape = grid
        self.info = {"model": "cahn_hilliard"}
        self.handed_out = 0

    def __len__(self) -> int:
        return len(self.times)

    def frame(self, i: int) -> np.ndarray:
        x = np.arange(self.grid_shape[0]) / self.grid_shape[0]
        u = np.sin(2 * np.pi * (i + 1) * x)
        u = np.broadcast_to(u.reshape((-1,) + (1,) * (len(self.grid_shape) - 1)), self.grid_shape)
        return np.stack([u, np.full(self.grid_shape, 0.5 * i)])

    def __iter__(self):  # noqa: ANN204
        for i, t in enumerate(self.times):
            self.handed_out += 1
            yield float(t), self.frame(i)


def test_compute_observables_streams_rows() -> None:
    reader = FakeReader(4)
    consumed = []

    def frames():  # noqa: ANN202
        for item in reader:
            consumed.append(item[0])
            yield item

    df = compute_observables(
        frames(), components=reader.components, vmin=reader.vmin, vmax=reader.vmax,
        grid_length=reader.grid_length,
    )  # fmt: skip
    assert isinstance(df, pd.DataFrame)
    assert list(df["time"]) == [0.0, 0.5, 1.0, 1.5]
    assert df.columns[0] == "time"
    assert list(df["v_mean"]) == [0.0, 0.5, 1.0, 1.5]
    np.testing.assert_allclose(df["u_length_scale"], [32.0 / (i + 1) for i in range(4)])
    assert list(df["v_clipped"]) == [1.0, 0.0, 0.0, 0.0]  # v = 0 = vmin in frame 0


def test_compute_observables_consumes_lazily() -> None:
    """Rows are computed while iterating: a generator that fails after k frames has been
    pulled exactly k+1 times (no read-ahead, no materialising of the iterable)."""
    pulled = 0

    def frames():  # noqa: ANN202
        nonlocal pulled
        for i in range(100):
            pulled += 1
            if i == 3:
                raise RuntimeError("stop")
            yield float(i), np.zeros((1, 8))

    with pytest.raises(RuntimeError):
        compute_observables(frames(), components=["u"], vmin=0, vmax=1)
    assert pulled == 4


def test_compute_observables_empty() -> None:
    df = compute_observables([], components=["u"], vmin=0, vmax=1)
    assert df.empty and "time" in df.columns and "u_mean" in df.columns


def test_write_observables_csv_atomic(tmp_path) -> None:  # noqa: ANN001
    reader = FakeReader(3, grid=(16, 8))
    out = tmp_path / "obs.csv"
    df = write_observables_csv(reader, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs.csv"]
    back = pd.read_csv(out)
    assert list(back.columns) == list(df.columns)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back["u_length_scale"].iloc[0] == pytest.approx(32.0)

    class Broken(FakeReader):
        def __iter__(self):  # noqa: ANN204
            yield 0.0, self.frame(0)
            raise OSError("decoder died")

    with pytest.raises(OSError):
        write_observables_csv(Broken(3), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs.csv"]  # old file kept, no temp
    pd.testing.assert_frame_equal(pd.read_csv(out), df, check_exact=True)


def test_nan_roundtrips_through_csv(tmp_path) -> None:  # noqa: ANN001
    reader = FakeReader(2)
    reader.vmin = [-1.0, 1.0]
    reader.vmax = [1.0, 1.0]  # degenerate range -> NaN clipped fraction
    write_observables_csv(reader, tmp_path / "o.csv")
    back = pd.read_csv(tmp_path / "o.csv")
    assert back["v_clipped"].isna().all()
    assert back["v_length_scale"].isna().all()


# -- sweep summary -------------------------------------------------------------------------
def _points(tmp_path) -> list[dict]:  # noqa: ANN001
    points = []
    for f in (0.02, 0.04, 0.06):
        for k in (0.05, 0.06):
            for seed in (1, 2):
                df = pd.DataFrame(
                    {
                        "time": [0.0, 10.0],
                        "u_mean": [1.0, 1 - 5 * f + 0.001 * seed],
                        "u_length_scale": [math.nan, 10 + 100 * k],
                        "u_std": [0.0, 0.1],
                    }
                )
                source = df if seed == 1 else tmp_path / f"obs_{f}_{k}_{seed}.csv"
                if seed == 2:
                    df.to_csv(source, index=False)
                points.append(
                    {"parameters": {"F": f, "k": k}, "seed": seed, "run": f"{f}-{k}-{seed}",
                     "observables": source}
                )  # fmt: skip
    return points


def test_final_observables_sources(tmp_path) -> None:  # noqa: ANN001
    df = pd.DataFrame({"time": [0.0, 1.0], "u_mean": [3.0, 4.0]})
    df.to_csv(tmp_path / "o.csv", index=False)
    for source in (df, tmp_path / "o.csv", str(tmp_path / "o.csv"), df.to_dict("records")):
        assert final_observables(source) == {"time": 1.0, "u_mean": 4.0}
    assert final_observables({"a": 1}) == {"a": 1}


def test_summarize(tmp_path) -> None:  # noqa: ANN001
    df = summarize(_points(tmp_path))
    assert list(df.columns) == [
        "F",
        "k",
        "seed",
        "run",
        "time",
        "u_mean",
        "u_length_scale",
        "u_std",
    ]
    assert len(df) == 12
    row = df[(df.F == 0.04) & (df.k == 0.06) & (df.seed == 2)].iloc[0]
    assert row.u_mean == pytest.approx(1 - 0.2 + 0.002)
    assert row.u_length_scale == pytest.approx(16.0)
    assert row.time == 10.0
    with pytest.raises(ValueError, match="both"):
        summarize([{"parameters": {"u_mean": 1}, "observables": {"u_mean": 2.0}}])
    flat = summarize([{"F": 1.0, "seed": 0, "observables": {"u_mean": 2.0}}])
    assert list(flat.columns) == ["seed", "F", "u_mean"]


def test_key_observables() -> None:
    cols = ["F", "seed", "time", "u_mean", "u_std", "u_length_scale", "v_mean", "v_clipped"]
    assert key_observables(cols) == ["u_mean", "u_length_scale", "v_mean"]


def _png_size(path) -> tuple[int, int]:  # noqa: ANN001
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("swept", [[], ["F"], ["F", "k"], ["F", "k", "seed"]])
def test_plot_summary(tmp_path, swept: list[str]) -> None:  # noqa: ANN001
    df = summarize(_points(tmp_path))
    out = tmp_path / "plots" / "summary.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_summary(df, swept, None, out, units={"u_length_scale": "\u03bcm"})
    width, height = _png_size(out)
    assert 400 < width < 4000 and 400 < height < 4000
    assert [p.name for p in out.parent.iterdir()] == ["summary.png"]


def test_plot_summary_nan_and_categorical(tmp_path) -> None:  # noqa: ANN001
    df = pd.DataFrame(
        {
            "model": ["a", "b", "a", "b"],
            "D": [1.0, 1.0, 2.0, 2.0],
            "u_mean": [1.0, 2.0, 3.0, 4.0],
            "u_length_scale": [math.nan] * 4,
        }
    )
    out = tmp_path / "s.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_summary(df, ["model", "D"], None, out, title="categorical")
    _png_size(out)
    with pytest.raises(ValueError, match="swept"):
        plot_summary(df, ["nope"], None, out)
    with pytest.raises(ValueError, match="observables"):
        plot_summary(df, ["D"], ["nope"], out)


# -- the registry --------------------------------------------------------------------------
def test_adding_an_observable_is_one_function() -> None:
    @observable("p99", "99th percentile")
    def _p99(field):  # noqa: ANN001, ANN202
        return float(np.percentile(field.f64, 99))

    try:
        frame = np.stack([np.arange(100.0), np.zeros(100)]).reshape(2, 10, 10)
        obs = frame_observables(frame, vmin=0, vmax=100, components=["u", "v"])
        assert obs["u_p99"] == pytest.approx(np.percentile(np.arange(100.0), 99))
        assert obs["v_p99"] == 0.0
        empty = compute_observables([], components=["u"], vmin=0, vmax=1)
        assert "u_p99" in empty.columns
    finally:
        del OBSERVABLES["p99"]
        from fieldmovie.analysis.observables import OBSERVABLE_LABELS

        del OBSERVABLE_LABELS["p99"]


def test_rule_script_names_still_import() -> None:
    from fieldmovie.analysis import observables, preview, summary

    assert observables.write_sweep_summary is summary.write_sweep_summary
    assert callable(preview.write_preview) and callable(preview.write_movie_snapshots)


def test_clipped_fraction_only_for_fixed_ranges(tmp_path) -> None:  # noqa: ANN001
    """A movie with u stored ``auto`` and v with a fixed range: only v gets a clipped column
    (an auto range is each frame's min and max, so its bounds are always "hit")."""
    from fieldmovie import MovieReader, MovieWriter

    x = np.linspace(0.0, 1.0, 16)
    path = tmp_path / "mixed.mkv"
    from fieldmovie.movie.writer import ClippingWarning

    with (
        pytest.warns(ClippingWarning),
        MovieWriter(path, components=["u", "v"], grid_shape=(16,), range={"v": [0.0, 0.5]}) as w,
    ):
        for i in range(3):
            w.append(np.stack([x * (i + 1), x]), float(i))  # v above 0.5 is clipped
    with MovieReader(path) as reader:
        df = write_observables_csv(reader, tmp_path / "obs.csv")
    assert "u_clipped" not in df.columns
    assert list(pd.read_csv(tmp_path / "obs.csv").columns) == list(df.columns)
    expected = np.count_nonzero((x <= 1e-6 * 0.5) | (x >= 0.5 - 1e-6 * 0.5)) / x.size
    np.testing.assert_allclose(df["v_clipped"], [expected] * 3)
    np.testing.assert_allclose(df["u_max"], [1.0, 2.0, 3.0])

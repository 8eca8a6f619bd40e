"""Tests for fieldmovie.simulation.models: shapes, determinism, exact restart, accuracy, errors."""

from __future__ import annotations

import math
import sys
import textwrap

import numpy as np
import pytest

from fieldmovie.simulation.models import (
    BUILTIN_MODELS,
    Grid,
    Model,
    SpectralOperators,
    resolve_model,
)

# Small grids per dimension (non-square on purpose) with model-appropriate lengths.
SHAPES = {1: (64,), 2: (24, 20), 3: (10, 12, 8)}
LENGTHS = {
    "diffusion": 6.0,
    "noisy_diffusion": 6.0,
    "gray_scott": 2.5,
    "cahn_hilliard": 32.0,
    "kuramoto_sivashinsky": 32 * math.pi,
}
CASES = [(name, dim) for name, cls in sorted(BUILTIN_MODELS.items()) for dim in cls.dims]
# Segment length per model so that the restart test exercises several internal steps.
SEGMENT = {
    "diffusion": 0.5,
    "noisy_diffusion": 0.35,
    "gray_scott": 7.0,
    "cahn_hilliard": 1.3,
    "kuramoto_sivashinsky": 1.1,
}


def make(name: str, dim: int, parameters: dict | None = None) -> Model:
    shape = SHAPES[dim]
    grid = Grid(shape, tuple(LENGTHS[name] * n / shape[0] for n in shape))
    return resolve_model(name)(grid, parameters)


# ------------------------------------------------------------------------ Grid


def test_grid_properties() -> None:
    grid = Grid((8, 4), (2.0, 1.0))
    assert grid.dim == 2
    assert grid.spacing == (0.25, 0.25)
    x, y = grid.coordinates()
    np.testing.assert_allclose(x, np.arange(8) * 0.25)
    np.testing.assert_allclose(y, np.arange(4) * 0.25)
    assert x[-1] < grid.length[0]  # periodic node coordinates in [0, L)
    assert Grid([16], 3).length == (3.0,)  # normalised to tuples, scalar broadcast
    assert hash(Grid((4, 4), (1, 1))) == hash(Grid((4, 4), (1.0, 1.0)))


@pytest.mark.parametrize(
    "shape, length",
    [((), ()), ((4, 4, 4, 4), (1.0,) * 4), ((4, 4), (1.0,)), ((0,), (1.0,)), ((4,), (-1.0,))],
)
def test_grid_invalid(shape: tuple, length: tuple) -> None:
    with pytest.raises(ValueError):
        Grid(shape, length)


def test_spectral_wavenumbers() -> None:
    grid = Grid((8, 6), (2 * math.pi, 4 * math.pi))
    sp = SpectralOperators(grid)
    assert sp.k2.shape == sp.spectral_shape == (8, 4)
    np.testing.assert_allclose(sp.k[0].ravel(), [0, 1, 2, 3, -4, -3, -2, -1])
    np.testing.assert_allclose(sp.k[1].ravel(), [0, 0.5, 1.0, 1.5])
    x, y = np.meshgrid(*grid.coordinates(), indexing="ij")
    f = np.sin(2 * x) * np.cos(y)
    dfdx = sp.inverse(sp.ik(0) * sp.forward(f))
    np.testing.assert_allclose(dfdx, 2 * np.cos(2 * x) * np.cos(y), atol=1e-12)


# ------------------------------------------------------------ built-in models


def test_builtin_registry() -> None:
    assert set(BUILTIN_MODELS) == {
        "diffusion",
        "noisy_diffusion",
        "gray_scott",
        "cahn_hilliard",
        "kuramoto_sivashinsky",
    }
    for name, cls in BUILTIN_MODELS.items():
        assert cls.name == name
        assert issubclass(cls, Model)
        assert resolve_model(name) is cls
        assert isinstance(cls.components, tuple) and cls.components
        assert all(isinstance(v, float) for v in cls.parameters.values())
    assert resolve_model("Gray-Scott") is BUILTIN_MODELS["gray_scott"]
    assert BUILTIN_MODELS["noisy_diffusion"].stochastic
    assert not BUILTIN_MODELS["gray_scott"].stochastic
    assert BUILTIN_MODELS["kuramoto_sivashinsky"].dims == (1,)


def test_parameter_defaults_filled() -> None:
    model = make("gray_scott", 2, {"F": 0.03})
    assert model.params == {"F": 0.03, "k": 0.06, "Du": 2e-5, "Dv": 1e-5}
    assert type(model).parameters["F"] == 0.04  # class defaults untouched


@pytest.mark.parametrize("name, dim", CASES)
def test_shapes_dtype_finite(name: str, dim: int) -> None:
    model = make(name, dim)
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    assert state.dtype == np.float64
    assert state.shape == (len(model.components), *model.grid.shape)
    assert np.isfinite(state).all()
    before = state.copy()
    out = model.advance(state, 0.0, 2 * SEGMENT[name], rng)
    assert np.array_equal(state, before), "advance modified its input"
    assert out is not state
    assert out.dtype == np.float64 and out.shape == state.shape
    assert np.isfinite(out).all()
    assert not np.array_equal(out, state)
    same = model.advance(state, 1.0, 1.0, rng)
    assert np.array_equal(same, state) and same is not state


@pytest.mark.parametrize("name, dim", CASES)
def test_determinism(name: str, dim: int) -> None:
    results = []
    for _ in range(2):
        model = make(name, dim)
        rng = np.random.default_rng(1234)
        state = model.initial_state(rng)
        results.append(model.advance(state, 0.0, SEGMENT[name], rng))
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("name, dim", CASES)
def test_bit_exact_restart(name: str, dim: int) -> None:
    seg = SEGMENT[name]
    times = [0.0, seg, 2 * seg, 3 * seg]

    model = make(name, dim)
    rng = np.random.default_rng(42)
    state = model.initial_state(rng)
    straight = [state]
    saved = None
    for i, (t0, t1) in enumerate(zip(times[:-1], times[1:], strict=True)):
        state = model.advance(state, t0, t1, rng)
        straight.append(state)
        if i == 1:  # after the 2nd segment: checkpoint (state copy + rng state)
            saved = (state.copy(), rng.bit_generator.state)

    # "restart": new model instance and a new Generator with the saved state restored
    assert saved is not None
    model2 = make(name, dim)
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = saved[1]
    resumed = model2.advance(saved[0], times[2], times[3], rng2)
    assert np.array_equal(resumed, straight[3])
    assert rng2.bit_generator.state == rng.bit_generator.state


def test_stochastic_model_uses_rng() -> None:
    model = make("noisy_diffusion", 2)
    state = model.initial_state(np.random.default_rng(0))
    a = model.advance(state, 0.0, 0.3, np.random.default_rng(1))
    b = model.advance(state, 0.0, 0.3, np.random.default_rng(2))
    assert not np.array_equal(a, b)
    # deterministic models ignore the rng
    gs = make("gray_scott", 1)
    s = gs.initial_state(np.random.default_rng(0))
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    out1 = gs.advance(s, 0.0, 3.0, rng)
    assert rng.bit_generator.state == before
    assert np.array_equal(out1, gs.advance(s, 0.0, 3.0, np.random.default_rng(6)))


def test_num_steps() -> None:
    model = resolve_model("gray_scott")(Grid((64,), 2.5), options={"dt": 1.0})
    assert model.num_steps(0.0, 1.0) == 1
    assert model.num_steps(0.0, 1.0 + 1e-12) == 1
    assert model.num_steps(0.0, 1.5) == 2
    assert model.num_steps(3.0, 13.0) == 10
    assert model.num_steps(0.0, 1e-6) == 1


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_diffusion_exact_single_mode(dim: int) -> None:
    shape = {1: (32,), 2: (16, 24), 3: (8, 12, 10)}[dim]
    length = {1: (2.0,), 2: (2.0, 3.0), 3: (1.0, 2.0, 1.5)}[dim]
    grid = Grid(shape, length)
    D = 0.3
    model = resolve_model("diffusion")(grid, {"D": D})
    coords = np.meshgrid(*grid.coordinates(), indexing="ij")
    wave = [2 * math.pi * (j + 1) / L for j, L in enumerate(length)]
    phase = sum(kk * x for kk, x in zip(wave, coords, strict=True))
    k2 = sum(kk**2 for kk in wave)
    state = (1.5 + np.sin(phase))[np.newaxis]
    rng = np.random.default_rng(0)
    t = 0.0
    for t1 in (0.1, 0.25, 0.7):
        state = model.advance(state, t, t1, rng)
        t = t1
        exact = 1.5 + np.exp(-D * k2 * t) * np.sin(phase)
        assert np.max(np.abs(state[0] - exact)) < 1e-12


@pytest.mark.parametrize(
    "name, dim",
    [c for c in CASES if c[0] in ("diffusion", "cahn_hilliard", "kuramoto_sivashinsky")],
)
def test_mass_conservation(name: str, dim: int) -> None:
    params = {"c0": 0.3} if name == "cahn_hilliard" else None
    model = make(name, dim, params)
    rng = np.random.default_rng(3)
    state = model.initial_state(rng)
    if name == "cahn_hilliard":
        assert abs(state.mean() - 0.3) < 1e-14
    mass0 = state.mean()
    for i in range(5):
        state = model.advance(state, i * 4.0, (i + 1) * 4.0, rng)
    assert abs(state.mean() - mass0) < 1e-12


def test_cahn_hilliard_phase_separates_and_stays_bounded() -> None:
    model = resolve_model("cahn_hilliard")(Grid((32, 32), (32.0, 32.0)))
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    state = model.advance(state, 0.0, 100.0, rng)
    assert np.abs(state).max() < 1.2
    assert state.std() > 0.6  # separated into c ~ +-1 domains (initial std 0.01)


def test_gray_scott_default_pattern_forms() -> None:
    model = resolve_model("gray_scott")(Grid((48, 48), (1.0, 1.0)))
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    # seeded square, smoothed on the grid scale (slight undershoot below 0)
    assert state[1].max() > 0.2 and state[1].min() > -0.05
    state = model.advance(state, 0.0, 400.0, rng)
    assert np.isfinite(state).all()
    assert state[1].max() > 0.1  # pattern persisted instead of decaying to u=1, v=0
    assert state.min() > -0.1 and state.max() < 1.1


def test_kuramoto_sivashinsky_develops_chaos() -> None:
    model = resolve_model("kuramoto_sivashinsky")(Grid((128,), (32 * math.pi,)))
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    assert abs(state.std() - 0.1) < 1e-12
    state = model.advance(state, 0.0, 60.0, rng)
    assert 0.5 < np.abs(state).max() < 5.0


def test_kuramoto_sivashinsky_etdrk4_converges() -> None:
    grid = Grid((64,), (22.0,))
    cls = resolve_model("kuramoto_sivashinsky")
    rng = np.random.default_rng(0)
    state = cls(grid).initial_state(rng) * 10
    results = []
    for dt in (0.2, 0.1, 0.0125):
        model = cls(grid, options={"dt": dt})
        results.append(model.advance(state, 0.0, 5.0, rng))
    err1 = np.abs(results[0] - results[2]).max()
    err2 = np.abs(results[1] - results[2]).max()
    assert err2 < err1 / 8  # 4th order: ratio ~ 16


# --------------------------------------------------------------------- errors


def test_unknown_parameter_error() -> None:
    with pytest.raises(ValueError, match=r"'Q'.*allowed parameters: F, k, Du, Dv"):
        make("gray_scott", 2, {"Q": 1.0})


def test_bad_parameter_values() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        make("diffusion", 1, {"D": "fast"})
    with pytest.raises(ValueError, match="finite"):
        make("diffusion", 1, {"D": float("nan")})
    with pytest.raises(ValueError, match="gamma"):
        make("cahn_hilliard", 1, {"gamma": -1.0})


def test_unsupported_dimension_error() -> None:
    with pytest.raises(ValueError, match=r"kuramoto_sivashinsky.*2D"):
        resolve_model("kuramoto_sivashinsky")(Grid((16, 16), (1.0, 1.0)))


def test_unknown_model_error() -> None:
    with pytest.raises(ValueError, match="cahn_hilliard.*diffusion.*gray_scott"):
        resolve_model("brusselator")


def test_advance_argument_errors() -> None:
    model = make("diffusion", 1)
    state = model.initial_state(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shape"):
        model.advance(state[:, :10], 0.0, 1.0, rng)
    with pytest.raises(ValueError, match="backwards"):
        model.advance(state, 1.0, 0.5, rng)


# ---------------------------------------------------------------- user models

USER_MODULE = '''
import numpy as np
from fieldmovie.simulation.models import Model


class Decay(Model):
    """Subclass-style user model: exponential decay c_t = -rate c."""

    name = "decay"
    components = ("c",)
    parameters = {"rate": 1.0}
    dims = (1, 2)
    dt_max = 0.1

    def initial_state(self, rng):
        return rng.random((1, *self.grid.shape))

    def integrate(self, state, t0, t1, n, rng):
        dt = (t1 - t0) / n
        for _ in range(n):
            state = state * (1.0 - self.params["rate"] * dt)
        return state


class OldInit(Model):
    """Written before model options: its __init__ takes no options."""

    components = ("c",)
    parameters = {}
    dims = (1,)

    def __init__(self, grid, parameters=None):
        super().__init__(grid, parameters)
        self.zero = np.zeros((1, *grid.shape))

    def initial_state(self, rng):
        return self.zero.copy()

    def integrate(self, state, t0, t1, n, rng):
        return state + (t1 - t0)


class Unnamed(Model):
    components = ("c",)
    parameters = {}
    dims = (1,)

    def initial_state(self, rng):
        return np.zeros((1, *self.grid.shape))

    def integrate(self, state, t0, t1, n, rng):
        for _ in range(n):
            state = state + (t1 - t0) / n
        return state


class _Impl:
    def __init__(self, grid, parameters):
        self.grid = grid
        self.parameters = parameters

    def initial_state(self, rng):
        return np.ones((2, *self.grid.shape)) + rng.normal(size=(2, *self.grid.shape))

    def advance(self, state, t0, t1, rng):
        state *= np.exp(-self.parameters["a"] * (t1 - t0))  # in place on purpose
        return state + self.parameters["b"] * rng.normal(size=state.shape)


def factory(grid, parameters):
    return _Impl(grid, parameters)


factory.components = ["x", "y"]
factory.parameters = {"a": 0.5, "b": 0}
factory.dims = (2,)
factory.stochastic = True

def no_dims(grid, parameters):
    return _Impl(grid, parameters)

no_dims.components = ("x",)
no_dims.parameters = {}

def bad_return(grid, parameters):
    return object()

bad_return.components = ("x",)
bad_return.parameters = {}
bad_return.dims = (1,)

not_callable = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch) -> str:
    pkg = tmp_path / "my_user_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "usermodels.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_user_pkg.usermodels"
    for mod in [m for m in sys.modules if m.startswith("my_user_pkg")]:
        del sys.modules[mod]


def test_user_model_subclass(user_module: str) -> None:
    cls = resolve_model(f"{user_module}:Decay")
    assert issubclass(cls, Model) and cls.name == "decay"
    model = cls(Grid((8,), (1.0,)), {"rate": 2.0})
    rng = np.random.default_rng(0)
    state = model.initial_state(rng)
    out = model.advance(state, 0.0, 0.25, rng)  # 3 steps of dt = 1/12
    np.testing.assert_allclose(out, state * (1 - 2.0 / 12) ** 3)
    with pytest.raises(ValueError, match="allowed parameters: rate"):
        cls(Grid((8,), (1.0,)), {"speed": 1.0})
    with pytest.raises(ValueError, match="3D"):
        cls(Grid((4, 4, 4), (1.0, 1.0, 1.0)))


def test_user_model_subclass_without_name(user_module: str) -> None:
    spec = f"{user_module}:Unnamed"
    cls = resolve_model(spec)
    assert issubclass(cls, Model) and cls.name == spec
    model = cls(Grid((4,), (1.0,)))
    rng = np.random.default_rng(0)
    out = model.advance(model.initial_state(rng), 0.0, 2.5, rng)  # default dt_max = 1
    np.testing.assert_allclose(out, 2.5)


def test_user_model_without_options_in_init(user_module: str) -> None:
    cls = resolve_model(f"{user_module}:OldInit")
    grid = Grid((4,), (1.0,))
    model = cls(grid, {}, options={})
    assert np.array_equal(
        model.advance(model.initial_state(None), 0.0, 2.0, None), 2 * np.ones((1, 4))
    )
    with pytest.raises(ValueError, match="'dt'.*allowed options: \\(none"):
        cls(grid, {}, options={"dt": 0.1})


def test_user_model_factory(user_module: str) -> None:
    spec = f"{user_module}:factory"
    cls = resolve_model(spec)
    assert issubclass(cls, Model)
    assert cls.components == ("x", "y")
    assert cls.parameters == {"a": 0.5, "b": 0.0}
    assert cls.dims == (2,)
    assert cls.stochastic is True
    assert cls.name == spec
    grid = Grid((6, 5), (1.0, 1.0))
    model = cls(grid, {"b": 0.01})
    assert model.params == {"a": 0.5, "b": 0.01}
    rng = np.random.default_rng(7)
    state = model.initial_state(rng)
    assert state.shape == (2, 6, 5) and state.dtype == np.float64
    before = state.copy()
    out = model.advance(state, 0.0, 1.0, rng)
    assert np.array_equal(state, before), "adapter must protect the input state"
    assert out.shape == state.shape
    # exact restart through the adapter
    rng_a = np.random.default_rng(3)
    s1 = model.advance(state, 0.0, 1.0, rng_a)
    saved = rng_a.bit_generator.state
    s2 = model.advance(s1, 1.0, 2.0, rng_a)
    rng_b = np.random.default_rng()
    rng_b.bit_generator.state = saved
    assert np.array_equal(resolve_model(spec)(grid, {"b": 0.01}).advance(s1, 1.0, 2.0, rng_b), s2)
    with pytest.raises(ValueError, match="unknown parameter 'c'"):
        cls(grid, {"c": 1.0})
    with pytest.raises(ValueError, match="1D"):
        cls(Grid((6,), (1.0,)))


def test_user_model_errors(user_module: str) -> None:
    with pytest.raises(ValueError, match=r"no_dims.*'dims'"):
        resolve_model(f"{user_module}:no_dims")
    with pytest.raises(ValueError, match=r"has no attribute 'missing'"):
        resolve_model(f"{user_module}:missing")
    with pytest.raises(ValueError, match=r"cannot import module 'no_such_pkg_xyz\.mod'"):
        resolve_model("no_such_pkg_xyz.mod:factory")
    with pytest.raises(ValueError, match="not_callable.*missing"):
        resolve_model(f"{user_module}:not_callable")
    with pytest.raises(ValueError, match="expected 'package.module:factory'"):
        resolve_model(f"{user_module}:")
    cls = resolve_model(f"{user_module}:bad_return")
    with pytest.raises(ValueError, match="no callable 'initial_state'"):
        cls(Grid((4,), (1.0,)))


RESUME_SCRIPT = """
import json, sys
import numpy as np
from fieldmovie.simulation.models import Grid, resolve_model

name, shape, length, t0, t1, state_file, rng_file, out_file = json.loads(sys.argv[1])
model = resolve_model(name)(Grid(tuple(shape), tuple(length)))
rng = np.random.default_rng()
with open(rng_file) as fh:
    rng.bit_generator.state = json.load(fh)
np.save(out_file, model.advance(np.load(state_file), t0, t1, rng))
"""


@pytest.mark.parametrize("name", ["gray_scott", "noisy_diffusion", "cahn_hilliard"])
def test_restart_in_new_process(name: str, tmp_path) -> None:
    import json
    import subprocess

    grid = Grid((32, 24), (LENGTHS[name], LENGTHS[name] * 0.75))
    model = resolve_model(name)(grid)
    rng = np.random.default_rng(11)
    seg = SEGMENT[name]
    state = model.initial_state(rng)
    state = model.advance(state, 0.0, seg, rng)
    np.save(tmp_path / "state.npy", state)
    (tmp_path / "rng.json").write_text(json.dumps(rng.bit_generator.state))
    expected = model.advance(state, seg, 2 * seg, rng)

    args = [
        name,
        list(grid.shape),
        list(grid.length),
        seg,
        2 * seg,
        str(tmp_path / "state.npy"),
        str(tmp_path / "rng.json"),
        str(tmp_path / "out.npy"),
    ]
    subprocess.run([sys.executable, "-c", RESUME_SCRIPT, json.dumps(args)], check=True)
    assert np.array_equal(np.load(tmp_path / "out.npy"), expected)


# ------------------------------------------------------- options, backends, resolution


def test_model_options_errors() -> None:
    grid = Grid((16,), 2.5)
    gs = resolve_model("gray_scott")
    with pytest.raises(ValueError, match=r"'tol'.*allowed options: rtol, dt, fft, kernels"):
        gs(grid, options={"tol": 1e-3})
    with pytest.raises(ValueError, match="'rtol' or 'dt', not both"):
        gs(grid, options={"rtol": 1e-3, "dt": 0.5})
    for key, bad in (("rtol", 0.0), ("dt", -1.0), ("dt", "big"), ("rtol", True)):
        with pytest.raises(ValueError, match=rf"option '{key}'.*finite number > 0"):
            gs(grid, options={key: bad})
    with pytest.raises(ValueError, match="'fft'.*auto, numpy, fftw"):
        gs(grid, options={"fft": "mkl"})
    with pytest.raises(ValueError, match="'rtol' is not available.*noisy_diffusion.*'dt'"):
        resolve_model("noisy_diffusion")(grid, options={"rtol": 1e-3})
    with pytest.raises(ValueError, match="'stabilisation'.*>= 0"):
        resolve_model("cahn_hilliard")(grid, options={"stabilisation": -1})
    assert gs(grid).options == {"fft": "auto", "kernels": "numpy", "rtol": 3e-3, "dt": None}
    assert gs(grid, options={"dt": 0.5}).options["rtol"] is None


needs_fftw = pytest.mark.skipif(
    __import__("importlib").util.find_spec("pyfftw") is None, reason="pyFFTW not installed"
)


@needs_fftw
@pytest.mark.parametrize("name, dim", [c for c in CASES if c[0] != "noisy_diffusion"] + [
    ("noisy_diffusion", 2)])  # fmt: skip
def test_fftw_path_equals_numpy_path(name: str, dim: int) -> None:
    results = {}
    for fft in ("numpy", "fftw"):
        shape = SHAPES[dim]
        grid = Grid(shape, tuple(LENGTHS[name] * n / shape[0] for n in shape))
        model = resolve_model(name)(grid, options={"fft": fft})
        assert model.fft_backend == fft
        rng = np.random.default_rng(5)
        results[fft] = model.advance(model.initial_state(rng), 0.0, 3 * SEGMENT[name], rng)
    a, b = results["numpy"], results["fftw"]
    assert np.linalg.norm(a - b) <= 1e-12 * np.linalg.norm(a)


@pytest.mark.parametrize("fft", ["numpy", "auto"])
@pytest.mark.parametrize("name", ["gray_scott", "cahn_hilliard", "kuramoto_sivashinsky"])
def test_bit_exact_restart_per_backend(name: str, fft: str) -> None:
    dim = 1 if name == "kuramoto_sivashinsky" else 2
    shape = SHAPES[dim]
    grid = Grid(shape, tuple(LENGTHS[name] * n / shape[0] for n in shape))
    seg = SEGMENT[name]
    model = resolve_model(name)(grid, options={"fft": fft})
    state = model.initial_state(np.random.default_rng(1))
    mid = model.advance(state, 0.0, seg, None)
    end = model.advance(mid, seg, 2 * seg, None)
    fresh = resolve_model(name)(grid, options={"fft": fft})  # new plans, new caches
    assert fresh.advance(mid.copy(), seg, 2 * seg, None).tobytes() == end.tobytes()


def test_numba_kernels_round_like_numpy() -> None:
    pytest.importorskip("numba", reason="numba not installed")
    from fieldmovie.simulation.models.kernels import kernel_set

    name, fast = kernel_set("auto")
    assert name == "numba"
    _, slow = kernel_set("numpy")
    rng = np.random.default_rng(0)
    s, c3, tmp = (rng.standard_normal((2, 40)) for _ in range(3))
    g = rng.standard_normal((1, 40))  # the source spectrum broadcasts over the components
    k0 = rng.standard_normal(2)
    modes = [rng.standard_normal((2, 20)) for _ in range(2)]  # coefficients per mode (numba)
    c1, c2 = (np.repeat(m, 2, axis=-1) for m in modes)  # interleaved (numpy)
    assert fast["per_mode"] and not slow["per_mode"]
    cases = {
        "predict": lambda c1, c2: (s, g, c1, c2, k0, np.empty_like(s), tmp.copy()),
        "correct": lambda c1, c2: (s, g, c3[:1], c1, np.empty_like(s), tmp.copy()),
        "uvv": lambda c1, c2: (c3[0], s[1], np.empty(40)),
        "cubic": lambda c1, c2: (c3[1], 1.5, np.empty(40)),
    }
    for kernel, make_args in cases.items():
        a, b = make_args(*modes), make_args(c1, c2)
        fast[kernel](*a)
        slow[kernel](*b)
        scratch = 1 if kernel in ("predict", "correct") else 0  # tmp: numpy's scratch space
        for x, y in zip(a[: len(a) - scratch], b[: len(b) - scratch], strict=True):
            if np.shape(x) == np.shape(y):  # not the coefficients in their two layouts
                assert np.asarray(x).tobytes() == np.asarray(y).tobytes(), kernel
    with pytest.raises(ValueError, match="mismatched shapes"):  # no out-of-bounds writes
        fast["predict"](s, g, c1, c2, k0, np.empty_like(s), tmp)  # interleaved: wrong layout
    with pytest.raises(ValueError, match="mismatched shapes"):
        fast["correct"](s, g, c3[:1], c1, np.empty_like(s), tmp)


@pytest.mark.parametrize("fft", ["numpy", "auto"])
@pytest.mark.parametrize("name, dim", [("gray_scott", 1), ("gray_scott", 2), ("gray_scott", 3),
                                       ("cahn_hilliard", 2)])  # fmt: skip
def test_numba_run_is_bit_identical_to_numpy(name: str, dim: int, fft: str) -> None:
    pytest.importorskip("numba", reason="numba not installed")
    shape = SHAPES[dim]
    grid = Grid(shape, tuple(LENGTHS[name] * n / shape[0] for n in shape))
    out = {}
    for kernels in ("numpy", "numba"):
        model = resolve_model(name)(grid, options={"fft": fft, "kernels": kernels})
        assert model.kernels_name == kernels
        state = model.initial_state(np.random.default_rng(2))
        out[kernels] = model.advance(state, 0.0, 2 * SEGMENT[name], None)
    assert out["numpy"].tobytes() == out["numba"].tobytes()


def test_semilinear_nonlinear_term_matches_its_definition() -> None:
    """The folded form (one source field, coupling, constant) is the model's equation."""
    rng = np.random.default_rng(3)
    gs = make("gray_scott", 2)
    w = gs.initial_state(rng)
    u, v = w
    p = gs.params
    want = np.stack([p["F"] - u * v * v, u * v * v])
    np.testing.assert_allclose(gs.nonlinear(w), gs.spectral.forward(want), atol=1e-12)
    ch = make("cahn_hilliard", 2)
    c = ch.initial_state(rng) + 0.5 * rng.standard_normal((1, *ch.grid.shape))
    lap = -ch.params["D"] * ch.spectral.k2 * ch.spectral.forward(c**3 - c)
    np.testing.assert_allclose(ch.nonlinear(c), lap, atol=1e-10)


def test_resolution_measures_the_high_third() -> None:
    grid = Grid((32, 24), (1.0, 1.0))
    model = resolve_model("cahn_hilliard")(grid)
    x, y = np.meshgrid(*grid.coordinates(), indexing="ij")
    low = np.cos(2 * np.pi * 3 * x)  # mode 3 of 16: resolved
    high = np.cos(2 * np.pi * 10 * y)  # mode 10 > (2/3) * 12 on the 24-point axis
    assert model.resolution((2.0 + low)[np.newaxis])["c"] < 1e-28
    assert model.resolution(high[np.newaxis])["c"] == pytest.approx(1.0)
    # equal amplitudes: half of the fluctuation energy is in the high band
    assert model.resolution((low + high)[np.newaxis])["c"] == pytest.approx(0.5)
    assert model.resolution(np.ones((1, 32, 24)))["c"] == 0.0
    assert model.resolution_limit == 1e-4
    assert resolve_model("noisy_diffusion")(grid).resolution(np.ones((1, 32, 24))) is None


@pytest.mark.parametrize("name, dim", CASES)
def test_initial_states_are_resolved(name: str, dim: int) -> None:
    model = make(name, dim)
    tail = model.resolution(model.initial_state(np.random.default_rng(0)))
    if tail is not None:
        assert max(tail.values()) < model.resolution_limit


def test_pde_model_without_pypde_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pde", None)  # makes "import pde" fail
    with pytest.raises(ValueError, match=r"needs py-pde.*pip install py-pde"):
        resolve_model("pde:models_for_tests:pde_brusselator")


def test_pyfftw_loads_without_its_dask_and_scipy_interfaces() -> None:
    """Loading pyFFTW skips its costly optional interfaces and leaves imports working."""
    code = textwrap.dedent(
        """
        import importlib.util, sys
        from fieldmovie.simulation.models import fft
        if fft._pyfftw() is None:
            print("no-pyfftw"); raise SystemExit
        assert "dask.array" not in sys.modules and "scipy.fftpack" not in sys.modules
        for name in ("dask.array", "scipy.fftpack"):
            if importlib.util.find_spec(name.split(".")[0]) is not None:
                importlib.import_module(name)  # still importable afterwards
        print("ok")
        """
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("ok", "no-pyfftw")


@pytest.mark.parametrize("fft", ["numpy", "auto"])
@pytest.mark.parametrize("shape", [(17,), (15, 9), (7, 9, 5)])
@pytest.mark.parametrize("name", ["gray_scott", "cahn_hilliard"])
def test_etdrk2_equals_the_textbook_scheme(name: str, shape: tuple, fft: str) -> None:
    """The folded ETDRK2 (one source field, 1/N in the coefficients, plans on owned
    buffers) is Cox & Matthews' scheme written out with numpy.fft.rfftn, to round-off."""
    from fieldmovie.simulation.models.integrators import phi_functions

    grid = Grid(shape, tuple(LENGTHS[name] * n / 15 for n in shape))
    dt, steps = (0.5, 30) if name == "gray_scott" else (0.1, 20)
    model = resolve_model(name)(grid, options={"fft": fft, "dt": dt})
    state = model.initial_state(np.random.default_rng(0))
    if name == "cahn_hilliard":  # beyond the linear regime, so that c^3 matters
        state = state + 0.3 * np.random.default_rng(1).standard_normal(state.shape)
    p, k2, axes = model.params, model.spectral.k2, tuple(range(-len(shape), 0))

    def fwd(u):  # noqa: ANN001, ANN202
        return np.fft.rfftn(u, axes=axes)

    def inv(u):  # noqa: ANN001, ANN202
        return np.fft.irfftn(u, s=shape, axes=axes)

    if name == "gray_scott":
        lin = np.stack([-(p["Du"] * k2 + p["F"]), -(p["Dv"] * k2 + p["F"] + p["k"])])

        def nonlinear(w):  # noqa: ANN001, ANN202
            uvv = w[0] * w[1] ** 2
            return fwd(np.stack([p["F"] - uvv, uvv]))
    else:
        lin = -p["D"] * p["gamma"] * k2 * k2

        def nonlinear(w):  # noqa: ANN001, ANN202
            return -p["D"] * k2 * fwd(w**3 - w)

    phi1, phi2 = phi_functions(lin * dt, 2)
    w, w_hat = state, fwd(state)
    for _ in range(steps):
        n0 = nonlinear(w)
        a_hat = np.exp(lin * dt) * w_hat + dt * phi1 * n0
        w_hat = a_hat + dt * phi2 * (nonlinear(inv(a_hat)) - n0)
        w = inv(w_hat)
    out = model.advance(state, 0.0, steps * dt, None)
    assert np.linalg.norm(out - w) <= 1e-13 * np.linalg.norm(w)


@pytest.mark.parametrize("kernels", ["numpy", "auto"])
def test_semilinear_model_with_one_source_per_component(kernels: str) -> None:
    """Any nonlinear term fits: one source field per component (``g_i = N_i``)."""
    from fieldmovie.simulation.models import GrayScott

    class TwoSources(GrayScott):
        n_sources = 2

        def source(self, w: np.ndarray, out: np.ndarray) -> None:
            np.multiply(w[0] * w[1], w[1], out=out[1])
            np.subtract(self.params["F"], out[1], out=out[0])

        def coupling(self) -> float:
            return 1.0

        def constant(self) -> None:
            return None

    grid = Grid((24, 20), (2.5, 2.5 * 20 / 24))
    state = GrayScott(grid).initial_state(np.random.default_rng(0))
    opts = {"kernels": kernels, "dt": 0.5}
    ref = GrayScott(grid, options=opts).advance(state, 0.0, 20.0, None)
    two = TwoSources(grid, options=opts)
    np.testing.assert_allclose(two.nonlinear(state), GrayScott(grid).nonlinear(state), atol=1e-12)
    out = two.advance(state, 0.0, 20.0, None)
    assert np.linalg.norm(out - ref) <= 1e-13 * np.linalg.norm(ref)
    numpy_run = TwoSources(grid, options={**opts, "kernels": "numpy"}).advance(state, 0, 20, None)
    assert out.tobytes() == numpy_run.tobytes()

    class Bad(TwoSources):
        n_sources = 3

    with pytest.raises(ValueError, match="n_sources must be 1 or the number of components"):
        Bad(grid).advance(state, 0.0, 1.0, None)

"""py-pde PDEs as models (``model: "pde:package.module:make_pde"``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import test_simulate as ts
from workflow_helpers import TEST_MODELS, decode

from fieldmovie import MovieReader
from fieldmovie.simulation.models import Grid, resolve_model
from fieldmovie.simulation.models.pde_model import choose_rhs_backend
from fieldmovie.simulation.segment import (
    SegmentSpec,
    build_model,
    load_state,
    run_segment,
    segment_times,
)

if str(TEST_MODELS) not in sys.path:
    sys.path.insert(0, str(TEST_MODELS))

SPEC = "pde:models_for_tests:pde_brusselator"


# without py-pde: tests/test_models.py::test_pde_model_without_pypde_says_how_to_install
pde = pytest.importorskip("pde", reason="py-pde is not installed: pip install py-pde")


def test_components_parameters_and_options() -> None:
    cls = resolve_model(SPEC)
    assert cls.components == ("u", "v")  # from the PDE's variables
    assert cls.parameters == {"a": 1.0, "b": 3.0, "d": 0.1}
    model = cls(Grid((16, 16), 8.0), {"b": 2.5})
    assert model.rhs_backend == "spectral" and model.num_steps(0.0, 1.0) == 100
    assert cls(Grid((16,), 8.0), options={"dt": 0.05}).num_steps(0.0, 1.0) == 20
    with pytest.raises(ValueError, match="'rtol'.*allowed options: dt, scheme, backend, fft"):
        cls(Grid((16,), 8.0), options={"rtol": 1e-3})
    with pytest.raises(ValueError, match="'scheme'.*rk4, euler"):
        cls(Grid((16,), 8.0), options={"scheme": "rk45"})
    with pytest.raises(ValueError, match="no attribute 'nope'"):
        resolve_model("pde:models_for_tests:nope")


def test_spectral_rhs_is_the_pde(monkeypatch) -> None:
    """The evaluator's rate equals the expression with exact derivatives of a smooth field."""
    grid = Grid((32, 24), (2 * np.pi, 2 * np.pi))
    model = resolve_model(SPEC)(grid)
    x, y = np.meshgrid(*grid.coordinates(), indexing="ij")
    u, v = 1.0 + 0.2 * np.sin(x) * np.cos(2 * y), 3.0 + 0.1 * np.cos(x + y)
    lap_u, lap_v = -5 * (u - 1.0), -2 * (v - 3.0)
    a, b, d = 1.0, 3.0, 0.1
    expected = np.stack([d * lap_u + a - (b + 1) * u + u**2 * v,
                         10 * d * lap_v + b * u - u**2 * v])  # fmt: skip
    np.testing.assert_allclose(model._rate(np.stack([u, v]), 0.0), expected, atol=1e-12)


def test_unknown_operator_and_noise_are_rejected(tmp_path, monkeypatch) -> None:
    (tmp_path / "pdes_here.py").write_text(
        "import pde\n"
        "def div(p):\n    return pde.PDE({'c': 'divergence(gradient(c))'})\n"
        "def noisy(p):\n    return pde.PDE({'c': 'laplace(c)'}, noise=0.1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    div = resolve_model("pde:pdes_here:div")
    with pytest.raises(ValueError, match="'divergence' has no spectral form.*auto, numpy or"):
        div(Grid((8,), 1.0), options={"backend": "spectral"})
    model = div(Grid((8,), 1.0))  # auto: py-pde's finite differences, by the cost model
    assert model.rhs_backend == "numba"
    model.plan_segment(0.1, 10)
    assert model.rhs_backend == "numpy" and model.plan == {"rhs_backend": "numpy"}
    with pytest.raises(ValueError, match="stochastic"):
        resolve_model("pde:pdes_here:noisy")(Grid((8,), 1.0))


SETTINGS = {
    "grid": {"shape": [16, 16], "length": [16.0, 16.0]},
    "parameters": {"b": 2.5},
    "time": (0.2, 3),
    "range": {"u": [-2.0, 8.0], "v": [-2.0, 8.0]},
}


def test_segments_restart_exactly(tmp_path) -> None:
    """Segments of a py-pde PDE (resumed from saved states) equal an uninterrupted run."""
    settings = ts.settings_for(SPEC, SETTINGS)
    chain = ts.Chain(settings, tmp_path / "chain")
    frames, state, _ = ts.uninterrupted(settings)
    saved, _, _, _ = load_state(ts.paths(chain.folder, ts.N_SEGMENTS - 1)["state_out"])
    assert saved.tobytes() == state.tobytes()
    resumed = tmp_path / "resumed"
    ts.run_chain(settings, resumed, 1, ts.paths(chain.folder, 0)["state_out"])
    for k in (1, 2):
        chain.assert_same_segment(resumed, k)
    first, _ = decode(ts.paths(chain.folder, 0)["movie"])
    assert not np.array_equal(first[0], first[-1])


@pytest.mark.slow
def test_spectral_backend_agrees_with_pypde_numba() -> None:
    """py-pde's own (finite-difference, numba) right-hand side gives the same evolution."""
    grid = Grid((48,), 20.0)
    cls = resolve_model(SPEC)
    spectral = cls(grid)
    fd = cls(grid, options={"backend": "numba"})
    rng = np.random.default_rng(1)
    x = grid.coordinates()[0]
    state = np.stack([1.0 + 0.3 * np.sin(2 * np.pi * x / 20.0), np.full(48, 3.0)])
    a = spectral.advance(state, 0.0, 2.0, rng)
    b = fd.advance(state, 0.0, 2.0, rng)
    assert np.abs(a - b).max() < 1e-2 * np.abs(a).max()  # second-order FD, dx = 0.42


def test_run_segment_saves_the_exact_state(tmp_path) -> None:
    """A segment of a py-pde model writes the exact float64 state."""
    settings = ts.settings_for(SPEC, SETTINGS)
    out = ts.paths(tmp_path, 0)
    run_segment(settings, 0, **out)
    state, _, t, _ = load_state(out["state_out"])
    assert (
        state.dtype == np.float64
        and state.shape == (2, 16, 16)
        and t == segment_times(0.2, 3, 0)[-1]
    )


# -- py-pde's own right-hand sides (PDEBase subclasses): backend choice and exact restart --

CLASS_SPEC = "pde:pdebase_for_tests:brusselator_class"


def test_backend_auto_is_a_deterministic_cost_choice(tmp_path, monkeypatch) -> None:
    """auto: spectral for expression PDEs; numpy for short jobs, numba for long ones."""
    assert choose_rhs_backend(1000, 8192) == "numpy"
    assert choose_rhs_backend(10**6, 8192) == "numba"
    assert choose_rhs_backend(10**6, 8192, numba_available=False) == "numpy"
    # the break-even count of evaluations falls as the grid grows
    small = min(n for n in (2**k for k in range(30)) if choose_rhs_backend(n, 512) == "numba")
    large = min(n for n in (2**k for k in range(30)) if choose_rhs_backend(n, 10**6) == "numba")
    assert large < small
    cls = resolve_model(CLASS_SPEC)
    model = cls(Grid((16, 16), 16.0))
    assert model.rhs_backend == "numba"  # unplanned: numba, nothing built yet
    assert model.rhs_evaluations(0.2, 3) == 3 * 20 * 4
    model.plan_segment(0.2, 3)
    assert model.rhs_backend == "numpy"
    model.plan_segment(1.0, 10**5)  # 4e7 evaluations
    assert model.rhs_backend == "numba"
    euler = cls(Grid((16, 16), 16.0), options={"scheme": "euler"})
    assert euler.rhs_evaluations(0.2, 3) == 60
    expression = resolve_model(SPEC)(Grid((16, 16), 16.0))
    expression.plan_segment(1.0, 10**5)
    assert expression.rhs_backend == "spectral"
    with pytest.raises(ValueError, match="'spectral' needs an expression PDE"):
        cls(Grid((16,), 8.0), options={"backend": "spectral"})
    # a PDEBase without make_evolution_rate has no numba right-hand side: numpy
    (tmp_path / "numpy_only.py").write_text(
        "import pde\n"
        "class Decay(pde.PDEBase):\n"
        "    def evolution_rate(self, state, t=0):\n        return -state\n"
        "def make(p):\n    return Decay()\n"
        "make.components = ('c',)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    only = resolve_model("pde:numpy_only:make")(Grid((8,), 1.0))
    only.plan_segment(1.0, 10**6)
    assert only.rhs_backend == "numpy"
    state = np.ones((1, 8))
    np.testing.assert_allclose(only.advance(state, 0.0, 1.0, None), np.exp(-1.0), rtol=1e-9)


def _planned_uninterrupted(settings: dict) -> np.ndarray:
    """One model planned like a segment job, advanced over all segments in one process."""
    spec = SegmentSpec.coerce(settings)
    model = build_model(spec)
    rng = np.random.default_rng(spec.seed)
    state = model.initial_state(rng)
    times = [t for k in range(ts.N_SEGMENTS) for t in spec.frame_times(k)[:-1]]
    times.append(ts.N_SEGMENTS * spec.segment_duration)
    for t0, t1 in zip(times[:-1], times[1:], strict=True):
        state = model.advance(state, t0, t1, rng)
    return state


def _assert_class_pde_restarts_exactly(settings: dict, tmp_path, backend: str) -> None:
    chain = ts.Chain(settings, tmp_path / "chain")
    saved, _, _, _ = load_state(ts.paths(chain.folder, ts.N_SEGMENTS - 1)["state_out"])
    assert saved.tobytes() == _planned_uninterrupted(settings).tobytes()
    resumed = tmp_path / "resumed"
    ts.run_chain(settings, resumed, 1, ts.paths(chain.folder, 0)["state_out"])
    for k in (1, 2):
        chain.assert_same_segment(resumed, k)
    with MovieReader(ts.paths(chain.folder, 1)["movie"]) as reader:
        assert reader.meta.info["rhs_backend"] == backend


def test_pdebase_segments_restart_exactly_numpy(tmp_path) -> None:
    """A PDEBase subclass on py-pde's numpy right-hand side (auto for these short segments)."""
    _assert_class_pde_restarts_exactly(ts.settings_for(CLASS_SPEC, SETTINGS), tmp_path, "numpy")


@pytest.mark.slow
def test_pdebase_segments_restart_exactly_numba(tmp_path) -> None:
    """The same with py-pde's numba right-hand side (compiles once per process: slow)."""
    settings = {**ts.settings_for(CLASS_SPEC, SETTINGS), "model_options": {"backend": "numba"}}
    _assert_class_pde_restarts_exactly(settings, tmp_path, "numba")


@pytest.mark.slow
def test_pypde_numpy_and_numba_backends_agree() -> None:
    """py-pde's numpy and numba right-hand sides agree to rounding (not bit for bit)."""
    grid = Grid((24, 24), 16.0)
    cls = resolve_model(CLASS_SPEC)
    state = cls(grid).initial_state(np.random.default_rng(3))
    a = cls(grid, options={"backend": "numpy"}).advance(state, 0.0, 0.5, None)
    b = cls(grid, options={"backend": "numba"}).advance(state, 0.0, 0.5, None)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_resumed_run_keeps_its_backend(tmp_path, monkeypatch) -> None:
    """A cost model that changed between segments (e.g. an update) does not switch a run's
    right-hand side midway: the plan saved with the state wins."""
    from fieldmovie.simulation.models import pde_model
    from fieldmovie.simulation.segment import saved_plan

    settings = ts.settings_for(CLASS_SPEC, SETTINGS)
    chain = ts.Chain(settings, tmp_path / "chain")
    assert saved_plan(ts.paths(chain.folder, 0)["state_out"]) == {"rhs_backend": "numpy"}
    monkeypatch.setattr(pde_model, "NUMBA_COMPILE_SECONDS", 0.0)  # auto would pick numba now
    assert build_model(SegmentSpec.coerce(settings)).rhs_backend == "numba"
    resumed = tmp_path / "resumed"
    ts.run_chain(settings, resumed, 1, ts.paths(chain.folder, 0)["state_out"])
    for k in (1, 2):
        chain.assert_same_segment(resumed, k)
        with MovieReader(ts.paths(resumed, k)["movie"]) as reader:
            assert reader.meta.info["rhs_backend"] == "numpy"

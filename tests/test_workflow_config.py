"""Config checks of the workflow and point names.

A bad config must stop Snakemake before any job runs, with a message naming the sweep and
the key: checked with real ``snakemake -n`` runs (in parallel, they are slow to start) and,
for more variants, with :func:`fieldmovie.workflow.load_sweeps` directly -- the same path
Snakemake takes (JSON schema with defaults, then the cross-field checks). Point names must
be unique and stable for floats.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import TEST_MODELS, SnakemakeRun, run_snakemake, write_config

from fieldmovie.workflow import ConfigError, format_value, load_sweeps, point_name

if str(TEST_MODELS) not in sys.path:  # user models for load_sweeps in this process
    sys.path.insert(0, str(TEST_MODELS))

BAD = "bad_sweep"
GOOD = "good_sweep"


def base_sweep() -> dict[str, Any]:
    return {
        "model": "diffusion",
        "grid": {"shape": [16, 16]},
        "parameters": {"D": [0.1, 0.2]},
        "seeds": [0],
        "time": {"frame_interval": 0.5, "frames_per_segment": 3, "t_end": 3.0},
        "storage": {"bits": 16, "range": {"c": [-4.0, 4.0]}},
    }


def gray_scott_sweep() -> dict[str, Any]:
    sweep = base_sweep()
    sweep.update(model="gray_scott", parameters={"F": [0.03, 0.04]})
    sweep["storage"]["range"] = {"u": [0.0, 1.0], "v": [0.0, 0.6]}
    return sweep


def _set(path: str, value: Any, sweep: Callable[[], dict] = base_sweep) -> Callable[[], dict]:
    """A sweep with ``path`` (dotted) set to ``value``."""

    def make() -> dict:
        out = sweep()
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        return out

    return make


# (id, bad sweep, key the message must name); the snakemake -n runs take the first of each
# contract item ("cli"), load_sweeps takes all
CASES: list[tuple[str, Callable[[], dict], str, bool]] = [
    ("vmin-equals-vmax", _set("storage.range.c", [1.0, 1.0]), "storage.range.c", True),
    ("vmin-above-vmax", _set("storage.range.c", [2.0, -2.0]), "storage.range.c", False),
    ("range-not-auto", _set("storage.range.c", "automatic"), "storage.range", True),
    ("tolerance-zero", _set("storage.tolerance", 0.0), "storage.tolerance", False),
    (
        "tolerance-unknown-component",
        _set("storage.tolerance", {"w": 0.1}),
        "storage.tolerance",
        False,
    ),
    ("bits-7", _set("storage.bits", 7), "storage.bits", True),
    ("bits-24", _set("storage.bits", 24), "storage.bits", False),
    ("frames-per-segment-0", _set("time.frames_per_segment", 0), "time.frames_per_segment", True),
    (
        "frames-per-segment-neg",
        _set("time.frames_per_segment", -3),
        "time.frames_per_segment",
        False,
    ),
    ("frame-interval-0", _set("time.frame_interval", 0.0), "time.frame_interval", True),
    ("frame-interval-neg", _set("time.frame_interval", -0.5), "time.frame_interval", False),
    ("t-end-0", _set("time.t_end", 0.0), "time.t_end", True),
    ("t-end-neg", _set("time.t_end", -1.0), "time.t_end", False),
    ("empty-parameter-list", _set("parameters.D", []), "parameters.D", True),
    ("unknown-model", _set("model", "no_such_model"), "model", True),
    ("unknown-user-module", _set("model", "no_such_module_xyz:Model"), "model", False),
    ("unknown-user-attribute", _set("model", "models_for_tests:NoSuchModel"), "model", False),
    ("unknown-parameter", _set("parameters.Q", 1.0), "parameters.Q", True),
    ("dimension-builtin", _set("model", "kuramoto_sivashinsky"), "grid.shape", True),
    (
        "dimension-user-model",
        _set("model", "models_for_tests:decay_1d", _set("parameters", {"rate": 1.0})),
        "grid.shape",
        False,
    ),
    ("unknown-range-component", _set("storage.range.w", [0.0, 1.0]), "storage.range", False),
    # a value the model rejects in any point, not only the first one
    ("rejected-value-in-second-point", _set("parameters.D", [0.5, -1.0]), "parameters", True),
]


def names_key(message: str, key: str) -> bool:
    """The message names ``key`` as ``a.b.c`` or (JSON schema path) ``['a']['b']['c']``."""
    bracketed = "".join(f"['{part}']" for part in key.split("."))
    return key in message or bracketed in message


def names_sweep(message: str, sweep: str) -> bool:
    return f"'{sweep}'" in message or f'"{sweep}"' in message


def bad_config(make: Callable[[], dict]) -> dict[str, Any]:
    """A good sweep first, then the bad one: the message must name the right sweep."""
    return {GOOD: base_sweep(), BAD: make()}


# -- snakemake -n ----------------------------------------------------------------------------
CLI_CASES = [c for c in CASES if c[3]]


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory) -> dict[str, Any]:
    """All ``snakemake -n`` runs of this module, started at once on a few threads."""
    pool = ThreadPoolExecutor(max_workers=3)
    futures: dict[str, Any] = {}
    for case_id, make, _, _ in CLI_CASES:
        workdir = tmp_path_factory.mktemp(case_id)
        write_config(workdir, bad_config(make))
        futures[case_id] = (workdir, pool.submit(run_snakemake, workdir, "-n", check=False))
    for case_id, text in YAML_TEXTS.items():
        workdir = tmp_path_factory.mktemp(case_id)
        (workdir / "config.yaml").write_text(text)
        futures[case_id] = (workdir, pool.submit(run_snakemake, workdir, "-n", check=False))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def dry_run(dry_runs, case_id: str) -> tuple[Path, SnakemakeRun]:
    workdir, future = dry_runs[case_id]
    return workdir, future.result()


@pytest.mark.slow
@pytest.mark.parametrize(
    "case_id, key", [(c[0], c[2]) for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_config_stops_snakemake_before_any_job(dry_runs, case_id, key):
    workdir, run = dry_run(dry_runs, case_id)
    assert run.returncode != 0, run.describe()
    assert names_sweep(run.output, BAD), run.describe()
    assert names_key(run.output, key), run.describe()
    assert run.jobs == [], run.describe()
    assert not (workdir / "results").exists()
    assert not (workdir / "logs").exists()


# configs written as YAML text, as a user types them
YAML_TEXTS = {
    "yaml-floats": """
sweeps:
  floats:
    model: diffusion
    grid: {shape: [8, 8]}
    parameters: {D: [0.030, 1, 2.50]}
    time: {frame_interval: 0.5, frames_per_segment: 2, t_end: 1.0}
    storage: {range: {c: [-4, 4]}}
""",
    # README: "1, 1.0 and 1e0 give the same [name]"; YAML 1.1 (PyYAML) reads 1e-2 as a string
    "yaml-scientific-notation": """
sweeps:
  sci:
    model: diffusion
    grid: {shape: [8, 8]}
    parameters: {D: [1e-2, 2.5e-1, 1e0]}
    time: {frame_interval: 0.5, frames_per_segment: 2, t_end: 1.0}
    storage: {range: {c: [-4, 4]}}
""",
}


def planned_points(run: SnakemakeRun) -> set[str]:
    return {job["wildcards"]["point"] for job in run.jobs if job["rule"] == "simulate_segment"}


@pytest.mark.slow
def test_point_names_from_yaml_floats(dry_runs):
    _, run = dry_run(dry_runs, "yaml-floats")
    assert run.returncode == 0, run.describe()
    assert planned_points(run) == {"D~0.03_seed~0", "D~1.0_seed~0", "D~2.5_seed~0"}


@pytest.mark.slow
def test_point_names_from_yaml_scientific_notation(dry_runs):
    _, run = dry_run(dry_runs, "yaml-scientific-notation")
    assert run.returncode == 0, run.describe()
    assert planned_points(run) == {"D~0.01_seed~0", "D~0.25_seed~0", "D~1.0_seed~0"}


# -- load_sweeps -----------------------------------------------------------------------------
@pytest.mark.parametrize("make, key", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_load_sweeps_names_sweep_and_key(make, key):
    with pytest.raises(ConfigError) as info:
        load_sweeps({"sweeps": bad_config(make)})
    message = str(info.value)
    assert names_sweep(message, BAD), message
    assert names_key(message, key), message
    assert not names_sweep(message, GOOD), message


def test_load_sweeps_accepts_the_base_configs():
    sweeps = load_sweeps({"sweeps": {"a": base_sweep(), "b": gray_scott_sweep()}})
    assert sweeps["a"].n_segments == 2
    assert [p.name for p in sweeps["a"].points()] == ["D~0.1_seed~0", "D~0.2_seed~0"]
    assert [p.name for p in sweeps["b"].points()] == ["F~0.03_seed~0", "F~0.04_seed~0"]


# -- point names -----------------------------------------------------------------------------
def test_point_name_format():
    # every named parameter (swept or single), sorted keys, ending with the seed
    assert point_name({"k": 0.062, "F": 0.030}, 3) == "F~0.03_k~0.062_seed~3"
    assert point_name({}, 0) == "seed~0"
    assert point_name({"D": 1e-5}, 1) == f"D~{format_value(1e-5)}_seed~1"


@pytest.mark.parametrize(
    "a, b",
    [
        (0.1 + 0.2, 0.3),
        (1.0, math.nextafter(1.0, 2.0)),
        (1e-300, math.nextafter(1e-300, 1.0)),
        (123456789.0, math.nextafter(123456789.0, 0.0)),
        (0.1, 0.1000001),
        (-0.5, 0.5),
    ],
)
def test_different_floats_give_different_names(a, b):
    assert a != b
    assert format_value(a) != format_value(b)
    assert point_name({"x": a}, 0) != point_name({"x": b}, 0)
    assert float(format_value(a)) == a  # the name gives the value back


@pytest.mark.parametrize(
    "a, b",
    [(1, 1.0), (1.0, float("1e0")), (0.030, 0.03), (0.5, 0.25 * 2), (2, 2.0), (1e-5, 0.00001)],
)
def test_same_value_gives_the_same_name(a, b):
    assert a == b
    assert point_name({"x": a}, 0) == point_name({"x": b}, 0)


def test_point_names_of_a_sweep_are_unique_and_stable():
    sweep = base_sweep()
    sweep["parameters"] = {"D": [0.3, 0.1 + 0.2, 1, 2.5]}
    sweep["seeds"] = [0, 1]
    config = {"sweeps": {"s": sweep}}
    names = [p.name for p in load_sweeps(config)["s"].points()]
    assert len(names) == len(set(names)) == 8
    assert "D~0.3_seed~0" in names and "D~0.30000000000000004_seed~0" in names
    assert "D~1.0_seed~1" in names
    # stable: the same config (or a copy with ints written as floats) gives the same names
    again = copy.deepcopy(config)
    again["sweeps"]["s"]["parameters"]["D"] = [0.3, 0.30000000000000004, 1.0, 2.5]
    assert [p.name for p in load_sweeps(again)["s"].points()] == names
    assert [p.name for p in load_sweeps(config)["s"].points()] == names


def test_repeated_value_is_an_error_not_a_duplicate_point():
    sweep = base_sweep()
    sweep["parameters"] = {"D": [1, 1.0]}
    with pytest.raises(ConfigError, match=re.escape("parameters.D")):
        load_sweeps({"sweeps": {"s": sweep}})


def test_single_parameters_are_named_unnamed_defaults_are_not():
    sweep = gray_scott_sweep()
    sweep["parameters"] = {"F": [0.03, 0.04], "k": 0.06}  # k equals the model's default
    names = [p.name for p in load_sweeps({"sweeps": {"gs": sweep}})["gs"].points()]
    assert names == ["F~0.03_k~0.06_seed~0", "F~0.04_k~0.06_seed~0"]


def test_user_model_parameter_without_default_must_be_given(tmp_path, monkeypatch):
    """A user model may declare a parameter with default None: the config must set it."""
    (tmp_path / "needs_rate.py").write_text(
        "from fieldmovie.simulation.models import BUILTIN_MODELS\n"
        "class NeedsRate(BUILTIN_MODELS['diffusion']):\n"
        "    name = 'needs_rate'\n"
        "    parameters = {'D': None}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sweep = {
        "model": "needs_rate:NeedsRate",
        "grid": {"shape": [8]},
        "time": {"frame_interval": 1.0, "frames_per_segment": 2, "t_end": 2.0},
        "storage": {"range": {"c": [-1, 1]}},
    }
    with pytest.raises(ConfigError, match=r"sweep 'user'.*parameters\.D.*needs a value"):
        load_sweeps({"sweeps": {"user": sweep}})
    sweeps = load_sweeps({"sweeps": {"user": {**sweep, "parameters": {"D": 0.5}}}})
    assert [p.name for p in sweeps["user"].points()] == ["D~0.5_seed~0"]


def test_storage_defaults_to_auto_ranges() -> None:
    """No storage key: every component auto; a component left out of ``range`` is auto;
    a scalar tolerance applies to every component."""
    sweep = base_sweep()
    del sweep["storage"]
    mixed = gray_scott_sweep()
    mixed["storage"] = {"range": {"v": [0.0, 0.6]}, "tolerance": 1e-3}
    sweeps = load_sweeps({"sweeps": {"plain": sweep, "mixed": mixed}})
    assert sweeps["plain"].ranges == {"c": "auto"} and sweeps["plain"].bits == 16
    assert sweeps["plain"].tolerance == {}
    assert sweeps["mixed"].ranges == {"u": "auto", "v": (0.0, 0.6)}
    assert sweeps["mixed"].tolerance == {"u": 1e-3, "v": 1e-3}
    spec = sweeps["mixed"].segment_spec(sweeps["mixed"].points()[0])
    assert spec.as_dict()["range"] == {"u": "auto", "v": [0.0, 0.6]}
    assert type(spec).from_dict(spec.as_dict()) == spec

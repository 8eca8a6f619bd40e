"""Sweeps from the workflow config: points, their names, segments and result paths.

Used by the Snakefile and by users' own rules::

    from fieldmovie.workflow import load_sweeps
    sweeps = load_sweeps(config)
    rule my_analysis:
        input: sweeps["gray_scott"].movie_paths()

The config is first checked against ``workflow/schemas/config.schema.yaml`` (which fills in
defaults); :func:`load_sweeps` then checks what a schema cannot (models, their parameters
and dimensions, storage ranges) and raises :class:`ConfigError` naming sweep and key.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..movie.codec import BIT_DEPTHS
from ..simulation.models import Grid, Model, resolve_model

__all__ = ["ConfigError", "Point", "Sweep", "format_value", "load_sweeps", "point_name"]


class ConfigError(ValueError):
    """The workflow config is invalid; the message names the sweep and key."""


def format_value(value: float) -> str:
    """A parameter value in a point name: the shortest repr of the float.

    Different floats give different names and the same value always the same name
    (``1``, ``1.0`` and ``1e0`` all give ``1.0``).
    """
    value = float(value)
    return repr(0.0 if value == 0 else value)  # -0.0 == 0.0: one name


def point_name(parameters: Mapping[str, float], seed: int) -> str:
    """``key~value`` for every named parameter in sorted key order, joined by ``_``,
    ending with ``seed~N``."""
    parts = [f"{key}~{format_value(parameters[key])}" for key in sorted(parameters)]
    return "_".join([*parts, f"seed~{int(seed)}"])


@dataclass(frozen=True)
class Point:
    """One run of a sweep: parameter values named in the config and a seed."""

    sweep: str
    name: str
    parameters: dict[str, float]
    seed: int


@dataclass
class Sweep:
    """One sweep of the config, checked; see ``README.md`` for the keys."""

    name: str
    model: str
    model_class: type[Model]
    grid_shape: tuple[int, ...]
    grid_length: tuple[float, ...]
    parameters: dict[str, list[float]]
    seeds: list[int]
    frame_interval: float
    frames_per_segment: int
    t_end: float
    bits: int
    ranges: dict[str, tuple[float, float]]
    results: str = "results"
    analysis: dict[str, Any] = field(default_factory=dict)

    # -- time ------------------------------------------------------------------------------
    @property
    def segment_duration(self) -> float:
        """T = frame_interval * frames_per_segment."""
        return self.frame_interval * self.frames_per_segment

    @property
    def n_segments(self) -> int:
        """ceil(t_end / T) (a hair of tolerance for t_end given as a multiple of T)."""
        return max(1, math.ceil(self.t_end / self.segment_duration - 1e-9))

    # -- points ----------------------------------------------------------------------------
    @property
    def swept_parameters(self) -> list[str]:
        """Parameters with more than one value, sorted."""
        return sorted(k for k, v in self.parameters.items() if len(v) > 1)

    def points(self) -> list[Point]:
        """The Cartesian product of parameter values and seeds."""
        keys = sorted(self.parameters)
        out = []
        for values in itertools.product(*(self.parameters[k] for k in keys)):
            params = dict(zip(keys, values, strict=True))
            for seed in self.seeds:
                out.append(Point(self.name, point_name(params, seed), params, seed))
        return out

    @functools.cached_property
    def _points_by_name(self) -> dict[str, Point]:
        return {p.name: p for p in self.points()}

    def point(self, name: str) -> Point:
        """The point of that name."""
        try:
            return self._points_by_name[name]
        except KeyError:
            raise KeyError(f"sweep {self.name!r} has no point {name!r}") from None

    # -- paths -----------------------------------------------------------------------------
    def point_dir(self, point: Point | str) -> str:
        """``<results>/<sweep>/<point>``."""
        name = point if isinstance(point, str) else point.name
        return f"{self.results}/{self.name}/{name}"

    def segment_paths(self, point: Point | str) -> list[str]:
        """Movie segments ``segments/<k:04d>.mkv`` of a point, k = 0 .. n_segments-1."""
        base = self.point_dir(point)
        return [f"{base}/segments/{k:04d}.mkv" for k in range(self.n_segments)]

    def movie_path(self, point: Point | str) -> str:
        """The joined movie of a point."""
        return f"{self.point_dir(point)}/movie.mkv"

    def validation_path(self, point: Point | str) -> str:
        """The validation report of the joined movie."""
        return f"{self.point_dir(point)}/movie.validation.json"

    def movie_paths(self) -> list[str]:
        """Joined movies of all points, in point order."""
        return [self.movie_path(p) for p in self.points()]

    def validation_paths(self) -> list[str]:
        """Validation reports of all points."""
        return [self.validation_path(p) for p in self.points()]

    # -- what a segment job needs ----------------------------------------------------------
    def segment_settings(self, point: Point | str) -> dict[str, Any]:
        """Everything a segment job depends on, JSON-able.

        This is the job's ``params`` and so one of Snakemake's rerun triggers: it must not
        contain ``t_end`` (extending a run must not recompute finished segments).
        """
        if isinstance(point, str):
            point = self.point(point)
        return {
            "sweep": self.name,
            "point": point.name,
            "model": self.model,
            "parameters": dict(point.parameters),
            "seed": point.seed,
            "grid_shape": list(self.grid_shape),
            "grid_length": list(self.grid_length),
            "frame_interval": self.frame_interval,
            "frames_per_segment": self.frames_per_segment,
            "bits": self.bits,
            "range": {c: list(r) for c, r in self.ranges.items()},
        }

    @property
    def grid_points(self) -> int:
        """Number of grid points."""
        return math.prod(self.grid_shape)

    def segment_runtime(self) -> int:
        """Generous wall-time estimate of one segment job in minutes (for cluster queues)."""
        work = self.grid_points * len(self.model_class.components) * self.frames_per_segment
        return int(10 + math.ceil(work / 2e6))

    def mem_mb(self, copies: int = 24, base: int = 250) -> int:
        """Memory estimate for a job holding ``copies`` float64 copies of the state."""
        state_mb = self.grid_points * len(self.model_class.components) * 8 / 2**20
        return int(base + copies * state_mb)


def _sweep_error(sweep: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"config: sweep {sweep!r}: {key}: {message}")


def _load_sweep(name: str, cfg: Mapping[str, Any], results: str) -> Sweep:
    try:
        model_class = resolve_model(str(cfg["model"]))
    except (ValueError, ImportError, AttributeError) as exc:
        raise _sweep_error(name, "model", str(exc)) from None
    grid = cfg.get("grid") or {}
    shape = tuple(int(n) for n in grid.get("shape", ()))
    if not shape or len(shape) > 3 or any(n < 1 for n in shape):
        raise _sweep_error(name, "grid.shape", f"{list(shape)}: need 1 to 3 sizes >= 1")
    if len(shape) not in model_class.dims:
        raise _sweep_error(
            name, "grid.shape",
            f"model {cfg['model']!r} cannot do {len(shape)}D grids "
            f"(supported: {', '.join(f'{d}D' for d in model_class.dims)})",
        )  # fmt: skip
    length = grid.get("length")
    if length is None:
        length = [float(n) for n in shape]
    if len(length) != len(shape) or not all(float(x) > 0 for x in length):
        raise _sweep_error(name, "grid.length", f"{length}: need {len(shape)} positive lengths")

    parameters: dict[str, list[float]] = {}
    for key, value in (cfg.get("parameters") or {}).items():
        if key not in model_class.parameters:
            allowed = ", ".join(model_class.parameters) or "(none)"
            raise _sweep_error(
                name, f"parameters.{key}",
                f"model {cfg['model']!r} has no parameter {key!r}; allowed: {allowed}",
            )  # fmt: skip
        values = value if isinstance(value, list) else [value]
        if not values:
            raise _sweep_error(name, f"parameters.{key}", "empty list of values")
        try:
            floats = [float(v) for v in values]
        except (TypeError, ValueError):
            raise _sweep_error(name, f"parameters.{key}", f"{values}: numbers only") from None
        if not all(math.isfinite(v) for v in floats):
            raise _sweep_error(name, f"parameters.{key}", f"{values}: values must be finite")
        if len(set(floats)) != len(floats):
            raise _sweep_error(name, f"parameters.{key}", f"{values}: repeated value")
        parameters[key] = floats

    seeds = [int(s) for s in cfg.get("seeds", [0])]
    if not seeds:
        raise _sweep_error(name, "seeds", "empty list of seeds")
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise _sweep_error(name, "seeds", f"{seeds}: need distinct seeds >= 0")

    time = cfg.get("time") or {}
    frame_interval = float(time.get("frame_interval", 0))
    frames_per_segment = int(time.get("frames_per_segment", 0))
    t_end = float(time.get("t_end", 0))
    if not (frame_interval > 0 and math.isfinite(frame_interval)):
        raise _sweep_error(name, "time.frame_interval", f"{frame_interval}: must be > 0")
    if frames_per_segment < 1:
        raise _sweep_error(name, "time.frames_per_segment", f"{frames_per_segment}: must be >= 1")
    if not (t_end > 0 and math.isfinite(t_end)):
        raise _sweep_error(name, "time.t_end", f"{t_end}: must be > 0")

    storage = cfg.get("storage") or {}
    bits = storage.get("bits", 16)
    if bits not in BIT_DEPTHS:
        raise _sweep_error(name, "storage.bits", f"{bits}: allowed {list(BIT_DEPTHS)}")
    given = storage.get("range") or {}
    ranges: dict[str, tuple[float, float]] = {}
    for comp in model_class.components:
        if comp not in given:
            raise _sweep_error(
                name, f"storage.range.{comp}",
                f"component {comp!r} of model {cfg['model']!r} has no range [vmin, vmax]",
            )  # fmt: skip
        lo_hi = given[comp]
        if not isinstance(lo_hi, list | tuple) or len(lo_hi) != 2:
            raise _sweep_error(name, f"storage.range.{comp}", f"{lo_hi}: need [vmin, vmax]")
        lo, hi = float(lo_hi[0]), float(lo_hi[1])
        if not lo < hi:
            raise _sweep_error(name, f"storage.range.{comp}", f"vmin={lo} must be < vmax={hi}")
        ranges[comp] = (lo, hi)
    unknown = sorted(set(given) - set(model_class.components))
    if unknown:
        raise _sweep_error(
            name, "storage.range",
            f"unknown component(s) {unknown}; model {cfg['model']!r} has "
            f"{list(model_class.components)}",
        )  # fmt: skip

    sweep = Sweep(
        name=name,
        model=str(cfg["model"]),
        model_class=model_class,
        grid_shape=shape,
        grid_length=tuple(float(x) for x in length),
        parameters=parameters,
        seeds=seeds,
        frame_interval=frame_interval,
        frames_per_segment=frames_per_segment,
        t_end=t_end,
        bits=int(bits),
        ranges=ranges,
        results=results,
        analysis=dict(cfg.get("analysis") or {}),
    )
    # building the model checks parameter values the model itself rejects, for every
    # combination (seeds do not matter); the model's message names the parameter
    grid_obj = Grid(sweep.grid_shape, sweep.grid_length)
    keys = sorted(parameters)
    for values in itertools.product(*(parameters[k] for k in keys)):
        combination = dict(zip(keys, values, strict=True))
        try:
            model_class(grid_obj, combination)
        except (ValueError, TypeError) as exc:
            named = [k for k in model_class.parameters if repr(k) in str(exc)] or keys
            where = ", ".join(f"parameters.{k}" for k in named) or "parameters"
            raise _sweep_error(name, where, f"{combination}: {exc}") from None
    return sweep


#: YAML 1.1 (PyYAML) reads 1e-5 as a string; only these exponent forms are converted
_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def coerce_numbers(obj: Any) -> Any:
    """Turn strings such as ``"1e-5"`` (numbers in YAML 1.2, strings in PyYAML) into floats.

    Works in place on dicts and lists (values only, never keys) and returns ``obj``.
    """
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    )
    for key, value in list(items):
        if isinstance(value, str) and _EXPONENT_NUMBER.match(value.strip()):
            obj[key] = float(value)
        elif isinstance(value, dict | list):
            coerce_numbers(value)
    return obj


def check_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Check ``config`` against the JSON schema and return it.

    Exponent numbers are converted first; a schema violation raises :class:`ConfigError`
    naming the key as a dotted path (``sweeps.gray_scott.time.t_end``) instead of a dump
    of the schema. Defaults are filled in by Snakemake's ``validate`` afterwards.
    """
    import jsonschema
    import yaml

    coerce_numbers(config)
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(config))
    if error is not None:
        path = list(error.absolute_path)
        where = ".".join(str(p) for p in path) or "(top level)"
        sweep = f"sweep {path[1]!r}: " if len(path) > 1 and path[0] == "sweeps" else ""
        raise ConfigError(f"config: {sweep}{where}: {error.message}")
    return config


def load_sweeps(config: Mapping[str, Any]) -> dict[str, Sweep]:
    """All sweeps of a (schema-validated) config, checked; ConfigError names sweep and key."""
    sweeps_cfg = config.get("sweeps")
    if not isinstance(sweeps_cfg, Mapping) or not sweeps_cfg:
        raise ConfigError("config: 'sweeps' must map at least one sweep name to its settings")
    results = str(config.get("results", "results"))
    sweeps = {}
    for name, cfg in sweeps_cfg.items():
        if "/" in name or name in ("", ".", ".."):
            raise ConfigError(f"config: sweep name {name!r} must be usable as a folder name")
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"config: sweep {name!r}: settings must be a mapping")
        sweeps[name] = _load_sweep(name, cfg, results)
    return sweeps


def sweep_points(config: Mapping[str, Any], sweep: str) -> list[Point]:
    """Points of one sweep of a config (for a user's rule)."""
    return load_sweeps(config)[sweep].points()

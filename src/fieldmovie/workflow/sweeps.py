"""Sweeps from the workflow config: points, their names, segments and result paths.

Used by the Snakefile and by users' own rules::

    from fieldmovie.workflow import load_sweeps
    sweeps = load_sweeps(config)
    rule my_analysis:
        input: sweeps["gray_scott"].movie_paths()

:func:`load_sweeps` checks the config against its JSON schema (filling in the defaults) and
then runs the cross-field checks of :mod:`fieldmovie.workflow.config`; both raise
:class:`ConfigError` naming sweep and key. Snakemake and the tests take this same path.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..simulation.models import Grid, Model
from ..simulation.spec import SegmentSpec
from .config import (
    ConfigError,
    check_config,
    check_grid,
    check_model,
    check_model_accepts,
    check_parameters,
    check_ranges,
    check_time,
    check_tolerance,
)
from .layout import ResultsLayout

__all__ = ["ConfigError", "Point", "Sweep", "format_value", "load_sweeps", "point_name"]


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
    #: component -> "auto" or a fixed (vmin, vmax)
    ranges: dict[str, str | tuple[float, float]]
    results: str = "results"
    analysis: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    #: component -> largest allowed quantization error (``storage.tolerance``)
    tolerance: dict[str, float] = field(default_factory=dict)

    @property
    def layout(self) -> ResultsLayout:
        """Concrete paths of this sweep's results: ``sweep.layout.observables(point)``."""
        return ResultsLayout(self.results, self.name)

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

    # -- paths (see ResultsLayout for every output) ---------------------------------------
    def point_dir(self, point: Point | str) -> str:
        """``<results>/<sweep>/<point>``."""
        return self.layout.point_dir(point)

    def segment_paths(self, point: Point | str) -> list[str]:
        """Movie segments ``segments/<k:04d>.mkv`` of a point, k = 0 .. n_segments-1."""
        return [self.layout.segment(point, k) for k in range(self.n_segments)]

    def movie_path(self, point: Point | str) -> str:
        """The joined movie of a point."""
        return self.layout.movie(point)

    def validation_path(self, point: Point | str) -> str:
        """The validation report of the joined movie."""
        return self.layout.validation(point)

    def movie_paths(self) -> list[str]:
        """Joined movies of all points, in point order."""
        return [self.movie_path(p) for p in self.points()]

    def validation_paths(self) -> list[str]:
        """Validation reports of all points."""
        return [self.validation_path(p) for p in self.points()]

    # -- what a segment job needs ----------------------------------------------------------
    def segment_spec(self, point: Point | str) -> SegmentSpec:
        """Everything a segment job of ``point`` depends on (not ``t_end``)."""
        if isinstance(point, str):
            point = self.point(point)
        return SegmentSpec(
            sweep=self.name,
            point=point.name,
            model=self.model,
            parameters=point.parameters,
            seed=point.seed,
            grid_shape=self.grid_shape,
            grid_length=self.grid_length,
            frame_interval=self.frame_interval,
            frames_per_segment=self.frames_per_segment,
            bits=self.bits,
            ranges=self.ranges,
            model_options=self.model_options,
            strict=self.strict,
            tolerance=self.tolerance,
        )

    def segment_settings(self, point: Point | str) -> dict[str, Any]:
        """The segment spec as a JSON-able dict: the job's ``params`` and so one of
        Snakemake's rerun triggers (it has no ``t_end``: extending a run must not recompute
        finished segments)."""
        return self.segment_spec(point).as_dict()

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


def _load_sweep(name: str, cfg: Mapping[str, Any], results: str) -> Sweep:
    """One sweep of a config that has passed the schema: the cross-field checks, in order."""
    model_class = check_model(name, cfg)
    shape, length = check_grid(name, cfg, model_class)
    parameters = check_parameters(name, cfg, model_class)
    check_time(name, cfg)
    ranges = check_ranges(name, cfg, model_class)
    tolerance = check_tolerance(name, cfg, model_class)
    check_model_accepts(name, model_class, Grid(shape, length), parameters, cfg["model_options"])
    time = cfg["time"]
    return Sweep(
        name=name,
        model=str(cfg["model"]),
        model_class=model_class,
        grid_shape=shape,
        grid_length=length,
        parameters=parameters,
        seeds=[int(s) for s in cfg["seeds"]],
        frame_interval=float(time["frame_interval"]),
        frames_per_segment=int(time["frames_per_segment"]),
        t_end=float(time["t_end"]),
        bits=int(cfg["storage"]["bits"]),
        ranges=ranges,
        results=results,
        analysis=dict(cfg["analysis"]),
        model_options=dict(cfg["model_options"]),
        strict=bool(cfg["strict"]),
        tolerance=tolerance,
    )


def load_sweeps(config: dict[str, Any]) -> dict[str, Sweep]:
    """All sweeps of a config, checked: the schema (defaults filled in, in place), then the
    cross-field checks. :class:`ConfigError` names sweep and key."""
    check_config(config)
    return {
        name: _load_sweep(name, cfg, config["results"]) for name, cfg in config["sweeps"].items()
    }


def sweep_points(config: Mapping[str, Any], sweep: str) -> list[Point]:
    """Points of one sweep of a config (for a user's rule)."""
    return load_sweeps(config)[sweep].points()

"""The :class:`Model` base class: parameters, options, step selection and ``advance``.

A model implements one hook, :meth:`Model.integrate` (advance a state over ``[t0, t1]``
in ``n`` equal steps), plus :meth:`Model.initial_state`. :meth:`Model.advance` checks the
arguments, chooses ``n`` from the interval and the model's options only (never from wall
time or earlier calls) and calls the hook, so restarts are bit-identical.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .grid import Grid

__all__ = ["Model"]


def _positive_number(model: str, key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ValueError(
            f"model option {key!r} of model {model!r} must be a finite number > 0, got {value!r}"
        )
    return number


class Model:
    """Base class of all models.

    Subclasses define the class attributes ``name``, ``components``, ``parameters``
    (names -> defaults; ``None`` for a parameter the user must give), ``dims``
    (supported grid dimensions), optionally ``stochastic`` and ``dt_max`` (the default
    maximal step), and implement :meth:`initial_state` and :meth:`integrate`.

    Time-step control (``options``):

    ``dt``
        fixed maximal step: ``n = max(1, ceil((t1 - t0) / dt - 1e-9))`` equal steps.
    ``rtol``
        accuracy target: the relative error of one ``advance`` call (one frame interval);
        the step is ``dt(rtol, t1 - t0)`` from the model's error model ``C T dt^p <= rtol``
        (class attributes ``order`` = p and ``error_constant`` = C, calibrated by the
        convergence tests), capped at ``dt_max``.  Only models with an error model take it.

    Without either option a model with an error model uses ``default_rtol``, others
    ``dt_max``.  Instances carry ``grid``, ``params`` (all parameters as floats) and
    ``options`` (the validated options, defaults filled in).
    """

    name: ClassVar[str]
    components: ClassVar[tuple[str, ...]]
    parameters: ClassVar[dict[str, float | None]]  # None: no default, the config must set it
    dims: ClassVar[tuple[int, ...]]
    stochastic: ClassVar[bool] = False
    #: maximal internal step (stability / validity bound); per instance from the options
    dt_max: float = 1.0
    #: time-stepping order ``p`` and error constant ``C`` of ``err ~ C T dt^p`` (or None)
    order: ClassVar[float | None] = None
    error_constant: ClassVar[float | None] = None
    default_rtol: ClassVar[float | None] = None
    #: the step options this model takes (adapters of self-stepping factories take none)
    step_options: ClassVar[tuple[str, ...]] = ("rtol", "dt")
    #: model-specific options and their defaults (on top of ``rtol`` and ``dt``)
    extra_options: ClassVar[dict[str, Any]] = {}
    #: tail fraction above which :meth:`resolution` calls a field under-resolved
    resolution_limit: ClassVar[float | None] = None

    def __init__(
        self,
        grid: Grid,
        parameters: Mapping[str, float] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """Validate ``grid``, ``parameters`` and ``options`` and fill in defaults.

        Raises
        ------
        ValueError
            For an unknown parameter or option (the message lists the allowed ones), a
            bad value, or an unsupported grid dimension.
        """
        cls = type(self)
        if not isinstance(grid, Grid):
            raise TypeError(
                f"model {self._display_name()!r} needs a fieldmovie.simulation.Grid, got {grid!r}"
            )
        if grid.dim not in tuple(cls.dims):
            raise ValueError(
                f"model {self._display_name()!r} does not support {grid.dim}D grids "
                f"(supported dimensions: {', '.join(str(d) for d in cls.dims)})"
            )
        self.grid: Grid = grid
        self.params: dict[str, float] = self._checked_parameters(parameters)
        self.options: dict[str, Any] = self._checked_options(options)

    def _checked_parameters(self, parameters: Mapping[str, float] | None) -> dict[str, float]:
        cls, model_name = type(self), self._display_name()
        given = dict(parameters or {})
        unknown = sorted(set(given) - set(cls.parameters))
        if unknown:
            allowed = ", ".join(cls.parameters) or "(none)"
            raise ValueError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)} for model {model_name!r}; "
                f"allowed parameters: {allowed}"
            )
        params: dict[str, float] = {}
        for key, default in cls.parameters.items():
            if default is None and key not in given:
                raise ValueError(
                    f"model {model_name!r} needs a value for parameter {key!r} (it has no default)"
                )
            value = given.get(key, default)
            try:
                fvalue = float(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"parameter {key!r} of model {model_name!r} must be a number, got {value!r}"
                ) from exc
            if not math.isfinite(fvalue):
                raise ValueError(
                    f"parameter {key!r} of model {model_name!r} must be finite, got {value!r}"
                )
            params[key] = fvalue
        return params

    def _checked_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        cls, model_name = type(self), self._display_name()
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ValueError(f"model_options of model {model_name!r} must be a mapping, "
                             f"got {options!r}")  # fmt: skip
        allowed = (*cls.step_options, *cls.extra_options)
        unknown = sorted(str(k) for k in options if k not in allowed)
        if unknown:
            raise ValueError(
                f"unknown model option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)} for model {model_name!r}; "
                f"allowed options: {', '.join(allowed) or '(none)'}"
            )
        out: dict[str, Any] = {**cls.extra_options, "rtol": None, "dt": None}
        if options.get("rtol") is not None and options.get("dt") is not None:
            raise ValueError(f"model {model_name!r}: give model option 'rtol' or 'dt', not both")
        if options.get("dt") is not None:
            out["dt"] = _positive_number(model_name, "dt", options["dt"])
        if options.get("rtol") is not None:
            if cls.error_constant is None or cls.order is None:
                raise ValueError(
                    f"model option 'rtol' is not available for model {model_name!r} (it has "
                    "no error model); use the option 'dt' (a fixed maximal step)"
                )
            out["rtol"] = _positive_number(model_name, "rtol", options["rtol"])
        elif out["dt"] is None and cls.error_constant is not None:
            out["rtol"] = cls.default_rtol
        for key in cls.extra_options:
            if key in options:
                out[key] = self._check_extra_option(key, options[key])
        return out

    def _check_extra_option(self, key: str, value: Any) -> Any:
        """Validate a model-specific option (override; raise ValueError naming ``key``)."""
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid={self.grid!r}, parameters={self.params!r})"

    @property
    def state_shape(self) -> tuple[int, ...]:
        """``(n_components, *grid.shape)``."""
        return (len(self.components), *self.grid.shape)

    def time_scale(self) -> float:
        """Time unit of the error model (``dt`` and ``T`` are measured in it)."""
        return 1.0

    def step_size(self, interval: float) -> float:
        """The maximal step for an ``advance`` over ``interval`` (from the options only)."""
        if self.options.get("dt") is not None:
            return float(self.options["dt"])
        rtol, constant = self.options.get("rtol"), self.error_constant
        if rtol is None or not constant or self.order is None or interval <= 0:
            return self.dt_max  # constant 0: exact, one step meets any rtol
        tau = self.time_scale()
        dt = tau * (rtol / (self.error_constant * max(interval / tau, 1.0))) ** (1.0 / self.order)
        return min(dt, self.dt_max)

    def num_steps(self, t0: float, t1: float) -> int:
        """Number of equal internal steps for ``[t0, t1]``: ``ceil((t1-t0)/step - 1e-9)``."""
        return max(1, math.ceil((t1 - t0) / self.step_size(t1 - t0) - 1e-9))

    def plan_segment(
        self, frame_interval: float, frames: int, previous: Mapping[str, Any] | None = None
    ) -> None:
        """Prepare for a job of ``frames`` advances over ``frame_interval`` each (a segment).

        Called by :func:`~fieldmovie.simulation.segment.build_model` before the first
        ``advance``; a model whose setup cost depends on the job's length (py-pde's
        right-hand side backend) chooses here.  Must be deterministic (no clock), so every
        segment of a run makes the same choice; ``previous`` is the :attr:`plan` saved by
        the segment this one resumes from, which a model reuses so that a run never
        changes its choice midway (e.g. after a fieldmovie update).  The default does
        nothing.
        """

    @property
    def plan(self) -> dict[str, Any]:
        """The choices :meth:`plan_segment` made (JSON-serialisable; saved with the state)."""
        return {}

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        """Initial state, float64 of shape ``(n_components, *grid.shape)``.

        Random initial conditions draw only from ``rng``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement initial_state()")

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """The hook: return the state at ``t1`` from ``state`` at ``t0`` in ``n`` equal steps.

        ``state`` is a private float64 copy (it may be modified); ``dt = (t1 - t0) / n``.
        Must depend only on its arguments and the parameters; random numbers come only
        from ``rng``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement integrate()")

    def advance(
        self, state: np.ndarray, t0: float, t1: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Return the state at ``t1`` given ``state`` at ``t0`` (``state`` is not modified).

        Deterministic: a pure function of ``state``, ``t0``, ``t1``, the parameters, the
        options and (for stochastic models) the state of ``rng``.  ``t1 == t0`` returns a
        copy of ``state`` without drawing from ``rng``.

        Raises
        ------
        ValueError
            If ``state`` has the wrong shape, or ``t1 < t0`` / non-finite times.
        """
        u, t0, t1 = self._check_advance_args(state, t0, t1)
        if t1 == t0:
            return u.copy()
        out = self.integrate(u.copy(), t0, t1, self.num_steps(t0, t1), rng)
        return np.asarray(out, dtype=np.float64)

    def resolution(self, state: np.ndarray) -> dict[str, float] | None:
        """Per component, how far ``state`` is from under-resolved (None: not measured).

        Spectral models return the fraction of fluctuation energy in the highest third of
        wave numbers (:func:`~fieldmovie.simulation.models.spectral.spectral_tail`);
        a value above :attr:`resolution_limit` means the grid is too coarse.
        """
        return None

    def _check_advance_args(
        self, state: np.ndarray, t0: float, t1: float
    ) -> tuple[np.ndarray, float, float]:
        u = np.asarray(state, dtype=np.float64)
        if u.shape != self.state_shape:
            raise ValueError(
                f"state of model {self._display_name()!r} must have shape "
                f"{self.state_shape}, got {u.shape}"
            )
        t0, t1 = float(t0), float(t1)
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"times must be finite, got t0={t0}, t1={t1}")
        if t1 < t0:
            raise ValueError(f"cannot advance backwards in time (t0={t0} > t1={t1})")
        return u, t0, t1

    def _display_name(self) -> str:
        return getattr(type(self), "name", type(self).__name__)

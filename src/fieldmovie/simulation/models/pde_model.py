"""py-pde PDEs as models: ``model: "pde:package.module:make_pde"``.

``make_pde(parameters)`` returns a py-pde PDE (a ``pde.PDE`` of expressions or any
``PDEBase`` subclass) for a parameter dict.  Optional attributes of ``make_pde``:

``parameters``
    names -> defaults (default ``{}``).
``components``
    the field names; taken from ``pde.PDE(...).variables`` when not given (required for
    other ``PDEBase`` subclasses).
``dims``
    supported grid dimensions (default ``(1, 2, 3)``).
``dt``
    the default step (default 1e-3, py-pde's).
``initial_state(grid, parameters, rng)``
    the initial state as a py-pde field (or array ``(n_components, *shape)``) on the
    periodic ``pde.CartesianGrid`` given; default: each component a smooth random field of
    standard deviation 0.1 (:func:`~.spectral.smooth_random_field`).

The PDE runs on a periodic Cartesian grid with a fixed-step solver of ours (options
``dt``, ``scheme``: ``rk4`` (default) or ``euler``), so the step sequence depends only on
the interval and a saved float64 state restarts exactly.  The right-hand side (option
``backend``):

``spectral``
    expression PDEs (``pde.PDE``) only: our spectral evaluation
    (:class:`SpectralExpressionRHS`), no numba; the ``auto`` choice for them.
``numpy``
    py-pde's ``evolution_rate`` on fields: for a ``PDEBase`` subclass ~1.5 s to build in a
    fresh process (its grid operators are numba-jitted but small) and ~1 ms of Python
    overhead per evaluation; for an expression PDE py-pde still compiles (~20 s).
``numba``
    py-pde's compiled ``make_evolution_rate``: fast per evaluation, but py-pde generates
    its closures at run time, so numba compiles them in every process (10-120 s) and
    numba's on-disk cache cannot keep them (their cache keys hash the closure cells, which
    hold numba dispatchers with a fresh uuid in each process).
``auto``
    ``spectral`` for expression PDEs whose operators it knows; for other PDEs the cheaper
    of ``numpy`` and ``numba`` for one segment job by :func:`choose_rhs_backend` (a cost
    model of the number of right-hand side evaluations and grid values, no clock),
    decided in :meth:`PDEModel.plan_segment`, so every segment of a run makes the same
    choice; ``numba`` when no segment is planned (direct use of the model).  The choice is
    recorded in the movie's info (``rhs_backend``).  numpy and numba agree to rounding, not
    bit for bit: a run must keep one backend, which the deterministic choice and the
    :attr:`PDEModel.plan` saved with each state (a resumed segment keeps it) guarantee.

Stochastic PDEs (py-pde noise) are rejected: py-pde draws their noise from its own
generator, not from the run's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import Model
from .fft import BACKENDS
from .grid import Grid
from .loading import PDE_PREFIX, load_object
from .spectral import SpectralOperators, smooth_random_field

__all__ = ["PDEModel", "choose_rhs_backend", "pde_model_class"]

log = logging.getLogger(__name__)

SCHEMES = ("rk4", "euler")
RHS_BACKENDS = ("auto", "spectral", "numba", "numpy")
#: py-pde operators the spectral evaluator knows (all on periodic grids)
SPECTRAL_OPERATORS = ("laplace", "d_dx", "d_dy", "d_dz", "gradient_squared")
#: right-hand side evaluations per step of each scheme
STAGES = {"rk4": 4, "euler": 1}
#: compiled right-hand sides per (spec, parameters, grid, backend): a pure cache
_RHS_CACHE: dict[tuple, Any] = {}

#: cost model of :func:`choose_rhs_backend` (seconds; fresh processes on the project's
#: 2-core machine under the load of a parallel session, 2-component Brusselator on 64^2,
#: bench/bench_models.py part 3: numba compile 11-17 s, numpy 1.2 ms and numba 0.03 ms per
#: evaluation, numpy ~9 ns more per grid value at 256^2): numba's compilation of a py-pde
#: right-hand side, and per evaluation the numpy backend's Python overhead plus the cost
#: per grid value (points x components) of each backend.  Near the break-even point both
#: cost about the same, so rough constants only shift the choice where it hardly matters.
NUMBA_COMPILE_SECONDS = 15.0
NUMPY_CALL_SECONDS = 1e-3
NUMPY_VALUE_SECONDS = 1e-8
NUMBA_VALUE_SECONDS = 3e-9


def choose_rhs_backend(evaluations: int, values: int, numba_available: bool = True) -> str:
    """``numpy`` or ``numba``: the cheaper py-pde right-hand side for one segment job.

    ``evaluations`` right-hand side calls on a state of ``values`` numbers cost about
    ``evaluations * (NUMPY_CALL_SECONDS + NUMPY_VALUE_SECONDS * values)`` with numpy and
    ``NUMBA_COMPILE_SECONDS + evaluations * NUMBA_VALUE_SECONDS * values`` with numba.  A
    pure function of its arguments (no clock), so all segments of a run choose alike.
    """
    if not numba_available:
        return "numpy"
    numpy_cost = evaluations * (NUMPY_CALL_SECONDS + NUMPY_VALUE_SECONDS * values)
    numba_cost = NUMBA_COMPILE_SECONDS + evaluations * NUMBA_VALUE_SECONDS * values
    return "numba" if numba_cost < numpy_cost else "numpy"


def import_pypde(spec: str) -> Any:
    """The ``pde`` package, or a ValueError saying how to install it."""
    try:
        import pde
    except ImportError as exc:
        raise ValueError(
            f"model spec {spec!r} needs py-pde, which is not installed: "
            "pip install py-pde (or pip install 'fieldmovie[pde]')"
        ) from exc
    return pde


class PDEModel(Model):
    """A py-pde PDE stepped with a fixed-step explicit solver (see the module docstring)."""

    _factory: ClassVar[Any]
    _spec: ClassVar[str]
    step_options: ClassVar[tuple[str, ...]] = ("dt",)
    extra_options: ClassVar[dict[str, Any]] = {"scheme": "rk4", "backend": "auto", "fft": "auto"}

    def __init__(
        self,
        grid: Grid,
        parameters: Mapping[str, float] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(grid, parameters, options)
        pde = import_pypde(self._spec)
        self.dt_max = float(getattr(self._factory, "dt", 1e-3))
        self.pde = self._factory(dict(self.params))
        if getattr(self.pde, "is_sde", False):
            raise ValueError(
                f"model spec {self._spec!r}: stochastic py-pde PDEs (noise) are not supported"
            )
        bounds = [(0.0, length) for length in grid.length]
        self.pde_grid = pde.CartesianGrid(bounds, list(grid.shape), periodic=True)
        backend = self.options["backend"]
        expression = isinstance(self.pde, pde.PDE)
        if backend == "spectral" and not expression:
            raise ValueError(
                f"model spec {self._spec!r}: backend 'spectral' needs an expression PDE "
                "(pde.PDE); use backend numpy, numba or auto"
            )
        self._rhs: Any = None
        if backend in ("auto", "spectral") and expression:
            try:
                self._rhs = SpectralExpressionRHS(self.pde, self.components, grid,
                                                  self.options["fft"])  # fmt: skip
                backend = "spectral"
            except NoSpectralForm as exc:
                if backend == "spectral":
                    raise ValueError(f"model spec {self._spec!r}: {exc}") from None
                log.info("model spec %r: %s; backend auto uses py-pde's", self._spec, exc)
        # auto without a spectral form: numba until plan_segment decides
        self._auto = backend == "auto"
        if backend == "auto":
            backend = "numba" if self._has_numba_rhs() else "numpy"
        self.rhs_backend: str = backend
        if self._rhs is None and not self._auto:  # build now: a PDE that cannot fails at once
            self._rhs = self._build_rhs()

    def _has_numba_rhs(self) -> bool:
        """Whether the PDE implements ``make_evolution_rate`` (py-pde's numba backend)."""
        import pde

        method = getattr(type(self.pde), "make_evolution_rate", None)
        return isinstance(self.pde, pde.PDE) or method is not pde.PDEBase.make_evolution_rate

    def rhs_evaluations(self, frame_interval: float, frames: int) -> int:
        """Right-hand side evaluations of ``frames`` advances over ``frame_interval``."""
        steps = self.num_steps(0.0, frame_interval)
        return int(frames) * steps * STAGES[self.options["scheme"]]

    def plan_segment(
        self, frame_interval: float, frames: int, previous: Mapping[str, Any] | None = None
    ) -> None:
        """With ``backend: auto`` (not an expression PDE): pick numpy or numba for a job of
        ``frames`` frames (:func:`choose_rhs_backend`), or keep ``previous["rhs_backend"]``
        (the choice of the segment this one resumes from)."""
        if not self._auto or self._rhs is not None:
            return
        kept = (previous or {}).get("rhs_backend")
        if kept in ("numpy", "numba"):
            self.rhs_backend = kept
            return
        evaluations = self.rhs_evaluations(frame_interval, frames)
        self.rhs_backend = choose_rhs_backend(
            evaluations, math.prod(self.state_shape), self._has_numba_rhs()
        )

    @property
    def plan(self) -> dict[str, Any]:
        """``{"rhs_backend": ...}`` when ``backend: auto`` chose between numpy and numba."""
        return {"rhs_backend": self.rhs_backend} if self._auto else {}

    def _build_rhs(self) -> Any:
        key = (self._spec, tuple(self.params.items()), self.grid, self.rhs_backend)
        if key not in _RHS_CACHE:  # py-pde compiles per call: once per process and PDE
            template = self.as_field(np.zeros(self.state_shape))
            _RHS_CACHE[key] = self.pde.make_pde_rhs(template, backend=self.rhs_backend)
        return _RHS_CACHE[key]

    def _check_extra_option(self, key: str, value: Any) -> Any:
        allowed = {"scheme": SCHEMES, "backend": RHS_BACKENDS, "fft": BACKENDS}[key]
        if value not in allowed:
            raise ValueError(
                f"model option {key!r} of model {self.name!r} must be one of "
                f"{', '.join(allowed)}, got {value!r}"
            )
        return value

    def as_field(self, state: np.ndarray) -> Any:
        """The state as a py-pde field (a ScalarField or a FieldCollection of them)."""
        import pde

        fields = [
            pde.ScalarField(self.pde_grid, np.array(state[i]), label=c)
            for i, c in enumerate(self.components)
        ]
        return fields[0] if len(fields) == 1 else pde.FieldCollection(fields)

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        make = getattr(self._factory, "initial_state", None)
        if make is None:
            return np.stack([0.1 * smooth_random_field(self.grid, rng, 4)
                             for _ in self.components])  # fmt: skip
        value = make(self.pde_grid, dict(self.params), rng)
        data = np.array(getattr(value, "data", value), dtype=np.float64)
        data = data.reshape(self.state_shape) if data.size == math.prod(self.state_shape) else data
        if data.shape != self.state_shape:
            raise ValueError(
                f"model spec {self._spec!r}: initial_state returned shape {data.shape}, "
                f"expected {self.state_shape}"
            )
        return data

    def _rate(self, data: np.ndarray, t: float) -> np.ndarray:
        if self.rhs_backend == "spectral":
            return self._rhs(data, t)
        if self._rhs is None:
            self._rhs = self._build_rhs()
        rate = self._rhs(data if len(self.components) > 1 else data[0], t)
        return np.asarray(rate, dtype=np.float64).reshape(self.state_shape)

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        dt = (t1 - t0) / n
        y = state
        for i in range(n):
            t = t0 + i * dt
            if self.options["scheme"] == "euler":
                y = y + dt * self._rate(y, t)
                continue
            k1 = self._rate(y, t)
            k2 = self._rate(y + 0.5 * dt * k1, t + 0.5 * dt)
            k3 = self._rate(y + 0.5 * dt * k2, t + 0.5 * dt)
            k4 = self._rate(y + dt * k3, t + dt)
            y = y + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return y


class NoSpectralForm(ValueError):
    """An expression PDE uses an operator the spectral evaluator does not know."""


class SpectralExpressionRHS:
    """The right-hand side of a ``pde.PDE`` of expressions, evaluated spectrally.

    sympy parses py-pde's expressions once; every operator application (``laplace``,
    ``d_dx``, ``d_dy``, ``d_dz``, ``gradient_squared``) becomes an FFT of its evaluated
    argument.  Nothing is compiled, so building costs milliseconds instead of numba's
    tens of seconds, and derivatives are spectrally accurate (py-pde's own backends use
    second-order finite differences).
    """

    def __init__(self, eq: Any, components: tuple[str, ...], grid: Grid, fft: str) -> None:
        import sympy

        self.sp = SpectralOperators(grid, fft=fft)
        self.shape = (len(components), *grid.shape)
        symbols = [sympy.Symbol(c) for c in components] + [sympy.Symbol("t")]
        consts = {sympy.Symbol(k): v for k, v in getattr(eq, "consts", {}).items()}
        self._ops: list[tuple[str, Any]] = []  # (operator, its argument) innermost first
        self._dummies: list[Any] = []
        exprs = [self._extract(eq._rhs_expr[c]._sympy_expr.subs(consts)) for c in components]
        args = symbols + self._dummies
        self._op_args = [sympy.lambdify(args, a, "numpy") for _, a in self._ops]
        self._exprs = [sympy.lambdify(args, e, "numpy") for e in exprs]

    def _extract(self, e: Any) -> Any:
        import sympy
        from sympy.core.function import AppliedUndef

        if isinstance(e, AppliedUndef):
            name = e.func.__name__
            if name not in SPECTRAL_OPERATORS or len(e.args) != 1:
                raise NoSpectralForm(
                    f"py-pde operator {name!r} has no spectral form here (known: "
                    f"{', '.join(SPECTRAL_OPERATORS)}); use model option backend: auto, "
                    "numpy or numba (py-pde's finite differences)"
                )
            dummy = sympy.Dummy(name)
            self._ops.append((name, self._extract(e.args[0])))
            self._dummies.append(dummy)
            return dummy
        if e.args:
            return e.func(*[self._extract(a) for a in e.args])
        return e

    def _apply(self, name: str, value: np.ndarray) -> np.ndarray:
        sp = self.sp
        v_hat = sp.forward(np.broadcast_to(value, sp.grid.shape))
        if name == "laplace":
            return sp.inverse(-sp.k2 * v_hat)
        if name == "gradient_squared":
            return sum(sp.inverse(sp.ik(a) * v_hat) ** 2 for a in range(sp.grid.dim))
        axis = "xyz".index(name[-1])
        if axis >= sp.grid.dim:
            raise ValueError(f"py-pde operator {name!r} needs a grid with {axis + 1} axes")
        return sp.inverse(sp.ik(axis) * v_hat)

    def __call__(self, data: np.ndarray, t: float) -> np.ndarray:
        dummies: list[Any] = [0.0] * len(self._ops)  # inner operators come first
        for k, ((name, _), arg) in enumerate(zip(self._ops, self._op_args, strict=True)):
            dummies[k] = self._apply(name, arg(*data, t, *dummies))
        out = np.empty(self.shape)
        for i, expr in enumerate(self._exprs):
            out[i] = expr(*data, t, *dummies)
        return out


def _components(spec: str, factory: Any, defaults: dict[str, float]) -> tuple[str, ...]:
    given = getattr(factory, "components", None)
    if given is None:
        if any(v is None for v in defaults.values()):
            raise ValueError(f"model spec {spec!r}: give make_pde.components (parameters "
                             "without defaults)")  # fmt: skip
        given = getattr(factory(defaults), "variables", None)
    if (
        isinstance(given, str)
        or not isinstance(given, tuple | list)
        or not given
        or not all(isinstance(c, str) and c for c in given)
        or len(set(given)) != len(given)
    ):
        raise ValueError(
            f"model spec {spec!r}: the field names must be a non-empty tuple of unique names "
            f"(set make_pde.components for PDEBase subclasses), got {given!r}"
        )
    return tuple(given)


def pde_model_class(spec: str) -> type[Model]:
    """The :class:`PDEModel` subclass for ``"pde:package.module:make_pde"``."""
    target = spec[len(PDE_PREFIX) :]
    import_pypde(spec)
    factory = load_object(target, "pde:package.module:make_pde")
    if not callable(factory):
        raise ValueError(f"model spec {spec!r}: {factory!r} is not callable as make_pde(params)")
    raw = getattr(factory, "parameters", {})
    if not isinstance(raw, Mapping):
        raise ValueError(f"model spec {spec!r}: make_pde.parameters must be a dict, got {raw!r}")
    defaults = {str(k): None if v is None else float(v) for k, v in raw.items()}
    namespace = {
        "name": spec,
        "components": _components(spec, factory, defaults),
        "parameters": defaults,
        "dims": tuple(int(d) for d in getattr(factory, "dims", (1, 2, 3))),
        "_factory": staticmethod(factory),
        "_spec": spec,
        "__module__": __name__,
        "__doc__": f"py-pde PDE {spec!r}.",
    }
    class_name = "PDEModel_" + "".join(ch if ch.isalnum() else "_" for ch in target)
    return type(class_name, (PDEModel,), namespace)

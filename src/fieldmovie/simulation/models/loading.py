"""Finding a model class from its spec: built-in names, user models, py-pde PDEs."""

from __future__ import annotations

import inspect
import math
import pkgutil
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from .base import Model
from .cahn_hilliard import CahnHilliard
from .diffusion import Diffusion, NoisyDiffusion
from .gray_scott import GrayScott
from .grid import Grid
from .kuramoto_sivashinsky import KuramotoSivashinsky

__all__ = ["BUILTIN_MODELS", "PDE_PREFIX", "resolve_model"]

BUILTIN_MODELS: dict[str, type[Model]] = {
    cls.name: cls
    for cls in (Diffusion, NoisyDiffusion, GrayScott, CahnHilliard, KuramotoSivashinsky)
}

#: ``"pde:package.module:make_pde"`` names a py-pde PDE factory
PDE_PREFIX = "pde:"


class FactoryModel(Model):
    """Adapter turning a duck-typed user factory into a :class:`Model` subclass.

    The factory's object steps itself (``advance(state, t0, t1, rng)``), so the adapter
    takes no step options and calls it once per ``advance``.
    """

    _factory: ClassVar[Callable[..., Any]]
    _spec: ClassVar[str]
    step_options: ClassVar[tuple[str, ...]] = ()
    dt_max: float = math.inf

    def __init__(
        self,
        grid: Grid,
        parameters: Mapping[str, float] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(grid, parameters, options)
        impl = type(self)._factory(grid, dict(self.params))
        for method in ("initial_state", "advance"):
            if not callable(getattr(impl, method, None)):
                raise ValueError(
                    f"model spec {self._spec!r}: the object returned by the factory has no "
                    f"callable {method!r} method"
                )
        self.impl = impl

    def _checked(self, result: Any, what: str) -> np.ndarray:
        arr = np.array(result, dtype=np.float64, copy=True)
        if arr.shape != self.state_shape:
            raise ValueError(
                f"model spec {self._spec!r}: {what} returned shape {arr.shape}, "
                f"expected {self.state_shape}"
            )
        return arr

    def initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return self._checked(self.impl.initial_state(rng), "initial_state")

    def integrate(
        self, state: np.ndarray, t0: float, t1: float, n: int, rng: np.random.Generator
    ) -> np.ndarray:
        return self._checked(self.impl.advance(state, t0, t1, rng), "advance")


def _validated_attributes(spec: str, obj: Any) -> dict[str, Any]:
    """Check and normalise the model attributes of ``obj`` (loaded from ``spec``)."""

    def fail(message: str) -> ValueError:
        return ValueError(f"model spec {spec!r}: {message}")

    missing = [a for a in ("components", "parameters", "dims") if not hasattr(obj, a)]
    if missing:
        raise fail(
            f"{obj!r} is missing the required attribute{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (a model needs 'components', "
            "'parameters' and 'dims')"
        )
    components = obj.components
    if (
        isinstance(components, str)
        or not isinstance(components, tuple | list)
        or not components
        or not all(isinstance(c, str) and c for c in components)
        or len(set(components)) != len(components)
    ):
        raise fail(f"'components' must be a non-empty tuple of unique names, got {components!r}")
    parameters = obj.parameters
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise fail(f"'parameters' must be a dict of name -> default, got {parameters!r}")
    try:
        # None marks a parameter without default: the config must give it
        param_defaults = {k: None if v is None else float(v) for k, v in parameters.items()}
    except (TypeError, ValueError) as exc:
        raise fail(f"'parameters' defaults must be numbers or None, got {parameters!r}") from exc
    dims = obj.dims
    try:
        dims_t = tuple(int(d) for d in dims)
    except TypeError as exc:
        raise fail(f"'dims' must be a tuple of ints from 1, 2, 3, got {dims!r}") from exc
    if not dims_t or not all(d in (1, 2, 3) for d in dims_t):
        raise fail(f"'dims' must be a non-empty tuple of ints from 1, 2, 3, got {dims!r}")
    if not callable(obj):
        raise fail(f"{obj!r} is not callable as factory(grid, parameters)")
    return {
        "components": tuple(components),
        "parameters": param_defaults,
        "dims": dims_t,
        "stochastic": bool(getattr(obj, "stochastic", False)),
    }


def load_object(spec: str, what: str = "package.module:factory") -> Any:
    """Import ``"package.module:attribute"`` with :func:`pkgutil.resolve_name`.

    Raises ValueError naming the spec and whether the module or the attribute is missing.
    """
    module_name, _, attr_path = spec.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not module_name or not attr_path:
        raise ValueError(
            f"invalid model spec {spec!r}: expected {what!r} or one of the "
            f"built-in models {', '.join(sorted(BUILTIN_MODELS))}"
        )
    try:
        return pkgutil.resolve_name(f"{module_name}:{attr_path}")
    except AttributeError as exc:
        if module_name in sys.modules:
            raise ValueError(
                f"model spec {spec!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from exc
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r} (AttributeError: {exc})"
        ) from exc
    except Exception as exc:
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _without_options(cls: type[Model]) -> Callable[..., None]:
    """``__init__`` for a user class written before options: it accepts ``options`` and
    rejects any, since the class would ignore them."""

    def __init__(self, grid, parameters=None, options=None) -> None:  # noqa: ANN001
        if options:
            raise ValueError(
                f"unknown model option{'s' if len(options) > 1 else ''} "
                f"{', '.join(repr(k) for k in options)} for model {self._display_name()!r}; "
                "allowed options: (none: its __init__ takes no options)"
            )
        cls.__init__(self, grid, parameters)

    return __init__


def _user_model(spec: str) -> type[Model]:
    obj = load_object(spec)
    attrs = _validated_attributes(spec, obj)
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        name = spec
    if isinstance(obj, type) and issubclass(obj, Model):
        namespace: dict[str, Any] = {"__module__": obj.__module__}
        if getattr(obj, "name", None) != name:
            namespace["name"] = name
        if "options" not in inspect.signature(obj.__init__).parameters:
            namespace["__init__"] = _without_options(obj)
        if len(namespace) == 1:
            return obj
        return type(obj.__name__, (obj,), namespace)
    namespace = {
        "name": name,
        "_factory": staticmethod(obj),
        "_spec": spec,
        "__module__": __name__,
        "__doc__": f"User model {spec!r} (adapter around {obj!r}).",
        **attrs,
    }
    class_name = "UserModel_" + "".join(ch if ch.isalnum() else "_" for ch in spec)
    return type(class_name, (FactoryModel,), namespace)


def resolve_model(spec: str) -> type[Model]:
    """Return the model class for ``spec``.

    ``spec`` is one of

    * a built-in name (a key of :data:`BUILTIN_MODELS`, e.g. ``"gray_scott"``; ``-`` and
      case are normalised);
    * ``"package.module:factory"`` naming a user model: a :class:`Model` subclass, or any
      callable ``factory(grid, parameters)`` with the attributes ``components``,
      ``parameters`` and ``dims`` (optionally ``stochastic`` and ``name``) whose return
      value has ``initial_state(rng)`` and ``advance(state, t0, t1, rng)``; it is wrapped
      in a :class:`Model` subclass (defaults filled in, unknown parameters rejected,
      shapes checked);
    * ``"pde:package.module:make_pde"`` naming a py-pde PDE factory
      (:mod:`fieldmovie.simulation.models.pde_model`).

    Raises
    ------
    ValueError
        Unknown built-in name (the message lists the built-ins), unimportable
        module, missing attribute or invalid model attributes (the message names the
        spec and the offending attribute).
    """
    if not isinstance(spec, str):
        raise TypeError(f"model spec must be a string, got {spec!r}")
    if spec.startswith(PDE_PREFIX):
        from .pde_model import pde_model_class

        return pde_model_class(spec)
    if ":" not in spec:
        key = spec.strip().lower().replace("-", "_")
        if key in BUILTIN_MODELS:
            return BUILTIN_MODELS[key]
        raise ValueError(
            f"unknown model {spec!r}; built-in models are: "
            f"{', '.join(sorted(BUILTIN_MODELS))} (or give a user model as "
            "'package.module:factory', or a py-pde PDE as 'pde:package.module:make_pde')"
        )
    return _user_model(spec)

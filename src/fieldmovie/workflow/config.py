"""The workflow config: the JSON schema (types, ranges, defaults) and the cross-field checks.

``config.schema.yaml`` next to this module is the one source of types, ranges and defaults;
:func:`check_config` checks a config against it and fills in the defaults. What a schema
cannot say -- it needs the model or relates two keys -- is one small function each below.
Every message starts ``config: sweep '<name>': <dotted key>:``.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..simulation.models import Grid, Model, resolve_model

__all__ = [
    "SCHEMA_PATH",
    "analysis_defaults",
    "ConfigError",
    "check_config",
    "check_grid",
    "check_model",
    "check_model_accepts",
    "check_parameters",
    "check_ranges",
    "check_tolerance",
    "coerce_numbers",
]

#: the JSON schema of the config (``workflow/schemas/config.schema.yaml`` links to it)
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """The workflow config is invalid; the message names the sweep and key."""


def sweep_error(sweep: str, key: str, message: str) -> ConfigError:
    """``config: sweep '<sweep>': <key>: <message>``."""
    return ConfigError(f"config: sweep {sweep!r}: {key}: {message}")


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


@cache
def _validator(schema_path: Path) -> Any:
    """A validator of the schema that fills in ``default`` values while it checks."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(schema_path.read_text())
    base = jsonschema.validators.validator_for(schema)
    check_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema) -> Iterator:  # noqa: ANN001
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})(schema)


def check_config(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Check ``config`` against the JSON schema, fill in its defaults (in place), return it.

    Exponent numbers are converted first; a violation raises :class:`ConfigError` naming
    the key as a dotted path (``sweeps.gray_scott.time.t_end``).
    """
    import jsonschema

    coerce_numbers(config)
    validator = _validator(Path(schema_path).resolve())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        path = [str(p) for p in error.absolute_path]
        if len(path) > 2 and path[0] == "sweeps":  # the key inside the sweep
            raise sweep_error(path[1], ".".join(path[2:]), error.message)
        raise ConfigError(f"config: {'.'.join(path) or '(top level)'}: {error.message}")
    return config


def analysis_defaults(schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The schema's defaults of a sweep's ``analysis`` keys (preview, snapshots, cmap), for
    the command line, which must not repeat them."""
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    sweep = schema["properties"]["sweeps"]["additionalProperties"]
    keys = sweep["properties"]["analysis"]["properties"]
    return {key: spec["default"] for key, spec in keys.items() if "default" in spec}


# -- cross-field checks (the config has passed the schema) -----------------------------------
def check_model(sweep: str, cfg: Mapping[str, Any]) -> type[Model]:
    """The model class named by ``model``."""
    try:
        return resolve_model(str(cfg["model"]))
    except (ValueError, ImportError, AttributeError) as exc:
        raise sweep_error(sweep, "model", str(exc)) from None


def check_grid(
    sweep: str, cfg: Mapping[str, Any], model: type[Model]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(shape, length): dimensions the model supports, one length per size (default: shape)."""
    shape = tuple(int(n) for n in cfg["grid"]["shape"])
    if len(shape) not in model.dims:
        supported = ", ".join(f"{d}D" for d in model.dims)
        raise sweep_error(
            sweep, "grid.shape",
            f"model {cfg['model']!r} cannot do {len(shape)}D grids (supported: {supported})",
        )  # fmt: skip
    length = cfg["grid"].get("length") or [float(n) for n in shape]
    if len(length) != len(shape):
        raise sweep_error(sweep, "grid.length", f"{length}: need {len(shape)} lengths")
    return shape, tuple(float(x) for x in length)


def check_parameters(
    sweep: str, cfg: Mapping[str, Any], model: type[Model]
) -> dict[str, list[float]]:
    """Parameter -> list of finite values, every name known to the model."""
    parameters: dict[str, list[float]] = {}
    for key, value in cfg["parameters"].items():
        if key not in model.parameters:
            allowed = ", ".join(model.parameters) or "(none)"
            raise sweep_error(
                sweep, f"parameters.{key}",
                f"model {cfg['model']!r} has no parameter {key!r}; allowed: {allowed}",
            )  # fmt: skip
        values = [float(v) for v in (value if isinstance(value, list) else [value])]
        if not all(math.isfinite(v) for v in values):
            raise sweep_error(sweep, f"parameters.{key}", f"{values}: values must be finite")
        parameters[key] = values
    return parameters


def check_time(sweep: str, cfg: Mapping[str, Any]) -> None:
    """Time values are finite (the schema has checked they are > 0)."""
    for key, value in cfg["time"].items():
        if not math.isfinite(value):
            raise sweep_error(sweep, f"time.{key}", f"{value}: must be finite")


def _known_components(
    sweep: str, key: str, given: Mapping[str, Any], cfg: Mapping[str, Any], model: type[Model]
) -> None:
    unknown = sorted(set(given) - set(model.components))
    if unknown:
        raise sweep_error(
            sweep, key,
            f"unknown component(s) {unknown}; model {cfg['model']!r} has {list(model.components)}",
        )  # fmt: skip


def check_ranges(
    sweep: str, cfg: Mapping[str, Any], model: type[Model]
) -> dict[str, str | tuple[float, float]]:
    """Component -> ``"auto"`` or a fixed ``(vmin, vmax)`` with vmin < vmax, for every
    component of the model (left out: auto); no unknown component.

    The one place that turns ``storage.range`` into settings.
    """
    given = cfg["storage"]["range"]
    if given == "auto":
        return {comp: "auto" for comp in model.components}
    _known_components(sweep, "storage.range", given, cfg, model)
    ranges: dict[str, str | tuple[float, float]] = {}
    for comp in model.components:
        value = given.get(comp, "auto")
        if value == "auto":
            ranges[comp] = "auto"
            continue
        lo, hi = (float(x) for x in value)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise sweep_error(
                sweep, f"storage.range.{comp}", f"vmin={lo} must be < vmax={hi}, both finite"
            )
        ranges[comp] = (lo, hi)
    return ranges


def check_tolerance(sweep: str, cfg: Mapping[str, Any], model: type[Model]) -> dict[str, float]:
    """Component -> largest allowed quantization error (``storage.tolerance``; none: {})."""
    given = cfg["storage"].get("tolerance")
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        given = {comp: given for comp in model.components}
    _known_components(sweep, "storage.tolerance", given, cfg, model)
    out = {comp: float(value) for comp, value in given.items()}
    for comp, value in out.items():
        if not math.isfinite(value):
            raise sweep_error(sweep, f"storage.tolerance.{comp}", f"{value}: must be finite")
    return out


def check_model_accepts(
    sweep: str, model: type[Model], grid: Grid, parameters: Mapping[str, list[float]],
    options: Mapping[str, Any],
) -> None:  # fmt: skip
    """Build the model for every parameter combination: the model rejects bad values itself,
    and its message names the parameter."""
    keys = sorted(parameters)
    for values in itertools.product(*(parameters[k] for k in keys)):
        combination = dict(zip(keys, values, strict=True))
        try:
            if options:
                model(grid, combination, options=dict(options))
            else:
                model(grid, combination)
        except (ValueError, TypeError) as exc:
            named = [k for k in model.parameters if repr(k) in str(exc)] or keys
            where = ", ".join(f"parameters.{k}" for k in named) or "parameters"
            raise sweep_error(sweep, where, f"{combination}: {exc}") from None

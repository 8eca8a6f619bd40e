"""The Snakemake workflow's Python side: config checks, sweeps and their points, job support.

Used by the Snakefile and by users' own rules::

    from fieldmovie.workflow import load_sweeps
    sweeps = load_sweeps(config)
"""

from .sweeps import (
    ConfigError,
    Point,
    Sweep,
    check_config,
    coerce_numbers,
    format_value,
    load_sweeps,
    point_name,
    sweep_points,
)

__all__ = [
    "ConfigError",
    "Point",
    "Sweep",
    "check_config",
    "coerce_numbers",
    "format_value",
    "load_sweeps",
    "point_name",
    "sweep_points",
]

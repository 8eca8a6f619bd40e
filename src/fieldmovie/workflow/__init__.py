"""The Snakemake workflow's Python side: config, sweeps and their points, results layout.

Used by the Snakefile and by users' own rules::

    from fieldmovie.workflow import load_sweeps
    sweeps = load_sweeps(config)
    sweeps["gray_scott"].layout.observables(point)
"""

from .config import SCHEMA_PATH, ConfigError, check_config, coerce_numbers
from .layout import ResultsLayout
from .sweeps import Point, Sweep, format_value, load_sweeps, point_name, sweep_points

__all__ = [
    "SCHEMA_PATH",
    "ConfigError",
    "Point",
    "ResultsLayout",
    "Sweep",
    "check_config",
    "coerce_numbers",
    "format_value",
    "load_sweeps",
    "point_name",
    "sweep_points",
]

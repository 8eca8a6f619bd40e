"""Per-sweep tables: one row per run (parameters, seed, final-frame observables)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..movie.atomic import atomic_path
from .plots import plot_summary

__all__ = ["final_observables", "summarize", "write_sweep_summary"]


def final_observables(source: Any) -> dict[str, Any]:
    """The observables of the last frame of a run.

    ``source`` may be a mapping (returned as a dict), a DataFrame or list of row dicts
    (last row), or the path of a CSV written by :func:`write_observables_csv` (last row).
    """
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str | os.PathLike):
        source = pd.read_csv(source)
    if isinstance(source, pd.DataFrame):
        if source.empty:
            return {}
        return {k: _plain(v) for k, v in source.iloc[-1].items()}
    rows = list(source)
    return dict(rows[-1]) if rows else {}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (for tidy tables)."""
    return value.item() if isinstance(value, np.generic) else value


def summarize(
    points: Iterable[Mapping[str, Any]],
    *,
    parameters_key: str = "parameters",
    seed_key: str = "seed",
    observables_key: str = "observables",
) -> pd.DataFrame:
    """One row per run: parameter columns, ``seed``, other scalar keys, final observables.

    Each point is a mapping such as ``{"parameters": {"F": 0.04, "k": 0.06}, "seed": 1,
    "observables": ..., "run": "a1b2"}`` where ``observables`` is anything
    :func:`final_observables` accepts (a dict of final values, the per-frame DataFrame, or
    the path of the observables CSV). Points without ``parameters`` are taken as flat rows.
    Columns are ordered parameters, seed, other keys, observables; a name used both as a
    parameter and an observable raises ValueError.
    """
    rows: list[dict[str, Any]] = []
    param_cols: dict[str, None] = {}
    other_cols: dict[str, None] = {}
    obs_cols: dict[str, None] = {}
    for point in points:
        row: dict[str, Any] = {}
        params = dict(point.get(parameters_key) or {})
        obs = final_observables(point[observables_key]) if observables_key in point else {}
        clash = set(params) & (set(obs) | {seed_key})
        if clash:
            raise ValueError(f"names used both as parameters and observables: {sorted(clash)}")
        row.update(params)
        param_cols.update(dict.fromkeys(params))
        for key, value in point.items():
            if key in (parameters_key, observables_key):
                continue
            if key != seed_key:
                other_cols[key] = None
            row[key] = value
        for key, value in obs.items():
            if key in row:
                raise ValueError(f"observable {key!r} clashes with a column of the point")
            row[key] = value
        obs_cols.update(dict.fromkeys(obs))
        rows.append(row)
    has_seed = any(seed_key in row for row in rows)
    columns = [*param_cols, *([seed_key] if has_seed else []), *other_cols, *obs_cols]
    return pd.DataFrame(rows, columns=columns)


def write_sweep_summary(
    points: Sequence[Mapping[str, Any]],
    swept_parameters: Sequence[str],
    csv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    title: str | None = None,
) -> pd.DataFrame:
    """Per-sweep table (one row per point: parameters, seed, final observables) and plot.

    ``points`` are mappings as :func:`summarize` takes them, e.g. with ``observables`` the
    path of the point's observables CSV. Both files are written atomically.
    """
    df = summarize(points)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, na_rep="NaN")
    plot_summary(df, list(swept_parameters), None, png_path, title=title)
    return df

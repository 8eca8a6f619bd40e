"""A whole sweep as one lazy ``xarray.Dataset``: decoded fields by parameter, time, position.

:func:`open_sweep` opens the validated movie of every point (metadata only: nothing is
decoded) and returns a Dataset with one variable per component, dimensions ``(*swept
parameters, seed, time, x[, y[, z]])`` and coordinates for all of them. The variables are
dask arrays with one chunk per point and ``time_chunk`` frames (default: one frame), so
``ds.v.sel(F=0.04, k=0.06, seed=1).isel(time=-1).values`` decodes exactly one frame.

Times: points whose runs end at different times (an extend of only some points, a lowered
``t_end``) are aligned on the *union* of all points' times; where a point has no frame its
values are NaN. The coordinate ``frames`` gives each point's number of frames and
``last_frame`` the index on ``time`` of its last one (see :func:`final_frames`).

Only validated movies are opened (as :func:`fieldmovie.movie.open_validated` does). A point
whose movie or report is missing or failed validation raises :class:`SweepDatasetError`
listing every such point; with ``missing="skip"`` it is left out (NaN) and listed in
``ds.attrs["missing_points"]``.

:func:`open_sweep_observables` does the same for the points' ``observables.csv``;
:func:`export_sweep` writes the decoded sweep chunk by chunk to zarr or NetCDF;
:func:`sweep_rule` opens the sweep of a downstream rule's input in its script.

xarray and dask (and zarr for the export) are optional dependencies
(``pip install fieldmovie[dataset]``); they are imported when these functions are called.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..movie.reader import MovieReader
from ..movie.validate import open_validated
from .layout import ResultsLayout
from .sweeps import Sweep, load_sweeps

__all__ = [
    "SweepDatasetError",
    "export_sweep",
    "final_frames",
    "final_length_scale",
    "frame_statistic",
    "open_sweep",
    "open_sweep_movies",
    "open_sweep_observables",
    "sweep_rule",
    "sweep_rule_inputs",
]

GRID_DIMS = ("x", "y", "z")
Missing = Literal["raise", "skip"]
SweepSource = Sweep | Mapping[str, Any] | str | os.PathLike


class SweepDatasetError(RuntimeError):
    """A sweep cannot be opened as one dataset; the message names the points and why."""


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"opening a sweep as a dataset needs {module.split('.')[0]}: "
            "pip install 'fieldmovie[dataset]' (xarray, dask, zarr)"
        ) from None


def _require() -> None:
    _need("xarray")
    _need("dask.array")


# -- finding the points ----------------------------------------------------------------------
@dataclass
class _Entry:
    """One point as found: where its files are and, once opened, its reader or problem."""

    name: str
    movie: Path
    report: Path
    parameters: dict[str, float] | None = None
    seed: int | None = None
    reader: MovieReader | None = None
    problem: str | None = None


def _entries_of_sweep(sweep: Sweep) -> list[_Entry]:
    layout = sweep.layout
    return [
        _Entry(p.name, Path(layout.movie(p)), Path(layout.validation(p)),
               dict(p.parameters), p.seed)
        for p in sweep.points()
    ]  # fmt: skip


def _discover(results_dir: Path, name: str | None) -> tuple[str, list[_Entry]]:
    """The sweep ``name`` under ``results_dir``: every ``<name>/*/movie.mkv``."""
    if name is None:
        pattern = ResultsLayout(".", "*").movie("*").removeprefix("./")
        names = sorted({p.parent.parent.name for p in results_dir.glob(pattern)})
        if len(names) != 1:
            raise SweepDatasetError(
                f"{results_dir}: name the sweep to open (sweeps found: {names or 'none'})"
            )
        name = names[0]
    layout = ResultsLayout(str(results_dir), name)
    movies = sorted(results_dir.glob(ResultsLayout(".", name).movie("*").removeprefix("./")))
    if not movies:
        raise SweepDatasetError(f"{results_dir / name}: no point movies (*/movie.mkv) found")
    points = [m.parent.name for m in movies]
    return name, [_Entry(p, Path(layout.movie(p)), Path(layout.validation(p))) for p in points]


def _open_entries(entries: list[_Entry]) -> None:
    """Open each point's validated movie; record the problem of those that cannot be.

    A few at a time: opening is waiting for ffprobe, not computing.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(_open_entry, entries))


def _open_entry(entry: _Entry) -> None:
    """Open one point's validated movie, or record why it cannot be opened."""
    try:
        if not entry.movie.exists():
            raise FileNotFoundError(f"{entry.movie} does not exist")
        entry.reader = open_validated(entry.movie, entry.report)
    except Exception as exc:  # noqa: BLE001 - every reason is reported with the point
        entry.problem = str(exc).splitlines()[0]
    if entry.parameters is None:  # discovered: who it is comes from the movie's info
        try:
            info = (entry.reader or MovieReader(entry.movie)).info
            entry.parameters = {k: float(v) for k, v in info["parameters"].items()}
            entry.seed = int(info["seed"])
        except Exception as exc:  # noqa: BLE001
            entry.problem = entry.problem or f"{entry.movie}: no sweep point info ({exc})"


# -- the grid of points ------------------------------------------------------------------------
@dataclass
class _Grid:
    """Points placed on the grid (*swept parameter values, seed)."""

    swept: list[str]
    coords: dict[str, list[float] | list[int]]
    fixed: dict[str, float]
    cells: dict[tuple, _Entry] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.coords.values())

    def index(self, entry: _Entry) -> tuple[int, ...]:
        values = [entry.parameters[k] for k in self.swept] + [entry.seed]
        return tuple(self.coords[d].index(v) for d, v in zip(self.coords, values, strict=True))


def _place(entries: list[_Entry], swept: list[str] | None, missing: Missing) -> _Grid:
    placed = [e for e in entries if e.parameters is not None]
    keys = sorted({k for e in placed for k in e.parameters})
    for entry in placed:
        if sorted(entry.parameters) != keys:
            raise SweepDatasetError(
                f"{entry.movie} names the parameters {sorted(entry.parameters)}, other points "
                f"{keys}: the points of one dataset must name the same parameters"
            )
    values = {k: sorted({e.parameters.get(k, math.nan) for e in placed}) for k in keys}
    if swept is None:
        swept = [k for k in keys if len(values[k]) > 1]
    fixed = {k: values[k][0] for k in keys if k not in swept and len(values[k]) == 1}
    coords: dict[str, Any] = {k: values[k] for k in swept}
    coords["seed"] = sorted({e.seed for e in placed})
    grid = _Grid(swept, coords, fixed)
    problems = [f"{e.name}: {e.problem}" for e in entries if e.problem]
    for entry in placed:
        cell = grid.index(entry)
        if entry.problem is None and cell in grid.cells:
            raise SweepDatasetError(
                f"{entry.movie} and {grid.cells[cell].movie} are both the point "
                f"{entry.parameters}, seed {entry.seed}"
            )
        if entry.problem is None:
            grid.cells[cell] = entry
    for cell in np.ndindex(grid.shape):
        if cell not in grid.cells and not any(grid.index(e) == cell for e in placed):
            values_at = zip(coords, cell, strict=True)
            where = ", ".join(f"{d}={grid.coords[d][i]!r}" for d, i in values_at)
            problems.append(f"({where}): no movie for this combination")
    if problems and missing == "raise":
        listing = "\n".join(f"  - {p}" for p in problems)
        raise SweepDatasetError(
            f"{len(problems)} point(s) of the sweep cannot be opened (pass missing='skip' to "
            f"leave them out as NaN):\n{listing}"
        )
    if not grid.cells:
        raise SweepDatasetError("no point of the sweep has a validated movie:\n  - "
                                + "\n  - ".join(problems))  # fmt: skip
    grid.missing = problems
    return grid


def _check_same_storage(grid: _Grid) -> MovieReader:
    """All movies must agree on components, grid and storage; return the first reader."""
    readers = [(e.name, e.reader) for e in grid.cells.values()]
    name0, first = readers[0]

    def signature(r: MovieReader) -> dict[str, Any]:
        keys = ("components", "grid_shape", "grid_length", "bits", "vmin", "vmax")
        return {key: getattr(r, key) for key in keys}

    ref = signature(first)
    for name, reader in readers[1:]:
        for key, value in signature(reader).items():
            if value != ref[key]:
                raise SweepDatasetError(
                    f"point {name} has {key}={value!r}, point {name0} {ref[key]!r}: the "
                    "points of one dataset must share components, grid and storage settings"
                )
    return first


# -- the lazy array ------------------------------------------------------------------------------
class _SweepFrames:
    """Array-like ``(*grid of points, time, component, *grid_shape)`` decoded on indexing.

    Indexing with slices (what dask does for each chunk) decodes only the frames inside
    the selection, one FFmpeg pass per point (nearby frames together). Readers are kept
    open; pickling keeps the paths and reopens them (metadata only) where it is loaded.
    """

    def __init__(self, grid: _Grid, times: np.ndarray, frame_shape: tuple[int, ...]) -> None:
        self.paths = {cell: e.movie for cell, e in grid.cells.items()}
        self._readers = {cell: e.reader for cell, e in grid.cells.items()}
        # frame index of each union time in each point's movie (-1: no frame there)
        self.frame_of: dict[tuple, np.ndarray] = {}
        for cell, entry in grid.cells.items():
            where = np.full(len(times), -1, dtype=np.int64)
            where[np.searchsorted(times, entry.reader.times)] = np.arange(len(entry.reader))
            self.frame_of[cell] = where
        self.shape = (*grid.shape, len(times), *frame_shape)
        self.n_cells = len(grid.shape)
        self.dtype = np.dtype(np.float64)
        self.ndim = len(self.shape)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_readers": {}}

    def _reader(self, cell: tuple) -> MovieReader:
        if cell not in self._readers:
            self._readers[cell] = MovieReader(self.paths[cell])
        return self._readers[cell]

    def __getitem__(self, key: tuple) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        ranges = [range(*k.indices(n)) if isinstance(k, slice) else range(k, k + 1)
                  for k, n in zip(key, self.shape, strict=True)]  # fmt: skip
        cell_ranges, times = ranges[: self.n_cells], ranges[self.n_cells]
        inner = tuple(key[self.n_cells + 1 :])
        out = np.full((*map(len, cell_ranges), len(times), *self.shape[self.n_cells + 1 :]),
                      np.nan)  # fmt: skip
        for pos in np.ndindex(out.shape[: self.n_cells]):
            cell = tuple(r[i] for r, i in zip(cell_ranges, pos, strict=True))
            if cell not in self.frame_of:
                continue  # a point left out: NaN
            frames = self.frame_of[cell][list(times)]
            have = np.flatnonzero(frames >= 0)
            if have.size:
                out[pos][have] = self._reader(cell).read_frames(frames[have])
        # drop the axes indexed by integers, then the component and grid selection
        squeeze = tuple(slice(None) if isinstance(k, slice) else 0 for k in key[: self.n_cells + 1])
        return out[squeeze][(Ellipsis, *inner)] if inner else out[squeeze]


# -- opening ---------------------------------------------------------------------------------------
def _resolve(source: SweepSource, name: str | None) -> tuple[str, list[_Entry], list[str] | None]:
    """Sweep name, its point entries and (with a config) its swept parameters."""
    if isinstance(source, Mapping):
        sweeps = load_sweeps(source)
        if name is None and len(sweeps) == 1:
            name = next(iter(sweeps))
        if name not in sweeps:
            raise SweepDatasetError(f"config has no sweep {name!r} (sweeps: {sorted(sweeps)})")
        source = sweeps[name]
    if isinstance(source, Sweep):
        return source.name, _entries_of_sweep(source), source.swept_parameters
    results = Path(source)
    if not results.is_dir():
        raise SweepDatasetError(f"{results}: no such results folder")
    sweep_name, entries = _discover(results, name)
    return sweep_name, entries, None


def open_sweep(
    source: SweepSource,
    name: str | None = None,
    *,
    missing: Missing = "raise",
    time_chunk: int | None = 1,
) -> Any:
    """The decoded fields of a whole sweep as a lazy ``xarray.Dataset``.

    Args:
        source: a :class:`~fieldmovie.workflow.Sweep`, a workflow config (mapping), or a
            results folder (points are then found as ``<results>/<name>/*/movie.mkv`` and
            identified by the parameters and seed stored in each movie).
        name: the sweep (needed for a config or results folder with several sweeps).
        missing: ``"raise"`` (default) for an error listing every point whose movie is
            missing or not validated; ``"skip"`` to leave them out as NaN, listed in
            ``ds.attrs["missing_points"]``.
        time_chunk: frames per dask chunk (each chunk is one point); None: one segment
            (``frames_per_segment`` of the movies' info, else 16). One frame suits picking
            frames; one segment suits reading whole runs (one decoder pass per chunk).

    Returns:
        Dataset with one float64 variable per component over ``(*swept, seed, time, x, ...)``
        (see the module docstring); nothing is decoded until values are asked for.
    """
    _require()
    sweep_name, entries, swept = _resolve(source, name)
    _open_entries(entries)
    return _dataset(sweep_name, entries, swept, missing, time_chunk)


def open_sweep_movies(
    movies: Sequence[str | os.PathLike],
    reports: Sequence[str | os.PathLike] | None = None,
    *,
    missing: Missing = "raise",
    time_chunk: int | None = 1,
) -> Any:
    """:func:`open_sweep` for a list of point movies (e.g. a rule's input); their
    validation reports default to ``movie.validation.json`` next to each movie."""
    _require()
    movies = [Path(m) for m in movies]
    if reports is None:
        reports = [m.with_name("movie.validation.json") for m in movies]
    if len(reports) != len(movies):
        raise ValueError(f"{len(movies)} movies but {len(reports)} validation reports")
    entries = [_Entry(m.parent.name, m, Path(r)) for m, r in zip(movies, reports, strict=True)]
    _open_entries(entries)
    names = {e.reader.info.get("sweep") for e in entries if e.reader is not None}
    return _dataset(str(names.pop()) if len(names) == 1 else "", entries, None, missing,
                    time_chunk)  # fmt: skip


def _dataset(
    sweep_name: str, entries: list[_Entry], swept: list[str] | None, missing: Missing,
    time_chunk: int | None,
) -> Any:  # fmt: skip
    xr, da = _need("xarray"), _need("dask.array")
    grid = _place(entries, swept, missing)
    first = _check_same_storage(grid)
    times = np.unique(np.concatenate([e.reader.times for e in grid.cells.values()]))
    frames = _SweepFrames(grid, times, first.frame_shape)
    n_cells = len(grid.shape)
    if time_chunk is None:  # one segment (a movie's frames are decoded in one pass)
        time_chunk = int(first.info.get("frames_per_segment") or 16)
    chunks = (1,) * n_cells + (max(1, int(time_chunk)),) + first.frame_shape
    arr = da.from_array(frames, chunks=chunks, name=f"fieldmovie-{_token(grid)}",
                        lock=False, asarray=False, fancy=False,
                        meta=np.empty((0,) * frames.ndim))  # fmt: skip
    dims = [*grid.coords, "time", *GRID_DIMS[: len(first.grid_shape)]]
    data_vars = {}
    for c, comp in enumerate(first.components):
        attrs = {"vmin": first.vmin[c], "vmax": first.vmax[c], "bits": first.bits}
        data_vars[comp] = (dims, arr[(slice(None),) * (n_cells + 1) + (c,)], attrs)
    coords: dict[str, Any] = {d: np.asarray(v) for d, v in grid.coords.items()}
    coords["time"] = times.copy()
    lengths = first.grid_length or tuple(float(n) for n in first.grid_shape)
    for dim, n, length in zip(dims[n_cells + 1 :], first.grid_shape, lengths, strict=True):
        coords[dim] = (np.arange(n) + 0.5) * (length / n)  # cell centres
    counts = np.zeros(grid.shape, dtype=np.int64)
    last = np.full(grid.shape, -1, dtype=np.int64)
    for cell, where in frames.frame_of.items():
        counts[cell] = np.count_nonzero(where >= 0)
        last[cell] = int(np.flatnonzero(where >= 0)[-1])
    coords["frames"] = (list(grid.coords), counts)
    coords["last_frame"] = (list(grid.coords), last)
    coords.update({k: v for k, v in grid.fixed.items()})  # parameters not swept: scalars
    return xr.Dataset(data_vars, coords=coords, attrs=_attrs(sweep_name, first, grid, times))


def _attrs(sweep_name: str, first: MovieReader, grid: _Grid, times: np.ndarray) -> dict:
    info = first.info
    return {
        "sweep": sweep_name,
        "model": str(info.get("model", "")),
        "components": first.components,
        "grid_shape": list(first.grid_shape),
        "grid_length": list(first.grid_length or first.grid_shape),
        "bits": first.bits,
        "vmin": first.vmin,
        "vmax": first.vmax,
        "frame_interval": info.get("frame_interval", math.nan),
        "frames_per_segment": info.get("frames_per_segment", -1),
        "swept_parameters": list(grid.swept),
        "time_alignment": "union of all points' times; NaN where a point has no frame",
        "ragged": int(any(len(e.reader) != len(times) for e in grid.cells.values())),
        "missing_points": list(grid.missing),
    }


def _token(grid: _Grid) -> str:
    from dask.base import tokenize

    stats = []
    for entry in grid.cells.values():
        st = entry.movie.stat()
        stats.append((str(entry.movie.resolve()), st.st_size, st.st_mtime_ns))
    return tokenize(sorted(stats))


# -- working with the dataset ---------------------------------------------------------------------
def final_frames(data: Any) -> Any:
    """The last frame of every point of a variable of :func:`open_sweep` (its own last
    frame, also where the points end at different times); decodes one frame per point."""
    last = data.coords["last_frame"]
    picked = data.isel(time=last.where(last >= 0, 0))
    return picked.where(last >= 0)


def frame_statistic(data: Any, function: Callable[..., float], **kwargs: Any) -> Any:
    """``function(field, **kwargs) -> float`` of every field of ``data`` (lazy).

    ``data`` is a variable (or a selection) of :func:`open_sweep`; the statistic is taken
    over the grid axes, leaving the parameter, seed and time axes.
    """
    xr = _need("xarray")
    grid_dims = [d for d in data.dims if d in GRID_DIMS]
    return xr.apply_ufunc(
        lambda f: function(f, **kwargs) if np.isfinite(f).all() else math.nan,
        data, input_core_dims=[grid_dims], vectorize=True, dask="parallelized",
        output_dtypes=[np.float64],
    )  # fmt: skip


def final_length_scale(ds: Any, component: str) -> Any:
    """The length scale 2π/k* (:func:`~fieldmovie.analysis.observables.length_scale`) of
    ``component`` in every point's last frame, over ``(*swept, seed)``; named
    ``<component>_length_scale``. Decodes one frame per point when computed."""
    from ..analysis.observables import length_scale

    lengths = tuple(ds.attrs["grid_length"])
    ell = frame_statistic(final_frames(ds[component]), length_scale, grid_length=lengths)
    return ell.rename(f"{component}_length_scale").drop_vars(["frames", "last_frame"])


# -- observables ---------------------------------------------------------------------------------
def open_sweep_observables(
    source: SweepSource, name: str | None = None, *, missing: Missing = "raise"
) -> Any:
    """The points' ``observables.csv`` as one ``xarray.Dataset`` over ``(*swept, seed, time)``.

    One variable per column (``v_mean``, ``v_length_scale``, ...); points and times are
    placed as in :func:`open_sweep` (the union of times, NaN where a point has no row).
    Points are found as for :func:`open_sweep`; a point's table is
    ``<point dir>/observables.csv``; a missing table raises or (``missing="skip"``) is left
    out and listed.
    """
    _require()
    xr, pd = _need("xarray"), _need("pandas")
    sweep_name, entries, swept = _resolve(source, name)
    tables = {}
    for entry in entries:
        csv = entry.movie.parent / Path(ResultsLayout().observables()).name
        if entry.parameters is None:
            try:
                info = MovieReader(entry.movie).info
                entry.parameters = {k: float(v) for k, v in info["parameters"].items()}
                entry.seed = int(info["seed"])
            except Exception as exc:  # noqa: BLE001
                entry.problem = f"{entry.movie}: no sweep point info ({exc})"
                continue
        if csv.exists():
            tables[entry.name] = pd.read_csv(csv).set_index("time")
        else:
            entry.problem = f"{csv} does not exist (run the observables rule)"
    grid = _place(entries, swept, missing)
    placed = list(grid.cells.values())
    times = np.unique(np.concatenate([tables[e.name].index.to_numpy() for e in placed]))
    columns = list(dict.fromkeys(c for e in grid.cells.values() for c in tables[e.name].columns))
    values = {c: np.full((*grid.shape, len(times)), np.nan) for c in columns}
    for cell, entry in grid.cells.items():
        table = tables[entry.name].reindex(times)
        for c in table.columns:
            values[c][cell] = table[c].to_numpy(dtype=float)
    dims = [*grid.coords, "time"]
    coords = {d: np.asarray(v) for d, v in grid.coords.items()} | {"time": times}
    coords.update(grid.fixed)
    attrs = {"sweep": sweep_name, "swept_parameters": list(grid.swept),
             "missing_points": list(grid.missing)}  # fmt: skip
    return xr.Dataset({c: (dims, v) for c, v in values.items()}, coords=coords, attrs=attrs)


# -- export --------------------------------------------------------------------------------------
def _storable_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes NetCDF and zarr both store: numbers, strings, lists of numbers; the rest
    (lists of strings, possibly empty) as JSON text."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, str | int | float):
            out[key] = value
        elif isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
            out[key] = value
        else:
            out[key] = json.dumps(value)
    return out


def export_sweep(
    source: SweepSource,
    output: str | os.PathLike,
    name: str | None = None,
    *,
    missing: Missing = "raise",
    time_chunk: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    workers: int = 2,
) -> Path:
    """Decode a sweep into a zarr store (``.zarr``) or a NetCDF file (``.nc``).

    Written chunk by chunk (one point and ``time_chunk`` frames, default one segment, per
    chunk; at most ``workers`` chunks decoded at a time), so memory stays bounded whatever
    the size of the sweep; a progress bar is printed when ``progress``. The output appears
    only when complete (written under a temporary name, then renamed); an existing output
    is an error unless ``overwrite``, and is replaced only after the new one is complete.
    """
    dask = _need("dask")
    output = Path(output)
    kind = {".zarr": "zarr", ".nc": "netcdf", ".nc4": "netcdf"}.get(output.suffix)
    if kind is None:
        raise ValueError(f"{output}: export to .zarr (zarr store) or .nc (NetCDF)")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it")
    if kind == "zarr":
        _need("zarr")
    ds = open_sweep(source, name, missing=missing, time_chunk=time_chunk)
    ds.attrs = _storable_attrs(ds.attrs)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        if kind == "zarr":
            job = ds.to_zarr(tmp, mode="w-", compute=False, consolidated=True)
        else:
            encoding = {v: {"zlib": True, "complevel": 1, "chunksizes": ds[v].data.chunksize}
                        for v in ds.data_vars}  # fmt: skip
            job = ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding, compute=False)
        with _progress(progress):
            dask.compute(job, scheduler="threads", num_workers=max(1, int(workers)))
        if output.exists():
            backup = output.with_name(f".{output.name}.old-{os.getpid()}")
            output.rename(backup)
            tmp.rename(output)
            _remove(backup)
        else:
            tmp.rename(output)
    finally:
        _remove(tmp)
    return output


@contextmanager
def _progress(show: bool) -> Iterator[None]:
    if not show:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(minimum=0):
        yield


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# -- downstream rules ------------------------------------------------------------------------------
def sweep_rule_inputs(sweep: Sweep) -> dict[str, list[str]]:
    """The ``input:`` of a rule over a whole sweep: its movies and validation reports."""
    return {"movies": sweep.movie_paths(), "reports": sweep.validation_paths()}


@contextmanager
def sweep_rule(snakemake: Any, **open_args: Any) -> Iterator[Any]:
    """In a rule's script: log to the rule's log and open its input sweep as a Dataset.

    The rule's ``input`` is :func:`sweep_rule_inputs` (``movies`` and ``reports``)::

        from fieldmovie.workflow.dataset import sweep_rule
        with sweep_rule(snakemake) as ds:
            my_analysis(ds, snakemake.output[0])
    """
    from .jobs import job_logging

    log_path = snakemake.log[0] if len(snakemake.log) else None
    with job_logging(log_path) as log:
        inputs = snakemake.input
        reports = inputs.reports if hasattr(inputs, "reports") else None
        ds = open_sweep_movies(inputs.movies, reports, **open_args)
        log.info("opened sweep %r: %s", ds.attrs["sweep"], dict(ds.sizes))
        yield ds

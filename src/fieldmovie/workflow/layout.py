"""Where every result of the workflow lives: one typed layout for rules and users.

A layout with the default ``sweep="{sweep}"`` and no point gives Snakemake patterns
(``results/{sweep}/{point}/movie.mkv``); a sweep's layout with a point gives concrete paths::

    sweep.layout.observables(point)     # results/gray_scott/F~0.03_k~0.06_seed~0/observables.csv
    ResultsLayout("results").movie()   # results/{sweep}/{point}/movie.mkv
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["POINT", "SEGMENT", "SWEEP", "ResultsLayout"]

SWEEP = "{sweep}"
POINT = "{point}"
SEGMENT = "{k}"


class _Named(Protocol):
    name: str


def _name(point: _Named | str) -> str:
    return point if isinstance(point, str) else point.name


def _k(k: int | str) -> str:
    return k if isinstance(k, str) else f"{k:04d}"


@dataclass(frozen=True)
class ResultsLayout:
    """Paths of all outputs under ``<results>/<sweep>/`` and logs under ``<logs>/<sweep>/``.

    Arguments left at their defaults stay Snakemake wildcards (``{sweep}``, ``{point}``,
    ``{k}``); segment numbers given as ints are written ``%04d``.
    """

    results: str = "results"
    sweep: str = SWEEP
    logs: str = "logs"

    # -- per point --------------------------------------------------------------------------
    def point_dir(self, point: _Named | str = POINT) -> str:
        """``<results>/<sweep>/<point>``."""
        return f"{self.results}/{self.sweep}/{_name(point)}"

    def segment(self, point: _Named | str = POINT, k: int | str = SEGMENT) -> str:
        """Movie segment ``segments/<k:04d>.mkv``."""
        return f"{self.point_dir(point)}/segments/{_k(k)}.mkv"

    def segment_times(self, point: _Named | str = POINT, k: int | str = SEGMENT) -> str:
        """The ``.times`` sidecar of a segment."""
        return f"{self.segment(point, k)}.times"

    def state(self, point: _Named | str = POINT, k: int | str = SEGMENT) -> str:
        """The exact float64 state at the end of segment ``k``."""
        return f"{self.point_dir(point)}/segments/{_k(k)}.state.npz"

    def movie(self, point: _Named | str = POINT) -> str:
        """The joined movie."""
        return f"{self.point_dir(point)}/movie.mkv"

    def movie_times(self, point: _Named | str = POINT) -> str:
        """The joined movie's ``.times`` sidecar."""
        return f"{self.movie(point)}.times"

    def validation(self, point: _Named | str = POINT) -> str:
        """The validation report of the joined movie (JSON)."""
        return f"{self.point_dir(point)}/movie.validation.json"

    def observables(self, point: _Named | str = POINT) -> str:
        """One row per frame: time and per component statistics (CSV)."""
        return f"{self.point_dir(point)}/observables.csv"

    def preview(self, point: _Named | str = POINT) -> str:
        """The H.264 preview (MP4)."""
        return f"{self.point_dir(point)}/preview.mp4"

    def preview_page(self, point: _Named | str = POINT) -> str:
        """The report's player page of the preview (HTML, the video embedded)."""
        return f"{self.point_dir(point)}/preview.html"

    def snapshots(self, point: _Named | str = POINT) -> str:
        """A grid of frames across the run (PNG)."""
        return f"{self.point_dir(point)}/snapshots.png"

    # -- per sweep --------------------------------------------------------------------------
    def summary_csv(self) -> str:
        """One row per point: parameters, seed, final observables."""
        return f"{self.results}/{self.sweep}/summary.csv"

    def summary_png(self) -> str:
        """The summary plotted against the swept parameters."""
        return f"{self.results}/{self.sweep}/summary.png"

    def sweep_page(self) -> str:
        """The report's page of a sweep: its config, parameter and summary tables (HTML)."""
        return f"{self.results}/{self.sweep}/sweep.html"

    # -- logs -------------------------------------------------------------------------------
    def log(self, step: str, point: _Named | str | None = POINT, k: int | str | None = None) -> str:
        """Log of a job: ``<logs>/<sweep>/<point>/<step>[_<k>].log`` (no point: per sweep)."""
        name = step if k is None else f"{step}_{_k(k)}"
        if point is None:
            return f"{self.logs}/{self.sweep}/{name}.log"
        return f"{self.logs}/{self.sweep}/{_name(point)}/{name}.log"

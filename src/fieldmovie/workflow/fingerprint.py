"""Fingerprints of the package code a rule runs: results rerun when that code changes.

Each rule's ``params`` holds the fingerprint of the subpackages its computation uses
(simulation: movie + simulation; analysis: movie + analysis) and of its rule script, a hash
of the *contents* of those files: touching a file changes nothing, editing the analysis
code never reruns a simulation. ``snakemake --list-changes params`` lists the affected outputs.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import cache
from pathlib import Path

__all__ = ["CODE_OF_STAGE", "code_fingerprint", "stage_fingerprint"]

PACKAGE = Path(__file__).resolve().parent.parent

#: subpackages (or modules) of ``fieldmovie`` whose code each stage's results depend on
CODE_OF_STAGE: dict[str, tuple[str, ...]] = {
    "simulation": ("movie", "simulation"),
    "movie": ("movie",),
    "analysis": ("movie", "analysis"),
    "report": ("movie", "workflow/report.py"),
}


def _sources(part: str) -> list[Path]:
    path = PACKAGE / part
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


@cache
def code_fingerprint(parts: tuple[str, ...], extra: tuple[str, ...] = ()) -> str:
    """sha256 (16 hex digits) of the names and contents of the source files of ``parts``
    (paths relative to the ``fieldmovie`` package) and of the files ``extra``."""
    digest = hashlib.sha256()
    files = [(str(p.relative_to(PACKAGE)), p) for part in parts for p in _sources(part)]
    files += [(Path(e).name, Path(e)) for e in extra]
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def stage_fingerprint(stage: str, model: type | None = None, scripts: tuple[str, ...] = ()) -> str:
    """The fingerprint of one stage's package code, of the rule's ``scripts`` and, given a
    user model (not built in), of the model's module file."""
    extra = tuple(scripts)
    if model is not None and not model.__module__.startswith("fieldmovie."):
        source = inspect.getsourcefile(model)
        extra += (source,) if source else ()
    return code_fingerprint(CODE_OF_STAGE[stage], extra)

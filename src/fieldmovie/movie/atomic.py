"""Atomic writes: produce results under a temporary name in the target folder, then rename."""

from __future__ import annotations

import glob
import json
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "commit_movie",
    "remove_quietly",
    "remove_stale_temporaries",
    "temporary_path",
    "write_json",
]


def temporary_path(final: str | os.PathLike) -> Path:
    """A fresh, empty file next to ``final`` with the same suffix (so tools see the format)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        name = final.parent / f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}"
        try:
            # 0o666 minus the umask, like any new file (mkstemp would make it 0600)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return name
    raise FileExistsError(f"cannot create a temporary file next to {final}")


def remove_stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Remove temporary files of ``final`` left by killed writers; return what was removed.

    Call it only where no other live writer of ``final`` can exist (a job that owns the
    output). A writer orphaned by a hard kill that still runs loses its temporary file and
    fails at its rename; the output itself is never touched.
    """
    final = Path(final)
    removed = []
    for path in final.parent.glob(f".{glob.escape(final.name)}.*.tmp{glob.escape(final.suffix)}"):
        remove_quietly(path)
        removed.append(path)
    return removed


def remove_quietly(*paths: str | os.PathLike | None) -> None:
    """Remove files that may not exist (clean-up on error paths)."""
    for path in paths:
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


@contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, else remove it.

    An existing ``final`` is replaced only on success and left untouched on error.
    """
    tmp = temporary_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        remove_quietly(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2) + "\n")


def commit_movie(
    movie_tmp: str | os.PathLike,
    movie: str | os.PathLike,
    times_tmp: str | os.PathLike,
    times: str | os.PathLike,
) -> None:
    """Move a finished movie and its ``.times`` into place, the movie last.

    If a rename fails, the previous movie and ``.times`` (if any) are left as they were.
    SIGTERM and SIGINT are held back during the renames (in the main thread), so a job
    stopped by Snakemake cannot leave a movie paired with the wrong ``.times``.
    """
    blocked = _block_signals()
    try:
        backup = None
        try:
            if os.path.exists(times):
                backup = temporary_path(times)
                os.replace(times, backup)
            os.replace(times_tmp, times)
            os.replace(movie_tmp, movie)
        except BaseException:
            if backup is not None:
                os.replace(backup, times)
            else:
                remove_quietly(times)
            raise
        remove_quietly(backup)
    finally:
        _restore_signals(blocked)


def _block_signals() -> set[int] | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def _restore_signals(previous: set[int] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

"""Atomic, durable writes: results appear under their final name complete or not at all.

Every output is written under a temporary name in its own folder, flushed to disk
(``fsync``), renamed, and the folder is flushed too, so after a crash or power cut either
the old or the new file exists. A movie and its ``.times`` sidecar are committed together
under an exclusive ``flock`` of a hidden file ``.NAME.lock`` next to the movie, which also
holds a small journal of the commit in progress: two writers never interleave their
renames, and a commit cut off by a power cut between the two renames is completed by the
next commit or :func:`clear_stale_temporaries` (both new files were on disk before the
first rename). The lock file exists only during a commit, or after one was cut off.

Every failing file operation raises an :class:`OSError` of the original kind and errno
whose message names the output and the operation, e.g. ``cannot write
results/x/movie.mkv.times (renaming a temporary file): No space left on device``.
"""

from __future__ import annotations

import fcntl
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
    "clear_stale_temporaries",
    "commit_movie",
    "lock_path",
    "remove_quietly",
    "remove_stale_temporaries",
    "temporary_path",
    "write_json",
]

_TIMES_SUFFIX = ".times"


def _error(target: str | os.PathLike, operation: str, exc: OSError) -> OSError:
    """An OSError of the same kind and errno, naming the output and the operation."""
    reason = exc.strerror or str(exc)
    new = OSError(exc.errno, f"cannot write {target} ({operation}): {reason}")
    return new if exc.errno is not None else OSError(f"cannot write {target} ({operation}): {exc}")


@contextmanager
def _reported(target: str | os.PathLike, operation: str) -> Iterator[None]:
    """Re-raise any OSError of the block as one that names ``target`` and ``operation``."""
    try:
        yield
    except OSError as exc:
        raise _error(target, operation, exc) from exc


def _fsync_file(path: str | os.PathLike, target: str | os.PathLike) -> None:
    """Flush a closed file's data to disk (opened read-only: fsync needs no write access)."""
    with _reported(target, "flushing a temporary file to disk"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(folder: str | os.PathLike, target: str | os.PathLike) -> None:
    """Flush a folder's entries (the renames in it) to disk."""
    with _reported(target, "flushing the folder to disk"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _replace(src: str | os.PathLike, dst: str | os.PathLike, operation: str) -> None:
    """``os.replace`` whose error names the destination."""
    with _reported(dst, operation):
        os.replace(src, dst)


def temporary_path(final: str | os.PathLike) -> Path:
    """A fresh, empty file next to ``final`` with the same suffix (so tools see the format)."""
    final = Path(final)
    with _reported(final, "creating a temporary file"):
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


def lock_path(final: str | os.PathLike) -> Path:
    """The hidden lock (and commit journal) file of ``final``: ``.NAME.lock`` next to it."""
    final = Path(final)
    return final.parent / f".{final.name}.lock"


def _temporaries(final: Path) -> list[Path]:
    """Temporary files of ``final`` and, for a movie, of its ``.times`` and concat listing."""
    own = f"{glob.escape(final.name)}.*.tmp{glob.escape(final.suffix)}"
    patterns = [f".{own}", f"..{own}"]  # and temporaries of temporaries (metadata rewrite)
    if final.suffix != _TIMES_SUFFIX:
        times = final.name + _TIMES_SUFFIX
        patterns.append(f".{glob.escape(times)}.*.tmp{_TIMES_SUFFIX}")
        listing = final.with_suffix(".concat.txt").name
        patterns.append(f".{glob.escape(listing)}.*.tmp.txt")
    found = {p for pattern in patterns for p in final.parent.glob(pattern)}
    return sorted(found)


def remove_stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Remove temporary files of ``final`` left by killed writers; return what was removed.

    Covers the temporaries of ``final`` itself, and for a movie also those of its
    ``.times`` sidecar (including the backup of the previous ``.times``) and of the concat
    listing. A commit interrupted between its renames (power cut) is first completed from
    its journal, so the new pair is kept whole. Call it only where no other live writer of
    ``final`` can exist (a job that owns the output): a writer orphaned by a hard kill that
    still runs loses its temporary file and fails at its rename; the output itself is
    never touched except to complete an interrupted commit.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    if lock_path(final).exists():
        with _commit_lock(final) as fd:
            _finish_interrupted_commit(fd, final)
    removed = []
    for path in _temporaries(final):
        remove_quietly(path)
        removed.append(path)
    return removed


def clear_stale_temporaries(*outputs: str | os.PathLike) -> list[Path]:
    """Remove the stale temporaries of every output of a job (see remove_stale_temporaries).

    Every job that writes should call it first with all its outputs, e.g.
    ``clear_stale_temporaries(snakemake.output.movie, snakemake.output.report)``.
    """
    removed: list[Path] = []
    for output in outputs:
        removed += remove_stale_temporaries(output)
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
    """Yield a temporary path; on success flush it, rename it to ``final`` and flush the folder.

    An existing ``final`` is replaced only on success and left untouched on error. An
    OSError raised in the block while writing the temporary file (disk full, permissions)
    is re-raised naming ``final``.
    """
    tmp = temporary_path(final)
    try:
        try:
            yield tmp
        except OSError as exc:
            if exc.filename not in (None, str(tmp), tmp):
                raise  # about another file (an input, say): not ours to rename
            raise _error(final, "writing a temporary file", exc) from exc
        _fsync_file(tmp, final)
        _replace(tmp, final, "renaming a temporary file")
        _fsync_dir(Path(final).parent, final)
    except BaseException:
        remove_quietly(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically and durably."""
    data = (json.dumps(obj, indent=2) + "\n").encode()
    with atomic_path(path) as tmp:
        with _reported(path, "writing a temporary file"):
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)


def _stat_or_none(path: Path) -> os.stat_result | None:
    # the holder may remove the lock file at any moment: no exists()-then-stat()
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


@contextmanager
def _commit_lock(movie: str | os.PathLike) -> Iterator[int]:
    """Hold the exclusive lock of ``movie``'s commits; yield the lock file's descriptor.

    The lock file is removed when its journal is empty, while the lock is still held. A
    writer that waited on a removed (or replaced) lock file notices it after locking, as
    the path no longer names the file it locked, and tries again with the current one.
    """
    path = lock_path(movie)
    while True:
        with _reported(movie, f"taking the commit lock {path.name}"):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                current = _stat_or_none(path)
            except BaseException:
                os.close(fd)
                raise
        locked = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (
            locked.st_dev,
            locked.st_ino,
        ):
            break
        os.close(fd)
    try:
        yield fd
    finally:
        try:
            if os.fstat(fd).st_size == 0:  # no commit left unfinished: nothing to keep
                remove_quietly(path)
        finally:
            os.close(fd)  # releases the lock


def _write_journal(fd: int, movie: Path, entries: dict[str, str | None]) -> None:
    """Record the renames of a commit, durably, or clear the record (that need not be)."""
    with _reported(movie, "writing the commit journal"):
        os.ftruncate(fd, 0)
        if entries:
            os.pwrite(fd, json.dumps(entries).encode(), 0)
            os.fsync(fd)


def _finish_interrupted_commit(fd: int, movie: Path) -> None:
    """Complete a commit cut off between its renames (``fd``: the held lock file).

    Both new files were flushed to disk before the journal was written, so renaming what
    is left of them gives the new, complete pair. A commit abandoned on an error path
    (its temporaries removed) gets the previous ``.times`` back from its backup.
    """
    with _reported(movie, "reading the commit journal"):
        raw = os.pread(fd, 1 << 16, 0)
    if not raw.strip():
        return
    try:
        entries = {k: (None if v is None else movie.parent / v) for k, v in json.loads(raw).items()}
        movie_tmp, times_tmp, backup = entries["movie_tmp"], entries["times_tmp"], entries["backup"]
        times = entries["times"]
    except (ValueError, AttributeError, KeyError, TypeError):
        return  # not a journal we wrote: nothing to complete (it stays, for inspection)
    if movie_tmp is not None and movie_tmp.exists():
        if times_tmp is not None and times_tmp.exists():
            _replace(times_tmp, times, "completing an interrupted commit")
        _replace(movie_tmp, entries["movie"], "completing an interrupted commit")
    elif backup is not None and backup.exists() and not times.exists():
        _replace(backup, times, "restoring the previous .times")
    remove_quietly(backup)
    _fsync_dir(movie.parent, movie)
    _write_journal(fd, movie, {})


def commit_movie(
    movie_tmp: str | os.PathLike,
    movie: str | os.PathLike,
    times_tmp: str | os.PathLike,
    times: str | os.PathLike,
) -> None:
    """Move a finished movie and its ``.times`` into place, durably, the movie last.

    Both files are flushed to disk first; the renames happen under the movie's exclusive
    commit lock, recorded in its journal, and the folder is flushed after them. So two
    concurrent writers of one movie never leave a movie beside the other's ``.times``, and
    after a power cut the old pair, or the new pair (completed by the next commit or
    :func:`remove_stale_temporaries`), exists. If a rename fails, the previous movie and
    ``.times`` (if any) are left as they were. SIGTERM and SIGINT are held back during the
    commit (in the main thread), so a job stopped by Snakemake cannot mix the pair either.
    """
    movie, times = Path(movie), Path(times)
    _fsync_file(times_tmp, times)
    _fsync_file(movie_tmp, movie)
    blocked = _block_signals()
    try:
        with _commit_lock(movie) as fd:
            _finish_interrupted_commit(fd, movie)
            _locked_commit(fd, Path(movie_tmp), movie, Path(times_tmp), times)
    finally:
        _restore_signals(blocked)


def _locked_commit(fd: int, movie_tmp: Path, movie: Path, times_tmp: Path, times: Path) -> None:
    """The renames of :func:`commit_movie`, journaled; restores the old ``.times`` on error."""
    backup = temporary_path(times) if times.exists() else None
    folder = movie.parent

    def rel(path: Path | None) -> str | None:
        return None if path is None else os.path.relpath(path, folder)

    _write_journal(
        fd,
        movie,
        {
            "movie": rel(movie),
            "movie_tmp": rel(movie_tmp),
            "times": rel(times),
            "times_tmp": rel(times_tmp),
            "backup": rel(backup),
        },
    )
    moved = []  # the renames done so far
    try:
        if backup is not None:
            _replace(times, backup, "keeping the previous file while committing")
            moved.append(backup)
        _replace(times_tmp, times, "renaming a temporary file")
        moved.append(times)
        _replace(movie_tmp, movie, "renaming a temporary file")
    except BaseException:
        if backup in moved:
            _replace(backup, times, f"restoring the previous file from {backup.name}")
        elif times in moved:
            remove_quietly(times)
        remove_quietly(backup)
        _write_journal(fd, movie, {})
        raise
    _fsync_dir(folder, movie)
    _write_journal(fd, movie, {})
    remove_quietly(backup)


def _block_signals() -> set[int] | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def _restore_signals(previous: set[int] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

"""Atomic commits: durable (fsync), unmixable under concurrent writers, errors naming the file."""

from __future__ import annotations

import errno
import multiprocessing
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fieldmovie.movie import atomic
from fieldmovie.movie.atomic import (
    atomic_path,
    clear_stale_temporaries,
    commit_movie,
    lock_path,
    remove_stale_temporaries,
    temporary_path,
    write_json,
)


def _pair(folder: Path, content: str) -> tuple[Path, Path, Path, Path]:
    """Temporary movie and .times of ``folder/movie.mkv``, both holding ``content``."""
    movie, times = folder / "movie.mkv", folder / "movie.mkv.times"
    movie_tmp, times_tmp = temporary_path(movie), temporary_path(times)
    movie_tmp.write_text(content)
    times_tmp.write_text(content)
    return movie_tmp, movie, times_tmp, times


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every file or folder flushed with os.fsync."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


# ------------------------------------------------------------------ durability


def test_atomic_path_flushes_file_and_folder(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    synced = _record_fsyncs(monkeypatch)
    out = tmp_path / "state.npz"
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"data")
    assert out.read_bytes() == b"data"
    assert synced[0].endswith(".tmp.npz") and Path(synced[0]).parent == tmp_path
    assert synced[1] == str(tmp_path)
    assert _hidden(tmp_path) == []


def test_write_json_is_durable(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    synced = _record_fsyncs(monkeypatch)
    write_json(tmp_path / "report.json", {"ok": True})
    assert (tmp_path / "report.json").read_text() == '{\n  "ok": true\n}\n'
    assert str(tmp_path) in synced and len(synced) >= 2


def test_commit_movie_flushes_both_files_and_folder(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    movie_tmp, movie, times_tmp, times = _pair(tmp_path, "new")
    synced = _record_fsyncs(monkeypatch)
    commit_movie(movie_tmp, movie, times_tmp, times)
    assert movie.read_text() == times.read_text() == "new"
    assert str(times_tmp) in synced and str(movie_tmp) in synced
    # the folder is flushed after the renames, and the journal is cleared
    assert str(tmp_path) in synced
    assert _hidden(tmp_path) == []  # the lock file is removed with the lock held


# ------------------------------------------------------------------ errors name the file

ERRORS = [errno.ENOSPC, errno.EACCES]


@pytest.mark.parametrize("code", ERRORS, ids=errno.errorcode.get)
def test_commit_rename_error_names_file(tmp_path: Path, monkeypatch, code: int) -> None:  # noqa: ANN001
    old = _pair(tmp_path, "old")
    commit_movie(*old)
    movie_tmp, movie, times_tmp, times = _pair(tmp_path, "new")
    real = os.replace

    def replace(src, dst) -> None:  # noqa: ANN001
        if str(src) == str(movie_tmp):
            raise OSError(code, os.strerror(code))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as info:
        commit_movie(movie_tmp, movie, times_tmp, times)
    assert info.value.errno == code
    assert f"cannot write {movie} (renaming a temporary file): {os.strerror(code)}" in str(
        info.value
    )
    assert movie.read_text() == times.read_text() == "old"  # the old pair, whole
    # no backup of the old .times is left; the caller removes its movie temporary
    assert _hidden(tmp_path) == [movie_tmp.name]


@pytest.mark.parametrize("code", ERRORS, ids=errno.errorcode.get)
def test_write_json_write_error_names_file(tmp_path: Path, monkeypatch, code: int) -> None:  # noqa: ANN001
    out = tmp_path / "report.json"
    out.write_text("old")
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(code, "x")))
    with pytest.raises(OSError, match=f"cannot write {out} \\(writing a temporary file\\)") as e:
        write_json(out, {"a": 1})
    assert e.value.errno == code
    assert out.read_text() == "old" and _hidden(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_fsync_error_names_file(tmp_path: Path, monkeypatch, code: int) -> None:  # noqa: ANN001
    movie_tmp, movie, times_tmp, times = _pair(tmp_path, "new")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(code, "x")))
    with pytest.raises(OSError, match=f"cannot write {times} \\(flushing a temporary file"):
        commit_movie(movie_tmp, movie, times_tmp, times)
    assert not movie.exists() and not times.exists()
    out = tmp_path / "state.npz"
    with pytest.raises(OSError, match=f"cannot write {out} \\(flushing") as info:
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"x")
    assert info.value.errno == code and not out.exists()


def test_temporary_file_error_names_file(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    def denied(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    out = tmp_path / "x" / "obs.csv"
    with pytest.raises(PermissionError, match=f"cannot write {out} \\(creating a temporary"):
        with atomic_path(out):
            pass


def test_block_errors_name_file_only_when_about_the_temporary(tmp_path: Path) -> None:
    out = tmp_path / "obs.csv"
    with pytest.raises(OSError, match=f"cannot write {out} \\(writing a temporary file\\): No"):
        with atomic_path(out):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    other = tmp_path / "input.npz"
    with pytest.raises(FileNotFoundError) as info:
        with atomic_path(out):
            open(other)  # noqa: SIM115 - an input that is missing is not a write error
    assert "cannot write" not in str(info.value)
    assert _hidden(tmp_path) == []


def _mount_tiny_tmpfs(folder: Path) -> None:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def test_real_full_filesystem(tmp_path: Path) -> None:
    """On a 64 KiB tmpfs: disk full names the file; the old output and no temporary stay."""
    folder = tmp_path / "full"
    _mount_tiny_tmpfs(folder)
    try:
        out = folder / "report.json"
        write_json(out, {"old": True})
        with pytest.raises(OSError, match=f"cannot write {out} .*No space left") as info:
            write_json(out, {"big": "x" * 200_000})
        assert info.value.errno == errno.ENOSPC
        csv = folder / "obs.csv"
        with pytest.raises(OSError, match=f"cannot write {csv} .*No space left"):
            with atomic_path(csv) as tmp, open(tmp, "wb") as fh:
                fh.write(b"y" * 200_000)
        assert out.read_text() == '{\n  "old": true\n}\n'
        assert _hidden(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# ------------------------------------------------------------------ concurrent writers


def _slow_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between the renames of a commit (2 ms per rename)."""
    real = os.replace

    def replace(src, dst) -> None:  # noqa: ANN001
        time.sleep(0.002)
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def _commit_many(folder: Path, writer: int, rounds: int) -> None:
    for i in range(rounds):
        commit_movie(*_pair(folder, f"writer {writer} commit {i}"))


def _check_pairs(folder: Path, stop: threading.Event, seen: list[str]) -> None:
    """Read the pair under the commit lock, as a careful reader would, until ``stop``."""
    movie = folder / "movie.mkv"
    while not stop.is_set():
        with atomic._commit_lock(movie):
            if movie.exists():
                seen.append(f"{movie.read_text()}|{(folder / 'movie.mkv.times').read_text()}")


def _run_threads(folder: Path, writers: int, rounds: int) -> list[str]:
    stop, seen = threading.Event(), []
    checker = threading.Thread(target=_check_pairs, args=(folder, stop, seen))
    checker.start()
    threads = [
        threading.Thread(target=_commit_many, args=(folder, w, rounds)) for w in range(writers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    checker.join()
    return seen + [
        f"{(folder / 'movie.mkv').read_text()}|{(folder / 'movie.mkv.times').read_text()}"
    ]


def test_concurrent_threads_never_mix_pairs(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    _slow_replace(monkeypatch)
    seen = _run_threads(tmp_path, writers=6, rounds=15)
    mixed = [s for s in seen if s.split("|")[0] != s.split("|")[1]]
    assert not mixed and len(seen) > 1
    assert _hidden(tmp_path) == []


def test_without_the_lock_pairs_mix(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The check above can fail: with plain renames and no lock, the checker sees mixes."""
    from contextlib import nullcontext

    def bare_renames(fd, movie_tmp, movie, times_tmp, times) -> None:  # noqa: ANN001
        os.replace(times_tmp, times)
        os.replace(movie_tmp, movie)

    _slow_replace(monkeypatch)
    monkeypatch.setattr(atomic, "_commit_lock", lambda movie: nullcontext(-1))
    monkeypatch.setattr(atomic, "_finish_interrupted_commit", lambda fd, movie: None)
    monkeypatch.setattr(atomic, "_locked_commit", bare_renames)
    seen = _run_threads(tmp_path, writers=4, rounds=15)
    assert [s for s in seen if s.split("|")[0] != s.split("|")[1]]


def _process_writer(folder: str, writer: int, rounds: int) -> None:
    real = os.replace

    def replace(src, dst) -> None:  # noqa: ANN001
        time.sleep(0.002)
        real(src, dst)

    os.replace = replace  # this child only
    _commit_many(Path(folder), writer, rounds)


def test_concurrent_processes_never_mix_pairs(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for trial in range(3):
        folder = tmp_path / str(trial)
        folder.mkdir()
        procs = [ctx.Process(target=_process_writer, args=(str(folder), w, 8)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        assert (folder / "movie.mkv").read_text() == (folder / "movie.mkv.times").read_text()
        assert _hidden(folder) == []


# ------------------------------------------------------------------ power cut, stale files


def _cut_power_before_movie_rename(folder: str) -> None:
    """Commit, dying (no clean-up at all) right after the .times rename."""
    real = os.replace

    def replace(src, dst) -> None:  # noqa: ANN001
        if str(dst).endswith("movie.mkv"):
            os._exit(3)
        real(src, dst)

    os.replace = replace
    commit_movie(*_pair(Path(folder), "new"))


def test_interrupted_commit_is_completed(tmp_path: Path) -> None:
    commit_movie(*_pair(tmp_path, "old"))
    proc = multiprocessing.get_context("fork").Process(
        target=_cut_power_before_movie_rename, args=(str(tmp_path),)
    )
    proc.start()
    proc.join(30)
    assert proc.exitcode == 3
    movie, times = tmp_path / "movie.mkv", tmp_path / "movie.mkv.times"
    assert (movie.read_text(), times.read_text()) == ("old", "new")  # mixed until recovery
    assert lock_path(movie).read_bytes() != b""  # the journal of the cut commit
    removed = remove_stale_temporaries(movie)
    assert movie.read_text() == times.read_text() == "new"
    assert _hidden(tmp_path) == []
    assert all("times" in p.name for p in removed)  # the backup of the old .times


def test_next_commit_completes_an_interrupted_one(tmp_path: Path) -> None:
    commit_movie(*_pair(tmp_path, "old"))
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_cut_power_before_movie_rename, args=(str(tmp_path),))
    proc.start()
    proc.join(30)
    commit_movie(*_pair(tmp_path, "next"))
    assert (tmp_path / "movie.mkv").read_text() == "next"
    assert (tmp_path / "movie.mkv.times").read_text() == "next"
    assert _hidden(tmp_path) == []


def test_stale_temporaries_of_movie_times_listing_and_others(tmp_path: Path) -> None:
    movie = tmp_path / "joined.mkv"
    commit_movie(temporary_path(movie), movie, temporary_path(tmp_path / "joined.mkv.times"),
                 tmp_path / "joined.mkv.times")  # fmt: skip
    stale = [
        temporary_path(movie),
        temporary_path(tmp_path / "joined.mkv.times"),
        temporary_path(tmp_path / "joined.concat.txt"),
        temporary_path(tmp_path / "report.json"),
    ]
    stale.append(temporary_path(stale[0]))  # the writer's metadata rewrite of its temporary
    keep = [tmp_path / "joined.mkv", tmp_path / "joined.mkv.times"]
    unrelated = temporary_path(tmp_path / "other.mkv")
    removed = clear_stale_temporaries(movie, tmp_path / "report.json", tmp_path / "x" / "y.csv")
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in keep) and unrelated.exists()
    assert not any(p.exists() for p in stale)
    assert clear_stale_temporaries(movie) == []

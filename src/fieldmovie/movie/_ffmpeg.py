"""Running FFmpeg and ffprobe: every process is reaped and its stderr drained while it runs.

Two ways in:

* :func:`run` for commands that run to completion (probe, concat, checksums); output is
  collected by ``communicate`` and the process is killed on timeout.
* :func:`open_process`, a context manager for streaming (encoding through stdin, decoding
  through stdout). A thread drains stderr so FFmpeg never blocks on a full pipe, and the
  ``finally`` clause kills and reaps the process however the caller leaves the block.
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "FFmpegError",
    "FFmpegProcess",
    "damage_lines",
    "error_lines",
    "ffmpeg_executable",
    "ffprobe_executable",
    "open_process",
    "run",
]

#: seconds a finished stream may take to flush and exit before it is killed
EXIT_TIMEOUT = 60.0


class FFmpegError(RuntimeError):
    """FFmpeg failed or reported errors; ``stderr`` holds what it said."""

    def __init__(self, message: str, stderr: str = "") -> None:
        tail = "\n".join(stderr.strip().splitlines()[-20:])
        super().__init__(f"{message}\nFFmpeg said:\n{tail}" if tail else message)
        self.stderr = stderr


def ffmpeg_executable() -> str:
    """The ffmpeg command: ``$FIELDMOVIE_FFMPEG`` or ``ffmpeg`` on the PATH."""
    return os.environ.get("FIELDMOVIE_FFMPEG", "ffmpeg")


def ffprobe_executable() -> str:
    """The ffprobe command: ``$FIELDMOVIE_FFPROBE`` or ``ffprobe`` on the PATH."""
    return os.environ.get("FIELDMOVIE_FFPROBE", "ffprobe")


def _not_found(cmd: str) -> FFmpegError:
    return FFmpegError(
        f"cannot run {cmd!r}: not found. Install FFmpeg (Debian/Ubuntu: apt-get install ffmpeg) "
        "or point FIELDMOVIE_FFMPEG / FIELDMOVIE_FFPROBE at the executables."
    )


#: stderr fragments that mean the data is damaged even when FFmpeg exits with status 0
_ERROR_MARKERS = (
    "error",
    "crc mismatch",
    "invalid",
    "ended prematurely",
    "truncat",
    "corrupt",
    "damaged",
    "concealing",
    "missing",
    "incomplete",
)


def error_lines(stderr: str) -> list[str]:
    """Lines of FFmpeg's stderr that report damaged or unreadable data."""
    found = []
    for line in stderr.splitlines():
        low = line.lower()
        if any(marker in low for marker in _ERROR_MARKERS):
            found.append(line.strip())
    return found


#: who reports damaged input: the FFV1 decoder and the demuxers (not the muxers we write to)
_DAMAGE_SOURCES = ("[ffv1 @", "[matroska", "[avi @", "[mov,", "[concat @")


def damage_lines(stderr: str) -> list[str]:
    """Lines of a decoding FFmpeg's stderr that report damaged input data.

    Complaints of the output side (e.g. the rawvideo muxer about timestamps) are not damage.
    """
    found = []
    for line in stderr.splitlines():
        low = line.strip().lower()
        if (
            low.startswith(_DAMAGE_SOURCES)
            or "error while decoding" in low
            or (not low.startswith("[") and any(m in low for m in _ERROR_MARKERS))
        ):
            found.append(line.strip())
    return found


@dataclass
class Completed:
    """Result of :func:`run`."""

    returncode: int
    stdout: bytes
    stderr: str


def run(
    args: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = 600.0,
    check: bool = True,
    what: str = "",
) -> Completed:
    """Run an FFmpeg/ffprobe command to completion.

    Args:
        args: the full command line, starting with the executable.
        input: bytes fed to stdin (stdin is closed otherwise).
        timeout: seconds after which the process is killed and FFmpegError raised.
        check: raise :class:`FFmpegError` on a non-zero exit status.
        what: short description of the job for error messages (e.g. the file name).
    """
    try:
        proc = subprocess.run(
            list(args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise _not_found(args[0]) from None
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed and reaped it
        stderr = (exc.stderr or b"").decode("utf-8", "replace")
        raise FFmpegError(f"{args[0]} timed out after {timeout} s ({what})", stderr) from None
    stderr = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise FFmpegError(f"{args[0]} failed with exit status {proc.returncode} ({what})", stderr)
    return Completed(proc.returncode, proc.stdout, stderr)


class FFmpegProcess:
    """A running FFmpeg process with stderr drained by a background thread."""

    def __init__(self, args: Sequence[str], *, stdin: bool, stdout: bool, bufsize: int) -> None:
        self.args = list(args)
        try:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                bufsize=bufsize,
            )
        except FileNotFoundError:
            raise _not_found(self.args[0]) from None
        # keep the tail only: a long run may print a lot, the end is what explains a failure
        self._stderr: collections.deque[str] = collections.deque(maxlen=2000)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def stdin(self):  # noqa: ANN201 - a binary file object
        """FFmpeg's stdin pipe (only when opened with ``stdin=True``)."""
        return self.proc.stdin

    @property
    def stdout(self):  # noqa: ANN201
        """FFmpeg's stdout pipe (only when opened with ``stdout=True``)."""
        return self.proc.stdout

    @property
    def stderr(self) -> str:
        """What FFmpeg printed on stderr so far (complete once :meth:`wait` returned)."""
        return "\n".join(self._stderr)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        """Close stdin, wait for the exit and for stderr to be drained; return the status."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise FFmpegError(
                f"{self.args[0]} did not exit within {timeout} s", self.stderr
            ) from None
        self._drain.join(timeout)
        return code

    def kill(self) -> None:
        """Kill the process (if still running) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """End the process whatever state it is in; safe to call twice."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass
        self.kill()
        self._drain.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@contextmanager
def open_process(
    args: Sequence[str], *, stdin: bool = False, stdout: bool = False, bufsize: int = -1
) -> Iterator[FFmpegProcess]:
    """Start FFmpeg for streaming; the process is killed and reaped when the block is left.

    A caller that wants the exit status calls :meth:`FFmpegProcess.wait` inside the block.
    """
    process = FFmpegProcess(args, stdin=stdin, stdout=stdout, bufsize=bufsize)
    try:
        yield process
    finally:
        process.close()

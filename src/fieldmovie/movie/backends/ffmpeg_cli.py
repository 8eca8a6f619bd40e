"""The ``ffmpeg`` backend: FFmpeg and ffprobe as subprocesses (the system's executables).

Command lines are built with ffmpeg-python; processes are run, drained and reaped by
:mod:`fieldmovie.movie._ffmpeg`. Damage that FFmpeg reports only on stderr (exit status 0)
is read from there.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python
import numpy as np

from .._ffmpeg import (
    FFmpegError,
    FFmpegProcess,
    damage_lines,
    error_lines,
    ffmpeg_executable,
    ffprobe_executable,
    open_process,
    run,
)
from ..metadata import MovieFormatError
from ..probe import StreamInfo
from .base import Backend, Decoder, EncoderSpec, H264Encoder, PictureEncoder, Scan

__all__ = ["FFmpegBackend", "encoder_command", "ffmpeg_available"]

_QUIET = ("-nostdin", "-hide_banner", "-v", "error")


def ffmpeg_available() -> bool:
    """True when the ffmpeg and ffprobe executables can be found."""
    return bool(shutil.which(ffmpeg_executable()) and shutil.which(ffprobe_executable()))


def _compile(stream: Any, *, overwrite: bool = True) -> list[str]:
    """The command line of an ffmpeg-python graph, quiet, with the configured executable."""
    stream = stream.global_args(*_QUIET)
    if overwrite:
        stream = stream.overwrite_output()
    return stream.compile(cmd=ffmpeg_executable())


def _said(stderr: str) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-10:])
    return f"\nFFmpeg said:\n{tail}" if tail else ""


def encoder_command(path: Path, spec: EncoderSpec, source: str = "pipe:0") -> list[str]:
    """The ``ffmpeg`` command that encodes raw pictures from ``source`` into ``path``."""
    raw = ffmpeg_python.input(
        source, f="rawvideo", pix_fmt=spec.pix_fmt, s=f"{spec.width}x{spec.height}",
        framerate=spec.fps,
    )  # fmt: skip
    options = {key: str(value) for key, value in spec.options.items()}
    out = ffmpeg_python.output(
        raw["v:0"], str(path), vcodec="ffv1", g=1, f=spec.container,
        metadata=f"comment={spec.comment}", **options,
    )  # fmt: skip
    return _compile(out)


def _feed(proc: FFmpegProcess, picture: np.ndarray, stopped: str) -> None:
    """Write one picture to an encoder's stdin; FFmpegError(``stopped``) if it has quit."""
    try:
        proc.stdin.write(np.ascontiguousarray(picture).data)
    except (BrokenPipeError, OSError):
        proc.wait()
        raise FFmpegError(stopped, proc.stderr) from None


class _PipeEncoder(PictureEncoder):
    """``ffmpeg -f rawvideo -i pipe:0 -c:v ffv1 ...`` fed through its stdin."""

    def __init__(self, path: Path, spec: EncoderSpec) -> None:
        self.path = path
        # buffered: write() then always delivers the whole frame, even when a signal
        # handler interrupts the system call
        self._proc: FFmpegProcess | None = FFmpegProcess(
            encoder_command(path, spec), stdin=True, stdout=False, bufsize=-1
        )
        self._frames = 0

    def write(self, picture: np.ndarray) -> None:
        assert self._proc is not None
        _feed(self._proc, picture, f"{self.path}: FFmpeg stopped at frame {self._frames}")
        self._frames += 1

    def finish(self) -> None:
        assert self._proc is not None
        code = self._proc.wait()
        if code != 0 or error_lines(self._proc.stderr):
            raise FFmpegError(
                f"{self.path}: FFmpeg failed encoding (exit status {code})", self._proc.stderr
            )

    def close(self) -> None:
        if self._proc is not None:
            self._proc.close()
            self._proc = None


class _ProcessDecoder(Decoder):
    """Every read starts one ``ffmpeg -ss ... -f rawvideo pipe:1`` process."""

    def __init__(self, backend: FFmpegBackend, path: Path) -> None:
        self.path = path
        self.info = backend.probe(path)

    def frames(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction
    ) -> Iterator[bytearray]:
        # a quarter frame before the frame: FFmpeg rescales (pts - seek point) to the stream
        # time base with rounding, so half a frame would be ambiguous
        seek = {"ss": f"{(start - 0.25) / float(fps):.6f}"} if start > 0 else {}
        source = ffmpeg_python.input(str(self.path), **seek)
        out = ffmpeg_python.output(
            source["v:0"], "pipe:1", f="rawvideo", pix_fmt=pix_fmt,
            # frames exactly as stored: no duplicates or drops from constant-rate output
            fps_mode="passthrough", **{"frames:v": count},
        )  # fmt: skip
        with open_process(_compile(out, overwrite=False), stdout=True,
                          bufsize=max(frame_bytes, 65536)) as proc:  # fmt: skip
            for k in range(count):
                buf = _read_exactly(proc, frame_bytes)
                if buf is None:
                    proc.wait()
                    raise MovieFormatError(
                        f"{self.path}: frame {start + k} could not be decoded (stream ended "
                        f"after {start + k} frames)" + _said(proc.stderr)
                    )
                if k == count - 1:
                    # FFmpeg stops after the last requested frame: wait for it so that an
                    # error about this frame is seen before the frame is handed out
                    code = proc.wait()
                    if code != 0:
                        raise MovieFormatError(
                            f"{self.path}: FFmpeg failed decoding frames {start}..{start + k} "
                            f"(exit status {code})" + _said(proc.stderr)
                        )
                if damage_lines(proc.stderr):
                    raise MovieFormatError(
                        f"{self.path}: FFmpeg reported damaged data near frame {start + k}"
                        + _said(proc.stderr)
                    )
                yield buf

    def close(self) -> None:
        """Nothing stays open between reads."""


def _read_exactly(proc: FFmpegProcess, nbytes: int) -> bytearray | None:
    buf = bytearray(nbytes)
    view, got = memoryview(buf), 0
    while got < nbytes:
        n = proc.stdout.readinto(view[got:])
        if not n:
            return None
        got += n
    return buf


_MD5_LINE = re.compile(r"^\s*(\d+),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+),\s*(\d+),\s*([0-9a-f]{32})")


def _framemd5(path: Path, *, decode: bool) -> tuple[list[str], list[float], str]:
    """MD5 and pts of every frame (decoded) or packet (``decode=False``), and the stderr."""
    extra = {} if decode else {"c": "copy"}
    out = ffmpeg_python.output(ffmpeg_python.input(str(path))["v:0"], "pipe:1", f="framemd5",
                               **extra)  # fmt: skip
    # no time limit: decoding a long 3D movie may take long; FFmpeg ends with its input
    done = run(_compile(out, overwrite=False), check=False, timeout=None,
               what=f"checksums of {path}")  # fmt: skip
    sums, pts, tb = [], [], Fraction(1)
    for line in done.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
            continue
        m = _MD5_LINE.match(line)
        if m:
            sums.append(m.group(6))
            pts.append(float(int(m.group(3)) * tb))
    if done.returncode != 0:
        raise FFmpegError(f"{path}: FFmpeg failed with status {done.returncode}", done.stderr)
    return sums, pts, done.stderr


class _PipeH264(H264Encoder):
    """``ffmpeg -f rawvideo -pix_fmt rgb24 -i pipe:0 -c:v libx264 ...`` through stdin."""

    def __init__(self, path: Path, width: int, height: int, *, fps: float, threads: int,
                 crf: int, preset: str) -> None:  # fmt: skip
        self.path, self.shape, self.count = path, (height, width, 3), 0
        source = ffmpeg_python.input("pipe:0", f="rawvideo", pix_fmt="rgb24",
                                     s=f"{width}x{height}", framerate=f"{fps:g}")  # fmt: skip
        out = ffmpeg_python.output(
            source["v:0"], str(path), an=None,
            vf="scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
            vcodec="libx264", preset=preset, crf=crf, pix_fmt="yuv420p", threads=threads,
            colorspace="bt709", color_primaries="bt709", color_trc="bt709", color_range="tv",
            movflags="+faststart", f="mp4",
        )  # fmt: skip
        self._proc: FFmpegProcess | None = FFmpegProcess(
            _compile(out), stdin=True, stdout=False, bufsize=-1
        )

    def append(self, picture: np.ndarray) -> None:
        _check_rgb(picture, self.shape)
        assert self._proc is not None
        _feed(
            self._proc, picture,
            f"ffmpeg stopped reading the preview {self.path} at frame {self.count}",
        )  # fmt: skip
        self.count += 1

    def close(self) -> int:
        assert self._proc is not None
        try:
            code = self._proc.wait()
            if code != 0:
                raise FFmpegError(
                    f"ffmpeg failed writing the preview {self.path} (exit status {code})",
                    self._proc.stderr,
                )
        finally:
            self.abort()
        return self.count

    def abort(self) -> None:
        if self._proc is not None:
            self._proc.close()
            self._proc = None


def _progress_frames(stdout: bytes, what: str) -> int:
    """The last ``frame=N`` of FFmpeg's ``-progress`` output (frames written)."""
    found = re.findall(rb"^frame=\s*(\d+)\s*$", stdout, re.MULTILINE)
    if not found:
        raise FFmpegError(f"{what}: FFmpeg reported no progress (frame count unknown)")
    return int(found[-1])


def _check_rgb(picture: np.ndarray, shape: tuple[int, int, int]) -> None:
    if picture.shape != shape or picture.dtype != np.uint8:
        raise ValueError(
            f"preview picture of shape {picture.shape} and dtype {picture.dtype}; expected "
            f"{shape} uint8 (rgb24)"
        )


class FFmpegBackend(Backend):
    """FFmpeg and ffprobe subprocesses (``$FIELDMOVIE_FFMPEG`` / ``$FIELDMOVIE_FFPROBE``)."""

    name = "ffmpeg"

    def __init__(self) -> None:
        self._versions: dict[str, str] = {}

    def version(self) -> str:
        exe = ffmpeg_executable()
        if exe not in self._versions:  # asked once per executable
            out = run([exe, "-hide_banner", "-version"], what="ffmpeg -version")
            first = out.stdout.decode("utf-8", "replace").split("\n", 1)[0].split()
            self._versions[exe] = f"ffmpeg {first[2]}" if len(first) > 2 else "ffmpeg"
        return self._versions[exe]

    def probe(self, path: Path, *, count_packets: bool = True) -> StreamInfo:
        args = [ffprobe_executable(), "-v", "error", "-show_format", "-show_streams"]
        if count_packets:
            args.append("-count_packets")
        args += ["-select_streams", "v:0", "-of", "json", str(path)]
        try:
            out = run(args, what=str(path))
        except FFmpegError as exc:
            raise MovieFormatError(f"{path}: not a readable movie file.\n{exc}") from None
        try:
            info = json.loads(out.stdout)
        except json.JSONDecodeError:
            raise MovieFormatError(f"{path}: ffprobe gave unreadable output") from None
        streams = info.get("streams") or []
        if not streams:
            raise MovieFormatError(f"{path}: contains no video stream")
        stream, fmt = streams[0], info.get("format", {})
        tags = {k.lower(): v for k, v in (fmt.get("tags") or {}).items()}
        rate = stream.get("r_frame_rate") or stream.get("avg_frame_rate") or "0/1"
        try:
            frame_rate = Fraction(rate)
        except (ValueError, ZeroDivisionError):
            frame_rate = Fraction(0)
        return StreamInfo(
            path=path,
            container=fmt.get("format_name", ""),
            codec_name=stream.get("codec_name", ""),
            pix_fmt=stream.get("pix_fmt", ""),
            width=int(stream.get("width", 0)),
            height=int(stream.get("height", 0)),
            frame_rate=frame_rate,
            packets=int(stream.get("nb_read_packets", -1)) if count_packets else -1,
            comment=tags.get("comment"),
            size=path.stat().st_size,
        )

    def open_decoder(self, path: Path) -> Decoder:
        return _ProcessDecoder(self, path)

    def open_encoder(self, path: Path, spec: EncoderSpec) -> PictureEncoder:
        return _PipeEncoder(path, spec)

    def concat(
        self, segments: Sequence[Path], output: Path, *, container: str, comment: str
    ) -> None:
        from .listing import concat_listing

        with concat_listing(segments, output) as listing:
            source = ffmpeg_python.input(str(listing), f="concat", safe=0)
            out = ffmpeg_python.output(source["v:0"], str(output), c="copy", map_metadata=-1,
                                       metadata=f"comment={comment}", f=container)  # fmt: skip
            # a stream copy of any length; FFmpeg ends with its input
            run(_compile(out), timeout=None, what=f"joining {len(segments)} segments into {output}")

    def set_comment(self, source: Path, output: Path, *, container: str, comment: str) -> int:
        out = ffmpeg_python.output(ffmpeg_python.input(str(source)), str(output), map=0, c="copy",
                                   metadata=f"comment={comment}", f=container)  # fmt: skip
        # -progress reports the frames muxed ("frame=N"): no second pass to count them
        out = out.global_args("-progress", "pipe:1", "-nostats")
        done = run(_compile(out), timeout=None, what=str(source))
        if error_lines(done.stderr):
            raise FFmpegError(f"stream copy of {source} into {output} failed", done.stderr)
        return _progress_frames(done.stdout, f"stream copy of {source} into {output}")

    def scan(self, path: Path, *, decode: bool = True) -> Scan:
        packets, pts, _ = _framemd5(path, decode=False)
        if not decode:
            return Scan(packets=packets, pts=pts)
        frames, _, stderr = _framemd5(path, decode=True)
        return Scan(packets=packets, pts=pts, frames=frames, log=stderr)

    def open_h264(self, path: Path, width: int, height: int, *, fps: float, threads: int,
                  crf: int, preset: str) -> H264Encoder:  # fmt: skip
        return _PipeH264(path, width, height, fps=fps, threads=threads, crf=crf, preset=preset)

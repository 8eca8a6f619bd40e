"""Writing and reading fieldmovie movies: :class:`MovieWriter` and :class:`MovieReader`."""

from __future__ import annotations

import math
import os
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from ._ffmpeg import (
    FFmpegError,
    FFmpegProcess,
    damage_lines,
    error_lines,
    ffmpeg_executable,
    open_process,
    run,
)
from .atomic import commit_movie, remove_quietly, temporary_path
from .metadata import FORMAT_NAME, MovieFormatError, MovieMeta
from .probe import StreamInfo, container_for, probe, read_times, times_path, write_times

__all__ = ["ClippingWarning", "MovieReader", "MovieWriter", "open_movie"]

#: FFV1 encoder options a user may override through ``codec_options``
CODEC_OPTIONS = ("level", "slices", "slicecrc", "context", "coder")
DEFAULT_FPS = 25
#: frame-exact seeking needs timestamps in whole milliseconds; above 100 fps the concat
#: demuxer's joins drift by a millisecond per segment (measured with FFmpeg 5.1)
MAX_FPS = 100
#: the metadata travels as one command-line argument (Linux caps one at 128 KiB)
MAX_METADATA_BYTES = 64 * 1024


class ClippingWarning(UserWarning):
    """Values outside ``[vmin, vmax]`` were clipped while writing a movie."""


class MovieWriter:
    """Write frames of a field time series to an FFV1 movie plus its ``.times`` sidecar.

    Use as a context manager::

        with MovieWriter("run.mkv", components=["u", "v"], grid_shape=(64, 64),
                         vmin=[0, 0], vmax=[1, 0.6], bits=16) as writer:
            for t, data in simulation:
                writer.append(data, t)

    Frames are encoded while they arrive (one FFmpeg process, fed through a pipe) into a
    temporary file next to ``path``. Only a successful :meth:`close` renames the movie and
    its ``.times`` into place; on an exception the partial files are removed and any
    pre-existing movie at ``path`` is left untouched.

    Args:
        path: ``.mkv`` (Matroska, the default choice) or ``.avi``.
        components: component names (or their number).
        grid_shape: shape of the 1D, 2D or 3D grid.
        vmin, vmax: storage range per component (scalar, sequence or mapping name -> value);
            values outside are clipped, counted per component, recorded in the metadata
            (``"clipped"``) and warned about once.
        bits: 8, 10, 12 or 16 bits per value.
        info: free JSON-serialisable dict stored in the metadata (model, parameters, ...).
        grid_length, periodic: optional grid geometry stored in the metadata.
        fps: nominal frame rate of the container (players only; times live in ``.times``).
        codec_options: overrides of the FFV1 settings (``level``, ``slices``, ``slicecrc``,
            ``context``, ``coder``); the defaults are chosen per frame size to round-trip.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        components: Sequence[str] | int,
        grid_shape: Sequence[int],
        vmin: Any,
        vmax: Any,
        bits: int = 16,
        info: Mapping[str, Any] | None = None,
        grid_length: Sequence[float] | None = None,
        periodic: Sequence[bool] | bool | None = None,
        fps: int = DEFAULT_FPS,
        codec_options: Mapping[str, int] | None = None,
    ) -> None:
        self.path = Path(path)
        self._container = container_for(self.path)
        self.meta = MovieMeta.create(
            components=components,
            grid_shape=grid_shape,
            vmin=vmin,
            vmax=vmax,
            bits=bits,
            info=info,
            grid_length=grid_length,
            periodic=periodic,
        )
        settings = codec.encoder_settings(*self.meta.picture_size)
        for key, value in (codec_options or {}).items():
            if key not in CODEC_OPTIONS:
                raise ValueError(f"codec_options: unknown option {key!r}; allowed: {CODEC_OPTIONS}")
            settings[key] = int(value)
        problem = codec.settings_problem(*self.meta.picture_size, settings)
        if problem:
            raise ValueError(f"codec_options {dict(codec_options or {})}: {problem}")
        if not (isinstance(fps, int) and 1 <= fps <= MAX_FPS and 1000 % fps == 0):
            raise ValueError(
                f"fps must be an integer from 1 to {MAX_FPS} that divides 1000 (so frame "
                f"timestamps are whole milliseconds), got {fps!r}"
            )
        self.meta.codec = {**settings, "gop": 1, "fps": fps}
        self.meta.clipped = [0] * self.meta.n_components
        size = len(self.meta.to_json().encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(
                f"{self.path}: metadata is {size} bytes, more than {MAX_METADATA_BYTES}; keep "
                "large data out of info (store it in a file next to the movie)"
            )
        self._times: list[float] = []
        self._tmp: Path | None = None
        self._proc: FFmpegProcess | None = None
        self._warned = False
        self._closed = False

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> MovieWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # a writer dropped without close() must not leave a process or a temporary file
        if getattr(self, "_proc", None) is not None or getattr(self, "_tmp", None) is not None:
            self.abort()

    @property
    def frames(self) -> int:
        """Number of frames appended so far."""
        return len(self._times)

    def _encoder_args(self, output: Path) -> list[str]:
        width, height = self.meta.picture_size
        enc = self.meta.codec
        args = [
            ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", self.meta.pix_fmt, "-s", f"{width}x{height}",
            "-framerate", str(enc["fps"]), "-i", "pipe:0",
            "-map", "0:v", "-c:v", "ffv1", "-g", "1",
        ]  # fmt: skip
        for key in CODEC_OPTIONS:
            if key in enc:
                args += [f"-{key}", str(enc[key])]
        args += ["-metadata", f"comment={self.meta.to_json()}", "-f", self._container, str(output)]
        return args

    def append(self, data: np.ndarray, t: float) -> None:
        """Quantize and encode one frame of shape ``(n_components, *grid_shape)``.

        With a single component, ``data`` may also have shape ``grid_shape``.
        """
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        meta = self.meta
        frame = len(self._times)
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"{self.path}: time of frame {frame} is {t}; times must be finite")
        if self._times and not t > self._times[-1]:
            raise ValueError(
                f"{self.path}: time of frame {frame} is {t!r}, not after the previous "
                f"{self._times[-1]!r}; times must increase strictly"
            )
        data = np.asarray(data)
        if data.shape == meta.grid_shape and meta.n_components == 1:
            data = data[np.newaxis]
        if data.shape != meta.frame_shape:
            raise ValueError(
                f"{self.path}: frame {frame} has shape {data.shape}; expected "
                f"{meta.frame_shape} (components {meta.components}, grid {meta.grid_shape})"
            )
        if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
            raise ValueError(f"{self.path}: frame {frame} has dtype {data.dtype}; need real data")
        data = data.astype(np.float64, copy=False)
        finite = np.isfinite(data)
        if not finite.all():
            comp = int(np.argmin(finite.reshape(meta.n_components, -1).all(axis=1)))
            bad = data[comp][~finite[comp]]
            raise ValueError(
                f"{self.path}: frame {frame} (t={t!r}) has {bad.size} non-finite value(s) "
                f"({bad[0]}) in component {meta.components[comp]!r}; refusing to store them"
            )
        pixels, clipped = codec.quantize(data, meta.vmin, meta.vmax, meta.bits)
        if clipped.any():
            for c, n in enumerate(clipped):
                meta.clipped[c] += int(n)
            if not self._warned:
                self._warned = True
                comps = [meta.components[c] for c in np.flatnonzero(clipped)]
                warnings.warn(
                    f"{self.path}: frame {frame} (t={t!r}) has values outside the storage "
                    f"range of component(s) {comps}; they are clipped (counts are kept in the "
                    "movie's metadata under 'clipped'). Further clipping is not warned about.",
                    ClippingWarning,
                    stacklevel=2,
                )
        if self._proc is None:
            self._tmp = temporary_path(self.path)
            # buffered: write() then always delivers the whole frame, even when a signal
            # handler interrupts the system call
            self._proc = FFmpegProcess(
                self._encoder_args(self._tmp), stdin=True, stdout=False, bufsize=-1
            )
        try:
            picture = codec.pad_picture(codec.to_picture(pixels))
            self._proc.stdin.write(np.ascontiguousarray(picture).data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            raise FFmpegError(
                f"{self.path}: FFmpeg stopped at frame {frame}", self._proc.stderr
            ) from None
        self._times.append(t)

    def close(self) -> None:
        """Finish encoding and move the movie and its ``.times`` into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._proc is None:
                raise ValueError(f"{self.path}: no frames were appended; nothing was written")
            code = self._proc.wait()
            problems = error_lines(self._proc.stderr)
            if code != 0 or problems:
                raise FFmpegError(
                    f"{self.path}: FFmpeg failed encoding (exit status {code})", self._proc.stderr
                )
            assert self._tmp is not None
            if any(self.meta.clipped):
                # the counts are known only now: put them into the comment tag (stream copy)
                _rewrite_metadata(self._tmp, self.meta, self._container)
            times_tmp = temporary_path(times_path(self.path))
            try:
                write_times(times_tmp, self._times)
                # the movie appears last: present means complete
                commit_movie(self._tmp, self.path, times_tmp, times_path(self.path))
            finally:
                remove_quietly(times_tmp)
            self._tmp = None
        except BaseException:
            self.abort()
            raise
        finally:
            if self._proc is not None:
                self._proc.close()
                self._proc = None

    def abort(self) -> None:
        """Stop encoding and remove the partial file; an existing movie stays untouched."""
        self._closed = True
        if self._proc is not None:
            self._proc.close()
            self._proc = None
        remove_quietly(self._tmp)
        self._tmp = None


def _rewrite_metadata(path: Path, meta: MovieMeta, container: str) -> None:
    """Replace the comment tag of ``path`` by ``meta`` (stream copy into a temporary file)."""
    tmp = temporary_path(path)
    try:
        run(
            [
                ffmpeg_executable(), "-nostdin", "-v", "error", "-y", "-i", str(path),
                "-map", "0", "-c", "copy", "-metadata", f"comment={meta.to_json()}",
                "-f", container, str(tmp),
            ],
            timeout=None,
            what=str(path),
        )  # fmt: skip
        before, after = probe(path).packets, probe(tmp).packets
        if after != before:
            raise FFmpegError(f"{path}: rewriting the metadata kept {after} of {before} frames")
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


class MovieReader:
    """Read a fieldmovie movie (or one written by py-pde's ``MovieStorage``).

    ``len(reader)`` frames at ``reader.times``; ``reader[i]`` seeks to one frame without
    decoding the ones before it (every frame is a keyframe); ``reader[a:b:s]`` and
    ``reader[[i, j]]`` return stacked arrays; iterating yields ``(t, data)`` from a single
    streaming FFmpeg process; :meth:`to_array` returns all frames. Frames have shape
    ``(n_components, *grid_shape)`` and dtype float64; every returned array is new.

    Damage that FFmpeg reports while decoding raises :class:`MovieFormatError`, but a
    streamed frame may be handed out before FFmpeg's message about it arrives; only
    :func:`fieldmovie.validate_movie` (every frame decoded, all messages read) vouches
    for a whole movie. Use the reader as a context manager to end unfinished iterations.

    Raises:
        FileNotFoundError: the movie does not exist.
        MovieFormatError: the file is not a fieldmovie/py-pde movie, or its ``.times``
            sidecar is missing or does not have one line per frame.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.stream: StreamInfo = probe(self.path)
        self.meta, self._layout = _open_layout(self.stream)
        if self.meta.origin == "py-pde":
            from .pypde import pypde_times

            times = pypde_times(self.stream, self.meta)
        else:
            times = read_times(times_path(self.path))
        if self.stream.packets >= 0 and len(times) != self.stream.packets:
            raise MovieFormatError(
                f"{times_path(self.path)} has {len(times)} times but {self.path} holds "
                f"{self.stream.packets} frames; the sidecar does not belong to this movie or "
                "one of them is truncated"
            )
        #: nominal frame rate: frame i has the timestamp i / frame_rate (ffprobe's guess of
        #: the rate is not used: it can be off for short movies)
        self.frame_rate = Fraction(self.meta.codec.get("fps") or self.stream.frame_rate)
        self.times = np.asarray(times, dtype=np.float64)
        self.times.flags.writeable = False
        self._open_streams: weakref.WeakSet = weakref.WeakSet()

    # -- metadata --------------------------------------------------------------------------
    @property
    def components(self) -> list[str]:
        """Component names."""
        return list(self.meta.components)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Shape of the grid."""
        return self.meta.grid_shape

    @property
    def vmin(self) -> list[float]:
        """Lower end of the storage range of each component."""
        return list(self.meta.vmin)

    @property
    def vmax(self) -> list[float]:
        """Upper end of the storage range of each component."""
        return list(self.meta.vmax)

    @property
    def bits(self) -> int:
        """Bits per stored value."""
        return self.meta.bits

    @property
    def info(self) -> dict[str, Any]:
        """The free user dict stored with the movie."""
        return dict(self.meta.info)

    @property
    def grid_length(self) -> tuple[float, ...] | None:
        """Physical side lengths of the grid, if recorded."""
        return self.meta.grid_length

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame, ``(n_components, *grid_shape)``."""
        return self.meta.frame_shape

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return (
            f"MovieReader({str(self.path)!r}, frames={len(self)}, components={self.components}, "
            f"grid_shape={self.grid_shape}, bits={self.bits})"
        )

    def __enter__(self) -> MovieReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the FFmpeg processes of iterations still open (a reader needs no other
        clean-up; an unfinished iterator otherwise ends when it is garbage collected)."""
        for stream in list(self._open_streams):
            stream.close()

    # -- decoding --------------------------------------------------------------------------
    def _seek_time(self, index: int) -> float:
        # a quarter frame before the frame: FFmpeg rescales (pts - seek point) to the stream
        # time base with rounding, so half a frame would be ambiguous. Frame i is at i/fps
        # exactly (fps divides 1000, so Matroska's milliseconds and joins add no drift)
        return (index - 0.25) / float(self.frame_rate)

    def _stream(self, start: int, count: int) -> Iterator[np.ndarray]:
        """Decode ``count`` consecutive frames from ``start`` with one FFmpeg process."""
        layout = self._layout
        args = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "error"]
        if start > 0:
            args += ["-ss", f"{self._seek_time(start):.6f}"]
        args += [
            "-i", str(self.path), "-map", "0:v:0", "-frames:v", str(count),
            # frames exactly as stored: no duplicates or drops from constant-rate output
            "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", layout.pix_fmt, "pipe:1",
        ]  # fmt: skip
        nbytes = layout.frame_bytes
        with open_process(args, stdout=True, bufsize=max(nbytes, 65536)) as proc:
            for k in range(count):
                buf = bytearray(nbytes)
                view, got = memoryview(buf), 0
                while got < nbytes:
                    n = proc.stdout.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if got < nbytes:
                    proc.wait()
                    raise MovieFormatError(
                        f"{self.path}: frame {start + k} could not be decoded (stream ended after "
                        f"{start + k} frames, {len(self)} expected)" + _said(proc.stderr)
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
                try:
                    frame = layout.decode(buf)
                except ValueError as exc:
                    raise MovieFormatError(f"{self.path}: frame {start + k}: {exc}") from None
                yield frame

    def _index(self, index: int) -> int:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self.path}: frame index {index} out of range for {n} frames")
        return i

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(key, slice):
            return self.read_frames(range(*key.indices(len(self))))
        if isinstance(key, int | np.integer):
            return next(iter(self._stream(self._index(key), 1)))
        return self.read_frames(key)

    def read_frames(self, indices: Sequence[int] | np.ndarray | range) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) stacked into one array.

        Nearby indices are decoded in one streaming pass; far-apart ones by seeking.
        """
        wanted = [self._index(i) for i in indices]
        out = np.empty((len(wanted), *self.frame_shape))
        if not wanted:
            return out
        where: dict[int, list[int]] = {}
        for pos, i in enumerate(wanted):
            where.setdefault(i, []).append(pos)
        unique = sorted(where)
        # runs of indices with small gaps: decoding a few extra frames beats a new process
        runs, first = [], unique[0]
        for prev, cur in zip(unique, unique[1:] + [None], strict=True):
            if cur is None or cur - prev > 8:
                runs.append((first, prev))
                first = cur
        for lo, hi in runs:
            for i, frame in enumerate(self._stream(lo, hi - lo + 1), start=lo):
                for pos in where.get(i, ()):
                    out[pos] = frame
        return out

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        return self.iter_frames()

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Stream ``(t, data)`` for frames ``start .. stop-1`` through one FFmpeg process."""
        start, stop, _ = slice(start, stop).indices(len(self))
        stream = self._timed_stream(start, stop)
        self._open_streams.add(stream)
        return stream

    def _timed_stream(self, start: int, stop: int) -> Iterator[tuple[float, np.ndarray]]:
        if stop <= start:
            return
        for i, frame in enumerate(self._stream(start, stop - start), start=start):
            yield float(self.times[i]), frame

    def to_array(self) -> np.ndarray:
        """All frames, shape ``(frames, n_components, *grid_shape)``."""
        out = np.empty((len(self), *self.frame_shape))
        for i, (_, frame) in enumerate(self.iter_frames()):
            out[i] = frame
        return out

    def to_xarray(self):  # noqa: ANN201 - xarray is optional
        """All frames as an ``xarray.DataArray`` with time, component and grid coordinates."""
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("to_xarray needs xarray: pip install xarray") from None
        dims = ["time", "component"] + ["x", "y", "z"][: len(self.grid_shape)]
        coords: dict[str, Any] = {"time": self.times.copy(), "component": self.components}
        if self.grid_length is not None:
            for name, n, length in zip(dims[2:], self.grid_shape, self.grid_length, strict=True):
                coords[name] = (np.arange(n) + 0.5) * (length / n)  # cell centres
        return xr.DataArray(
            self.to_array(), dims=dims, coords=coords, name=self.path.stem,
            attrs={"vmin": self.vmin, "vmax": self.vmax, "bits": self.bits,
                   "info": repr(self.info), "source": str(self.path)},
        )  # fmt: skip


def _said(stderr: str) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-10:])
    return f"\nFFmpeg said:\n{tail}" if tail else ""


class _GrayLayout:
    """Decoding of fieldmovie's own gray-plane pictures."""

    def __init__(self, meta: MovieMeta) -> None:
        self.meta = meta
        self.pix_fmt = meta.pix_fmt
        width, height = meta.picture_size
        self._dtype = codec.pixel_dtype(meta.bits)
        self._shape = (height, width)
        self._field_size = codec.frame_size(meta.grid_shape, meta.n_components)
        self.frame_bytes = width * height * self._dtype.itemsize

    def decode(self, buf: bytearray) -> np.ndarray:
        meta = self.meta
        picture = np.frombuffer(buf, self._dtype).reshape(self._shape)
        picture = codec.unpad_picture(picture, *self._field_size)  # ValueError if damaged
        pixels = codec.from_picture(picture, meta.n_components, meta.grid_shape)
        return codec.dequantize(pixels, meta.vmin, meta.vmax, meta.bits)


def _open_layout(stream: StreamInfo) -> tuple[MovieMeta, Any]:
    """Metadata and frame decoder for a probed movie (fieldmovie or py-pde)."""
    path = stream.path
    comment = stream.comment
    if comment is None:
        raise MovieFormatError(
            f"{path}: has no metadata comment tag; not a fieldmovie or py-pde movie"
        )
    if FORMAT_NAME not in comment[:64]:
        from .pypde import open_pypde_layout

        return open_pypde_layout(stream)
    meta = MovieMeta.from_json(comment, source=str(path))
    expected = meta.picture_size
    if (stream.width, stream.height) != expected or stream.pix_fmt != meta.pix_fmt:
        raise MovieFormatError(
            f"{path}: video stream is {stream.width}x{stream.height} {stream.pix_fmt}, but the "
            f"metadata implies {expected[0]}x{expected[1]} {meta.pix_fmt}"
        )
    if stream.codec_name != "ffv1":
        raise MovieFormatError(f"{path}: video codec is {stream.codec_name!r}, expected 'ffv1'")
    meta.codec.setdefault("fps", DEFAULT_FPS)
    return meta, _GrayLayout(meta)


def open_movie(path: str | os.PathLike) -> MovieReader:
    """Open a movie for reading (same as :class:`MovieReader`)."""
    return MovieReader(path)

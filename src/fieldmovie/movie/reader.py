"""Reading fieldmovie movies (and py-pde's): :class:`MovieReader`."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from .backends import Backend, Decoder, get_backend
from .frames import FrameDecoder, frame_error_bounds, read_frame_table
from .metadata import DEFAULT_FPS, FORMAT_NAME, MovieFormatError, MovieMeta
from .probe import StreamInfo, times_path

__all__ = ["MovieReader", "open_movie"]


class MovieReader:
    """Read a fieldmovie movie (or one written by py-pde's ``MovieStorage``).

    ``len(reader)`` frames at ``reader.times``; ``reader[i]`` seeks to one frame without
    decoding the ones before it (every frame is a keyframe); ``reader[a:b:s]`` and
    ``reader[[i, j]]`` return stacked arrays; iterating yields ``(t, data)`` in one
    streaming pass; :meth:`to_array` returns all frames. Frames have shape
    ``(n_components, *grid_shape)`` and dtype float64; every returned array is new.

    With the ``pyav`` backend the file stays open and opening costs the same for any
    length: frame ``i`` is the packet at ``i / fps``, found by seeking through the cues;
    streaming decodes ahead on a few threads, ``reader[i]`` on libav's slice threads.
    A reader may be shared between threads (a lock serialises the file). With the
    ``ffmpeg`` backend every read starts an FFmpeg process. :meth:`close` (or leaving the
    ``with`` block) releases the file; the reader is closed when garbage collected too.

    What is checked when: at open, the metadata, the sidecar (and its digest) and that the
    movie holds exactly one frame per sidecar line (pyav: the last frame is there and none
    follows it; ffmpeg: the packets counted); on every frame read, its timestamp, libav's
    log (slice CRCs) and (format 2) its digest. A frame missing in the middle of the movie
    is found when it is read, and always by :func:`fieldmovie.validate_movie`.

    Damage that FFmpeg reports while decoding raises :class:`MovieFormatError`, but a
    streamed frame may be handed out before FFmpeg's message about it arrives; only
    :func:`fieldmovie.validate_movie` (every frame decoded, all messages read) vouches
    for a whole movie. Use the reader as a context manager to end unfinished iterations.

    Raises:
        FileNotFoundError: the movie does not exist.
        MovieFormatError: the file is not a fieldmovie/py-pde movie, or its ``.times``
            sidecar is missing or does not have one line per frame.
    """

    def __init__(self, path: str | os.PathLike, *, backend: str | Backend | None = None) -> None:
        self.path = Path(path)
        self.backend = get_backend(backend)
        if not self.path.is_file():
            raise FileNotFoundError(f"movie {self.path} does not exist")
        self._decoder: Decoder = self.backend.open_decoder(self.path)
        try:
            self._setup()
        except BaseException:
            self._decoder.close()
            raise

    def _setup(self) -> None:
        self.stream: StreamInfo = self._decoder.info
        self.meta, self._layout = _open_layout(self.stream)
        if self.meta.origin == "py-pde":
            from .pypde import pypde_times

            # their times may depend on the frame count; their frames on those before them
            self.stream = self._decoder.index()
            times = pypde_times(self.stream, self.meta)
            #: the sidecar's per-frame times, digests and ranges (None for py-pde movies)
            self.frame_table = None
        else:
            self.frame_table = read_frame_table(self.meta, times_path(self.path))
            times = self.frame_table.times
        self._layout = FrameDecoder(self.meta, self._layout, self.frame_table)
        #: nominal frame rate: frame i has the timestamp i / frame_rate (ffprobe's guess of
        #: the rate is not used: it can be off for short movies)
        self.frame_rate = Fraction(self.meta.codec.get("fps") or self.stream.frame_rate)
        holds = self._decoder.length_problem(len(times), self.frame_rate)
        if holds is not None:
            raise MovieFormatError(
                f"{times_path(self.path)} has {len(times)} times but {self.path} holds "
                f"{holds}; the sidecar does not belong to this movie or one of them is "
                "truncated"
            )
        self.times = np.asarray(times, dtype=np.float64)
        self.times.flags.writeable = False
        self._open_streams: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()  # guards _open_streams

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
        """Lower end of the storage range of each component (auto: over all frames)."""
        return list(self.meta.vmin)

    @property
    def vmax(self) -> list[float]:
        """Upper end of the storage range of each component (auto: over all frames)."""
        return list(self.meta.vmax)

    @property
    def frame_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """``(vmin, vmax)``, each ``(frames, components)``: the storage range of every frame
        (an auto component's range is that frame's min and max)."""
        table = self.frame_table
        if table is None or table.vmin is None or table.vmax is None:
            n = len(self)
            return np.tile(self.vmin, (n, 1)), np.tile(self.vmax, (n, 1))
        return table.vmin.copy(), table.vmax.copy()

    @property
    def error_bound(self) -> np.ndarray:
        """``(frames, components)``: bound of ``|decoded - written|`` per frame and component.

        Half a step of the frame's range plus float64 rounding
        (:func:`fieldmovie.movie.ranges.error_bound`); values clipped by a fixed range are
        not bounded (``meta.clipped`` counts them).
        """
        return frame_error_bounds(self.meta, self.frame_table, len(self))

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
        """End iterations still open (and their FFmpeg processes) and close the file."""
        with self._lock:
            streams = list(self._open_streams)
        for stream in streams:
            try:
                stream.close()
            except ValueError:  # a generator running in another thread ends by itself
                pass
        self._decoder.close()

    # -- decoding --------------------------------------------------------------------------
    def _stream(self, start: int, count: int) -> Iterator[np.ndarray]:
        """Decode ``count`` consecutive frames from ``start`` in one pass."""
        layout = self._layout
        pictures = self._decoder.frames(
            start, count, layout.pix_fmt, layout.frame_bytes, self.frame_rate
        )
        try:
            for k, buf in enumerate(pictures):
                try:
                    frame = layout.decode(buf, start + k)
                except ValueError as exc:
                    raise MovieFormatError(f"{self.path}: frame {start + k}: {exc}") from None
                yield frame
        finally:
            pictures.close()

    def _index(self, index: int) -> int:
        """``index`` as a frame number in range; TypeError for anything but an integer
        (a float, even 2.0, a bool, a string), IndexError when out of range."""
        if isinstance(index, bool | np.bool_) or not isinstance(index, int | np.integer):
            raise TypeError(
                f"{self.path}: frame index {index!r} ({type(index).__name__}) is not an integer"
            )
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
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            return next(iter(self._stream(self._index(key), 1)))
        if isinstance(key, str | bytes | float | bool | np.floating | np.bool_):
            raise TypeError(
                f"{self.path}: frame index {key!r} ({type(key).__name__}): use an integer, a "
                "slice or a sequence of integers"
            )
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
        with self._lock:
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


def open_movie(path: str | os.PathLike, *, backend: str | Backend | None = None) -> MovieReader:
    """Open a movie for reading (same as :class:`MovieReader`)."""
    return MovieReader(path, backend=backend)

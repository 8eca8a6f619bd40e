"""Writing fieldmovie movies: :class:`MovieWriter` (FFV1 encoding, atomic commit)."""

from __future__ import annotations

import math
import os
import queue
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from ._ffmpeg import FFmpegError
from .atomic import commit_movie, remove_quietly, temporary_path
from .backends import Backend, EncoderSpec, PictureEncoder, get_backend
from .frames import WriterFrames
from .metadata import CODEC_OPTIONS, DEFAULT_FPS, MAX_FPS, MAX_METADATA_BYTES, MovieMeta
from .probe import container_for, probe, times_path

__all__ = ["ClippingWarning", "MovieWriter"]


class ClippingWarning(UserWarning):
    """Values outside ``[vmin, vmax]`` were clipped while writing a movie."""


class MovieWriter:
    """Write frames of a field time series to an FFV1 movie plus its ``.times`` sidecar.

    Use as a context manager::

        with MovieWriter("run.mkv", components=["u", "v"], grid_shape=(64, 64),
                         vmin=[0, 0], vmax=[1, 0.6], bits=16) as writer:
            for t, data in simulation:
                writer.append(data, t)

    Frames are encoded while they arrive (in-process with the ``pyav`` backend, or one FFmpeg
    process fed through a pipe with ``ffmpeg``) into a temporary file next to ``path``, on a
    background thread fed through a short queue: :meth:`append` quantizes and digests the
    next frame meanwhile, and raises an encoder error of an earlier frame (naming it). Only
    a successful :meth:`close` renames the movie and its ``.times`` into place; on an
    exception the partial files are removed and any pre-existing movie at ``path`` is left
    untouched.

    Args:
        path: ``.mkv`` (Matroska, the default choice) or ``.avi``.
        components: component names (or their number).
        grid_shape: shape of the 1D, 2D or 3D grid.
        vmin, vmax: storage range per component (scalar, sequence or mapping name -> value).
            ``"auto"`` (the default): each frame's own min and max of the component, so
            nothing is clipped. Numbers: a fixed range; values outside are clipped, counted
            per component, recorded in the metadata (``"clipped"``) and warned about once.
        range: instead of vmin/vmax, a mapping name -> ``"auto"`` or ``[vmin, vmax]``
            (components not named: auto).
        tolerance: optional absolute error limit per component (scalar, sequence or mapping;
            None: no limit): a frame whose half step exceeds it raises ValueError (a fixed
            range already in the constructor) and nothing is written.
        bits: 8, 10, 12 or 16 bits per value.
        info: free JSON-serialisable dict stored in the metadata (model, parameters, ...).
        grid_length, periodic: optional grid geometry stored in the metadata.
        fps: nominal frame rate of the container (players only; times live in ``.times``).
        codec_options: overrides of the FFV1 settings (``level``, ``slices``, ``slicecrc``,
            ``context``, ``coder``); the defaults are chosen per frame size to round-trip.
        backend: ``"pyav"`` or ``"ffmpeg"`` (default: ``$FIELDMOVIE_BACKEND``, else pyav when
            it imports); recorded with its version in the metadata (``"backend"``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        components: Sequence[str] | int,
        grid_shape: Sequence[int],
        vmin: Any = "auto",
        vmax: Any = "auto",
        bits: int = 16,
        info: Mapping[str, Any] | None = None,
        grid_length: Sequence[float] | None = None,
        periodic: Sequence[bool] | bool | None = None,
        fps: int = DEFAULT_FPS,
        codec_options: Mapping[str, int] | None = None,
        range: Any = None,
        tolerance: Any = None,
        backend: str | Backend | None = None,
    ) -> None:
        self.path = Path(path)
        self.backend = get_backend(backend)
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
            ranges=range,
        )
        self._frames = WriterFrames(self.path, self.meta, tolerance)
        size_problem = codec.picture_problem(*self.meta.picture_size)
        if size_problem:
            raise ValueError(
                f"{self.path}: grid {self.meta.grid_shape} with {self.meta.n_components} "
                f"component(s) cannot be stored: {size_problem}"
            )
        settings = codec.encoder_settings(*self.meta.picture_size, self.meta.bits)
        for key, value in (codec_options or {}).items():
            if key not in CODEC_OPTIONS:
                raise ValueError(f"codec_options: unknown option {key!r}; allowed: {CODEC_OPTIONS}")
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"codec_options: {key}={value!r} is not an integer")
            settings[key] = int(value)
        problem = codec.settings_problem(*self.meta.picture_size, settings, self.meta.bits)
        if problem:
            raise ValueError(f"codec_options {dict(codec_options or {})}: {problem}")
        if isinstance(fps, bool) or not (
            isinstance(fps, int) and 1 <= fps <= MAX_FPS and 1000 % fps == 0
        ):
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
        self._proc: _EncodeThread | None = None
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

    def _encoder_spec(self) -> EncoderSpec:
        width, height = self.meta.picture_size
        enc = self.meta.codec
        options = {key: enc[key] for key in CODEC_OPTIONS if key in enc}
        return EncoderSpec(
            container=self._container, pix_fmt=self.meta.pix_fmt, width=width, height=height,
            fps=enc["fps"], options=options, comment=self.meta.to_json(),
        )  # fmt: skip

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
        # min and max of each component: NaN and inf show there (one pass each, instead of
        # an isfinite pass and two comparison passes for clipping)
        flat = data.reshape(meta.n_components, -1)
        low, high = flat.min(axis=1), flat.max(axis=1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            self._refuse_non_finite(data, frame, t)
        lo, hi = self._frames.frame_range(data, frame, t)
        inside = bool((low >= lo).all() and (high <= hi).all())
        pixels, clipped = codec.quantize(data, lo, hi, meta.bits, inside=inside)
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
            self.meta.backend = {"name": self.backend.name, "version": self.backend.version()}
            encoder = self.backend.open_encoder(self._tmp, self._encoder_spec())
            self._proc = _EncodeThread(encoder, self.path)
        picture = np.ascontiguousarray(codec.pad_picture(codec.to_picture(pixels)))
        # the encoder works on this picture in the background while we digest it (the
        # picture is new and never written to again)
        self._proc.write(frame, picture)
        self._frames.record(lo, hi, picture)
        self._times.append(t)

    def _refuse_non_finite(self, data: np.ndarray, frame: int, t: float) -> None:
        finite = np.isfinite(data)
        comp = int(np.argmin(finite.reshape(self.meta.n_components, -1).all(axis=1)))
        bad = data[comp][~finite[comp]]
        raise ValueError(
            f"{self.path}: frame {frame} (t={t!r}) has {bad.size} non-finite value(s) "
            f"({bad[0]}) in component {self.meta.components[comp]!r}; refusing to store them"
        )

    def close(self) -> None:
        """Finish encoding and move the movie and its ``.times`` into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._proc is None:
                raise ValueError(f"{self.path}: no frames were appended; nothing was written")
            self._proc.finish()
            assert self._tmp is not None
            # the ranges, digests and clipping counts are known only now: put them into the
            # comment tag (stream copy)
            sidecar = self._frames.finish(self._times)
            _rewrite_metadata(
                self._tmp, self.meta, self._container, self.backend, frames=len(self._times)
            )
            times_tmp = temporary_path(times_path(self.path))
            try:
                times_tmp.write_bytes(sidecar)
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


def _rewrite_metadata(
    path: Path, meta: MovieMeta, container: str, backend: Backend, *, frames: int | None = None
) -> None:
    """Replace the comment tag of ``path`` by ``meta`` (stream copy into a temporary file).

    The stream copy must keep all ``frames`` (the frames encoded; None: the packets of
    ``path``, probed).
    """
    tmp = temporary_path(path)
    try:
        copied = backend.set_comment(path, tmp, container=container, comment=meta.to_json())
        expected = frames if frames is not None else probe(path, backend=backend).packets
        if copied != expected:
            raise FFmpegError(f"{path}: rewriting the metadata kept {copied} of {expected} frames")
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


#: pictures queued for the encoder thread at most (memory: this many pictures, plus the one
#: being encoded and the one being quantized)
QUEUE_DEPTH = 2


class _EncodeThread:
    """Runs a :class:`PictureEncoder` on a background thread fed through a bounded queue.

    Quantizing and digesting frame k+1 on the caller's thread overlaps the encoding of
    frame k (libav and the pipe writes release the GIL). An encoder error is kept and raised
    at the next :meth:`write` or :meth:`finish`. The thread holds no reference to the writer,
    so a writer dropped without ``close()`` is collected and its ``__del__`` stops the thread.
    """

    def __init__(self, encoder: PictureEncoder, path: Path) -> None:
        self.encoder, self.path = encoder, path
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(QUEUE_DEPTH)
        self._error: tuple[int, BaseException] | None = None
        self._stop = False  # close() before finish(): drop the queued pictures
        self._lock = threading.Lock()
        self._exited = False  # the thread has left its loop
        self._release_on_exit = False  # close() could not wait: the thread releases
        self._released = False
        self._thread = threading.Thread(
            target=self._run, name=f"fieldmovie encoder {path.name}", daemon=True
        )
        try:
            self._thread.start()
        except BaseException:
            encoder.close()
            raise

    def _run(self) -> None:
        try:
            while not self._release_on_exit:
                item = self._queue.get()
                if item is None:
                    return
                if self._error is not None or self._stop:
                    continue  # drain, so that the caller never blocks on a full queue
                frame, picture = item
                try:
                    self.encoder.write(picture)
                except BaseException as exc:  # raised on the caller's thread
                    self._error = (frame, exc)
        finally:
            with self._lock:
                self._exited = True
                release = self._release_on_exit
            if release:
                self.encoder.close()

    def _raise_error(self) -> None:
        if self._error is None:
            return
        frame, exc = self._error
        if isinstance(exc, FFmpegError):  # names the frame already
            raise exc
        raise FFmpegError(f"{self.path}: encoding frame {frame} failed: {exc!r}") from exc

    def write(self, frame: int, picture: np.ndarray) -> None:
        """Queue ``picture`` (frame ``frame``); raises an earlier frame's encoder error."""
        self._raise_error()
        self._queue.put((frame, picture))

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> None:
        """Encode what is queued, then flush and close the file (the encoder's finish)."""
        self._join()
        self._raise_error()
        self.encoder.finish()

    def close(self) -> None:
        """Stop the thread (queued pictures are dropped) and release the encoder."""
        if self._released:
            return
        self._released = True
        self._stop = True
        try:
            if threading.current_thread() is not self._thread:
                self._join()
        finally:
            with self._lock:
                if not self._exited:
                    # interrupted while waiting, or the garbage collector ran this on the
                    # thread itself: never release an encoder in use; the thread does it
                    self._release_on_exit = True
            if self._release_on_exit:
                try:
                    self._queue.put_nowait(None)  # wake it (a full queue wakes it too)
                except queue.Full:
                    pass
            else:
                self.encoder.close()

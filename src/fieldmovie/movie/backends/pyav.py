"""The ``pyav`` backend: FFmpeg's libraries in-process through PyAV (FFmpeg in the wheel).

libav reports slice CRC mismatches and premature ends through its log, not as errors; every
call captures the log of its own thread (:func:`captured_log`) and turns damage into
errors. A :class:`_ContainerDecoder` keeps the file open, finds frame i at i / fps through
the cues (docs/architecture.md says what is checked when); a lock makes it safe to share.
Every container is closed in ``finally`` and counted while open (:func:`open_containers`).
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import hashlib
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.logging
import numpy as np

from .._ffmpeg import FFmpegError, damage_lines, error_lines
from ..metadata import MovieFormatError
from ..probe import StreamInfo
from .base import Backend, Decoder, EncoderSpec, H264Encoder, PictureEncoder, Scan

__all__ = ["PyAVBackend", "captured_log", "open_containers"]

_open_lock = threading.Lock()
_open: dict[int, str] = {}


def open_containers() -> list[str]:
    """Names of the files whose PyAV containers are open now (for leak checks)."""
    with _open_lock:
        return sorted(_open.values())


def _open_container(path: Path | str, mode: str = "r", **kwargs: Any) -> Any:
    if mode == "r":  # a damaged tag must not stop opening: its text fails the digest check
        kwargs.setdefault("metadata_errors", "replace")
    container = av.open(str(path), mode, **kwargs)
    with _open_lock:
        _open[id(container)] = str(path)
    return container


def _close_container(container: Any) -> None:
    with _open_lock:
        _open.pop(id(container), None)
    container.close()


_log_lock = threading.Lock()
_log_users = 0
_log_saved: tuple[int | None, bool] = (None, True)


#: held while libav's log of all threads is captured (:func:`captured_log` all_threads)
_all_threads_lock = threading.Lock()


@contextmanager
def captured_log(all_threads: bool = False) -> Iterator[list[tuple[int, str, str]]]:
    """libav's log messages of this thread while the block runs, as ``(level, name, text)``.

    The first user switches PyAV's logging on at ERROR level (it ignores libav's log by
    default) and turns off the suppression of repeated messages (a repeat from another
    thread would hide damage); the last user restores both settings.

    ``all_threads``: also the messages of threads that capture none themselves, such as
    libav's own slice threads (they log on their own threads). Such blocks run one at a
    time in the process (a lock), so every such message in the window belongs to it; the
    threads of fieldmovie's other calls capture their own messages and are not affected.
    The list is filled when the block ends.
    """
    if all_threads:
        with _all_threads_lock, captured_log() as mine, av.logging.Capture(local=False) as rest:
            logs: list[tuple[int, str, str]] = []
            try:
                yield logs
            finally:
                logs += mine + rest
        return
    global _log_users, _log_saved
    with _log_lock:
        if _log_users == 0:
            _log_saved = (av.logging.get_level(), av.logging.get_skip_repeated())
            level = _log_saved[0]
            if level is None or level < av.logging.ERROR:
                av.logging.set_level(av.logging.ERROR)
            av.logging.set_skip_repeated(False)
        _log_users += 1
    try:
        with av.logging.Capture(local=True) as logs:
            yield logs
    finally:
        with _log_lock:
            _log_users -= 1
            if _log_users == 0:
                av.logging.set_level(_log_saved[0])
                av.logging.set_skip_repeated(_log_saved[1])


def log_text(logs: Sequence[tuple[int, str, str]]) -> str:
    """Error-level messages as FFmpeg prints them (``[ffv1 @ pyav] slice CRC mismatch ...``);
    a message continued without a newline stays on its line."""
    lines, current = [], ""
    for level, name, message in logs:
        if level > av.logging.ERROR:
            continue
        if not current:
            current = f"[{name or 'libav'} @ pyav] "
        current += message
        if message.endswith("\n"):
            lines.append(current.rstrip())
            current = ""
    if current:
        lines.append(current.rstrip())
    return "\n".join(lines)


def _libav_error(message: str, exc: BaseException, logs: Sequence = ()) -> FFmpegError:
    said = "\n".join(filter(None, [log_text(logs), str(exc)]))
    return FFmpegError(message, said)


def _video_stream(container: Any, path: Path) -> Any:
    if not container.streams.video:
        raise MovieFormatError(f"{path}: contains no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise MovieFormatError(f"{path}: the video stream's codec is unknown (damaged header?)")
    return stream


def _open_input(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"movie {path} does not exist")
    try:
        with captured_log():
            return _open_container(path)
    except av.FFmpegError as exc:
        raise MovieFormatError(f"{path}: not a readable movie file.\n{exc}") from None


def _stream_info(container: Any, stream: Any, path: Path, packets: int) -> StreamInfo:
    tags = {k.lower(): v for k, v in container.metadata.items()}
    rate = stream.base_rate or stream.guessed_rate or stream.average_rate or Fraction(0)
    ctx = stream.codec_context
    return StreamInfo(
        path=path,
        container=container.format.name,
        codec_name=ctx.codec.name if ctx.codec else "",
        pix_fmt=ctx.pix_fmt or "",
        width=int(ctx.width),
        height=int(ctx.height),
        frame_rate=Fraction(rate),
        packets=packets,
        comment=tags.get("comment"),
        size=path.stat().st_size,
    )


def _packets(container: Any, stream: Any) -> Iterator[Any]:
    """The stream's packets with data (not the empty packet that ends demuxing)."""
    for packet in container.demux(stream):
        if packet.size:
            yield packet


def _pts(packet: Any) -> int:
    """The packet's timestamp; MovieFormatError if it has none (a damaged block header)."""
    pts = packet.pts if packet.pts is not None else packet.dts
    if pts is None:
        raise MovieFormatError(f"packet at byte {packet.pos} has no timestamp (damaged?)")
    return pts


def raw_picture(frame: Any, pix_fmt: str, frame_bytes: int) -> np.ndarray:
    """The frame's planes in ``pix_fmt`` without line padding, as FFmpeg's rawvideo has them
    (formats whose planes all have the same rows, as ours and py-pde's do)."""
    if frame.format.name != pix_fmt:
        frame = frame.reformat(format=pix_fmt)
    planes = frame.planes
    rows = sum(p.height for p in planes)
    row_bytes, rest = divmod(frame_bytes, rows)
    if rest:
        raise MovieFormatError(f"{pix_fmt} picture of {frame_bytes} bytes in {rows} rows")
    out = np.empty((rows, row_bytes), np.uint8)
    top = 0
    for plane in planes:
        data = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
        out[top : top + plane.height] = data.reshape(plane.height, plane.line_size)[:, :row_bytes]
        top += plane.height
    return out.reshape(-1)


def _stream_workers() -> int:
    """Decoding threads for streaming: one per core available, at most 4 (beyond that the
    caller's own work per frame is the limit)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


#: frames in flight per decoding thread while streaming (memory stays flat: a few pictures)
_AHEAD = 2


def _new_decoder_context(stream: Any) -> Any:
    """A codec context of its own for the stream (one thread: libav logs on the caller's)."""
    template = stream.codec_context
    ctx = av.CodecContext.create(template.codec.name, "r")
    ctx.extradata = template.extradata
    ctx.width, ctx.height = template.width, template.height
    ctx.thread_count = 1
    # packet times in seconds in libav's messages ("slice CRC mismatch ... at 0.44 seconds")
    ctx.options = {"pkt_timebase": str(stream.time_base)}
    return ctx


#: libav slice threads decoding a single frame (reader[i]); 1: none
_SLICE_THREADS = min(4, _stream_workers())


def _slice_threaded_context(stream: Any) -> Any:
    """A codec context decoding the slices of one frame on ``_SLICE_THREADS`` threads."""
    ctx = _new_decoder_context(stream)
    if _SLICE_THREADS > 1:
        ctx.thread_type = "SLICE"
        ctx.thread_count = _SLICE_THREADS
    return ctx


def _decode_checked(
    ctx: Any, packet: Any, path: Path, index: int, target: int | None = None
) -> Any:
    """Decode the packet of frame ``index`` on ``ctx`` with its log captured (of all
    threads if ``ctx`` runs libav threads); MovieFormatError naming the frame if libav
    fails, reports damage, or does not return exactly that frame (by its timestamp,
    ``target``: the packet's own unless given; no packet: the frame was not found)."""
    if target is None:
        target = packet.pts
    with captured_log(all_threads=ctx.thread_count != 1) as logs:
        try:
            frames = ctx.decode(packet) if packet is not None else []
        except av.FFmpegError as exc:
            raise MovieFormatError(f"{path}: frame {index} could not be decoded: {exc}"
                                   + _said(logs)) from None  # fmt: skip
    if damage_lines(log_text(logs)):
        raise MovieFormatError(
            f"{path}: FFmpeg reported damaged data near frame {index}" + _said(logs)
        )
    if len(frames) != 1 or frames[0].pts != target:
        got = "no frame" if not frames else f"the frame at pts {frames[0].pts}"
        raise MovieFormatError(f"{path}: frame {index} (pts {target}) could not be decoded: "
                               f"seeking found {got}" + _said(logs))  # fmt: skip
    return frames[0]


class _ContainerDecoder(Decoder):
    """A kept-open input. Opening reads only the header (constant time, whatever the length).

    Frame ``i`` is the packet whose timestamp lies within half a frame of ``i / fps``
    (the format puts it at exactly that time): found by seeking the demuxer by timestamp
    (Matroska's cues) or by demuxing on from the previous frame. Streaming decodes ahead
    on a few threads, each with a codec context and a log capture of its own. Every frame
    must be a keyframe (fieldmovie's are).

    :meth:`index` instead indexes every packet once (pts, file offset, size, keyframe):
    py-pde's movies need their packet count, and their frames depend on those before them;
    a frame is then decoded from its stored bytes read at the indexed offset (or, where
    they cannot be located, by seeking the demuxer) and decoded on in order from its
    keyframe. A lock makes the decoder safe to share between threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = None
        self._container = _open_input(path)
        try:
            self._stream = _video_stream(self._container, path)
            self._stream.codec_context.thread_count = 1  # all libav logging on our thread
            self.info = _stream_info(self._container, self._stream, path, -1)
            #: pts of every stored frame once :meth:`index` ran (None: found by time)
            self.pts: list[int] | None = None
            self._keys: list[int] = []
            self._spans: list[tuple[int, int, bytes]] | None = None
            self._demux: Iterator[Any] | None = None
            self._next = -1  # the frame the demuxer (indexed: the decoder) delivers next
            self._seeked = False  # the demuxer was just positioned (it may start earlier)
            self._timed = True  # frame i is the packet at i / fps (False: the i-th packet)
            self._by_pts: list[tuple[int, int]] = []
            self._single: Any = None  # the codec context for single frames (slice threads)
        except BaseException:
            self.close()
            raise

    # -- the full index (py-pde movies) ----------------------------------------------------
    def index(self) -> StreamInfo:
        """Index every packet (one pass) and decode frame ``i`` as the ``i``-th packet, from
        its keyframe on (py-pde's movies)."""
        with self._lock:
            self._timed = False
            return self._index()

    def _index(self) -> StreamInfo:
        """One pass over all packets with a container of its own (not relying on the cues);
        under the lock."""
        self._check_open()
        if self.pts is not None:
            return self.info
        container = _open_input(self.path)
        try:
            stream = _video_stream(container, self.path)
            with captured_log():
                try:
                    index = [(_pts(p), p.pos, p.size, p.is_keyframe, bytes(memoryview(p)[:16]))
                             for p in _packets(container, stream)]  # fmt: skip
                except MovieFormatError as exc:
                    raise MovieFormatError(f"{self.path}: {exc}") from None
                except av.FFmpegError as exc:
                    raise MovieFormatError(f"{self.path}: cannot be read: {exc}") from None
        finally:
            _close_container(container)
        self._keys = [i for i, entry in enumerate(index) if entry[3]]
        self._locate(index)
        self.pts = [entry[0] for entry in index]
        self._by_pts = sorted((pts, i) for i, pts in enumerate(self.pts))
        self.info = dataclasses.replace(self.info, packets=len(self.pts))
        self._next = -1
        return self.info

    def _locate(self, index: list[tuple[Any, ...]]) -> None:
        """File offset and size of each packet's bytes (None: use the demuxer)."""
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        fd, spans = self._file.fileno(), []
        for _, pos, size, _, head in index:
            where = -1 if pos is None or pos < 0 else os.pread(fd, 96, pos).find(head)
            if where < 0:  # a container that stores the bytes elsewhere or split up
                self._spans = None
                return
            spans.append((pos + where, size, head))
        self._spans = spans

    # -- frames found by their timestamps --------------------------------------------------
    def length_problem(self, frames: int, fps: Fraction) -> str | None:
        with self._lock:
            self._check_open()
            if self.pts is None and self._timed:
                try:  # the last frame must be there, and nothing after it
                    if frames:
                        self._by_cues(frames - 1, fps)
                    else:
                        self._seek_demuxer(0)
                    if next(self._demux, None) is None:
                        return None
                except (MovieFormatError, av.FFmpegError):
                    pass  # damaged cues, a missing frame, ...: count the packets
                finally:
                    self._next = -1
            n = len(self.pts) if self.pts is not None else self._index().packets
        return None if n == frames else f"{n} frames"

    def _seek_demuxer(self, pts: int) -> None:
        self._container.seek(pts, stream=self._stream, backward=True)
        self._demux = _packets(self._container, self._stream)
        self._seeked = True

    def _packet(self, index: int, fps: Fraction) -> Any:
        """The packet of frame ``index``: its pts within half a frame of ``index / fps``.
        Found through the cues (the demuxer seeks unless it delivers that frame next); if
        they fail (damaged, an odd file), through the full index. Under the lock."""
        if self.pts is None:
            try:
                return self._by_cues(index, fps)
            except (MovieFormatError, av.FFmpegError):
                self._index()
        step = 1 / (fps * self._stream.time_base)
        lo, hi = (index - Fraction(1, 2)) * step, (index + Fraction(1, 2)) * step
        k = bisect.bisect_left(self._by_pts, (lo, -1))
        if k == len(self._by_pts) or not self._by_pts[k][0] < hi:
            raise MovieFormatError(
                f"{self.path}: frame {index} (at {float(index / fps):g} s) is not in the file "
                f"(none of its {len(self.pts)} packets is within half a frame of that time)"
            )
        j = self._by_pts[k][1]
        if self._spans is None:
            self._seek_demuxer(self.pts[j])
        packet = self._next_packet(j)
        if packet is None:
            raise MovieFormatError(f"{self.path}: frame {index}: its packet cannot be read")
        return packet

    def _by_cues(self, index: int, fps: Fraction) -> Any:
        step = 1 / (fps * self._stream.time_base)  # a frame's duration in pts units
        lo, hi = (index - Fraction(1, 2)) * step, (index + Fraction(1, 2)) * step
        at = f"frame {index} (at {float(index / fps):g} s)"
        with captured_log() as logs:
            try:
                if self._next != index:
                    self._seek_demuxer(int(index * step))
                self._next = -1  # unknown until the frame's packet was found
                for packet in self._demux:
                    pts = _pts(packet)
                    if pts < lo and self._seeked:  # seeking lands at or before the time
                        continue
                    self._seeked = False
                    if not lo <= pts < hi:
                        raise MovieFormatError(
                            f"{at} is not in the file: the packet found next is at pts {pts} "
                            f"({float(pts * self._stream.time_base):g} s)"
                        )
                    self._next = index + 1
                    return packet
                raise MovieFormatError(f"{at} is not in the file: it ends before")
            except av.FFmpegError as exc:
                raise MovieFormatError(f"{self.path}: {at} cannot be read: {exc}"
                                       + _said(logs)) from None  # fmt: skip
            except MovieFormatError as exc:
                raise MovieFormatError(f"{self.path}: {exc}" + _said(logs)) from None

    def _check_open(self) -> None:
        if self._container is None:
            raise ValueError(f"{self.path}: reader is closed")

    def _locked_packet(self, index: int, fps: Fraction) -> Any:
        with self._lock:
            self._check_open()
            return self._packet(index, fps)

    def _by_time(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction
    ) -> Iterator[np.ndarray]:
        workers = _stream_workers() if count >= 4 else 1
        if workers == 1:
            for i in range(start, start + count):
                with self._lock:
                    self._check_open()
                    if self._single is None:
                        self._single = _slice_threaded_context(self._stream)
                    frame = _decode_checked(self._single, self._packet(i, fps), self.path, i)
                    picture = raw_picture(frame, pix_fmt, frame_bytes)
                yield picture
            return
        yield from self._decode_ahead(start, count, pix_fmt, frame_bytes, fps, workers)

    def _decode_ahead(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction,
        workers: int,
    ) -> Iterator[np.ndarray]:  # fmt: skip
        """Packets demuxed here in order, decoded on ``workers`` threads, yielded in order;
        at most ``_AHEAD`` frames per thread in flight. Ending early (close, break, an error)
        cancels what is queued and joins the threads."""
        contexts: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(workers):
            contexts.put(_new_decoder_context(self._stream))
        path = self.path

        def decode(packet: Any, index: int) -> np.ndarray:
            ctx = contexts.get()  # never waits: as many contexts as threads
            try:
                return raw_picture(_decode_checked(ctx, packet, path, index), pix_fmt,
                                   frame_bytes)  # fmt: skip
            finally:
                contexts.put(ctx)

        pool = ThreadPoolExecutor(workers, thread_name_prefix=f"fieldmovie-decode-{path.name}")
        pending: collections.deque = collections.deque()
        try:
            for i in range(start, start + count):
                try:
                    packet = self._locked_packet(i, fps)
                except MovieFormatError as exc:  # raised in turn: the frames before come first
                    failed: Future = Future()
                    failed.set_exception(exc)
                    pending.append(failed)
                    break
                pending.append(pool.submit(decode, packet, i))
                if len(pending) >= workers * _AHEAD:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
            while not contexts.empty():  # the codec contexts are freed with their last ref
                contexts.get()

    # -- decoding ----------------------------------------------------------------------------
    def __del__(self) -> None:
        if getattr(self, "_container", None) is not None:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                _close_container(self._container)
                self._container = None
            if self._file is not None:
                self._file.close()
                self._file = None
            self._single = None  # freed with its last reference

    def frames(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction
    ) -> Iterator[np.ndarray]:
        if self._timed:
            yield from self._by_time(start, count, pix_fmt, frame_bytes, fps)
            return
        for i in range(start, start + count):
            with self._lock:
                picture = self._decode(i, pix_fmt, frame_bytes)
            yield picture

    def _seek(self, index: int) -> None:
        """Position at frame ``index`` (a keyframe): the demuxer by its timestamp."""
        self._stream.codec_context.flush_buffers()
        if self._spans is None:
            self._container.seek(self.pts[index], stream=self._stream, backward=True)
            self._demux = _packets(self._container, self._stream)
        self._next = index

    def _decode(self, index: int, pix_fmt: str, frame_bytes: int) -> np.ndarray:
        self._check_open()
        if index >= len(self.pts):
            raise MovieFormatError(f"{self.path}: frame {index} could not be decoded (the file "
                                   f"holds {len(self.pts)} frames)")  # fmt: skip
        if self._next != index:
            # py-pde's FFV1 frames depend on those before them
            key = self._keys[bisect.bisect_right(self._keys, index) - 1] if self._keys else 0
            if not key <= self._next < index:  # else decoding on from here is shorter
                self._seek(key)
            while self._next < index:
                self._decode_next()
        return raw_picture(self._decode_next(), pix_fmt, frame_bytes)

    def _next_packet(self, index: int) -> Any:
        """The packet of frame ``index``: its bytes read at the indexed offset, or the
        demuxer's next packet at or after its timestamp."""
        if self._spans is None:
            # after a seek the demuxer may start earlier (a cluster): skip to the target
            return next((p for p in self._demux if _pts(p) >= self.pts[index]), None)
        offset, size, head = self._spans[index]
        data = os.pread(self._file.fileno(), size, offset)
        if data[: len(head)] != head:  # frame identity: these must be the indexed bytes
            raise MovieFormatError(
                f"{self.path}: frame {index}: the {size} bytes at offset {offset} are not "
                "its indexed packet (has the file changed?)"
            )
        packet = av.Packet(data)
        packet.pts = packet.dts = self.pts[index]
        packet.time_base = self._stream.time_base
        return packet

    def _decode_next(self) -> Any:
        """Decode frame ``self._next``; check for damage and that it is that frame."""
        index, target = self._next, self.pts[self._next]
        self._next = -1  # unknown until this frame decoded cleanly
        with captured_log() as logs:  # the demuxer's messages
            try:
                packet = self._next_packet(index)
            except av.FFmpegError as exc:
                raise MovieFormatError(f"{self.path}: frame {index} could not be decoded: "
                                       f"{exc}" + _said(logs)) from None  # fmt: skip
        if damage_lines(log_text(logs)):
            raise MovieFormatError(
                f"{self.path}: FFmpeg reported damaged data near frame {index}" + _said(logs)
            )
        frame = _decode_checked(self._stream.codec_context, packet, self.path, index, target)
        self._next = index + 1
        return frame


def _said(logs: Sequence) -> str:
    text = log_text(logs)
    return f"\nFFmpeg said:\n{text}" if text else ""


def _encode_and_mux(container: Any, stream: Any, frame: Any, failed: str) -> list:
    """Encode ``frame`` (None: flush) into ``container``; return libav's log of the call.

    An encoder or muxer error raises :class:`FFmpegError` (``failed``, with the log). An
    encoder on worker threads has their messages captured too (``all_threads``).
    """
    with captured_log(all_threads=stream.codec_context.thread_count != 1) as logs:
        try:
            container.mux(stream.encode(frame))
        except av.FFmpegError as exc:
            raise _libav_error(failed, exc, logs) from None
    return logs


#: slice threads of the FFV1 encoder; 0: libav's choice (PyAV's default, cores + 1). The
#: messages libav logs on these threads are captured by :func:`captured_log` with
#: ``all_threads`` (one encode call at a time in the process); 1 thread would make
#: writing ~1.5x slower on 2 cores
ENCODER_THREADS = 0


class _LibavEncoder(PictureEncoder):
    """An FFV1 encoder muxing into an output container."""

    def __init__(self, path: Path, spec: EncoderSpec) -> None:
        self.path, self.spec = path, spec
        self._frames = 0
        self._log: list[tuple[int, str, str]] = []
        self._container = _open_container(path, "w", format=spec.container)
        try:
            self._container.metadata["comment"] = spec.comment
            options = {key: str(value) for key, value in spec.options.items()}
            self._stream = self._container.add_stream("ffv1", rate=spec.fps, options=options)
            self._stream.width, self._stream.height = spec.width, spec.height
            self._stream.pix_fmt = spec.pix_fmt
            self._stream.codec_context.gop_size = 1
            self._stream.codec_context.thread_count = ENCODER_THREADS
        except BaseException:
            self.close()
            raise

    def _mux(self, frame: Any) -> None:
        self._log += _encode_and_mux(
            self._container, self._stream, frame, f"{self.path}: FFmpeg stopped at frame "
            f"{self._frames}",
        )  # fmt: skip

    def write(self, picture: np.ndarray) -> None:
        spec = self.spec
        frame = av.VideoFrame(spec.width, spec.height, spec.pix_fmt)
        plane = frame.planes[0]
        rows = np.ascontiguousarray(picture).view(np.uint8).reshape(spec.height, -1)
        if plane.line_size != rows.shape[1]:
            padded = np.zeros((spec.height, plane.line_size), np.uint8)
            padded[:, : rows.shape[1]] = rows
            rows = padded
        plane.update(rows)
        frame.pts = self._frames
        self._mux(frame)
        self._frames += 1

    def finish(self) -> None:
        self._mux(None)
        container, self._container = self._container, None
        with captured_log() as logs:
            try:
                _close_container(container)
            except av.FFmpegError as exc:
                raise _libav_error(f"{self.path}: FFmpeg failed finishing the file", exc,
                                   logs) from None  # fmt: skip
        said = log_text(self._log + logs)
        if error_lines(said):
            raise FFmpegError(f"{self.path}: FFmpeg failed encoding", said)

    def close(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            try:
                _close_container(container)
            except av.FFmpegError:
                pass  # the file is removed by the caller; nothing more to release


class _LibavH264(H264Encoder):
    """libx264 into mp4 (+faststart), rgb24 converted to BT.709 limited-range yuv420p."""

    def __init__(self, path: Path, width: int, height: int, *, fps: float, threads: int,
                 crf: int, preset: str) -> None:  # fmt: skip
        from av.video.reformatter import ColorRange, Colorspace

        self.path, self.shape, self.count = path, (height, width, 3), 0
        self._reformat = {"format": "yuv420p", "dst_colorspace": Colorspace.ITU709,
                          "dst_color_range": ColorRange.MPEG}  # fmt: skip
        self._container = _open_container(path, "w", format="mp4",
                                          options={"movflags": "+faststart"})  # fmt: skip
        try:
            rate = Fraction(fps).limit_denominator(1001)
            options = {"crf": str(crf), "preset": preset}
            self._stream = self._container.add_stream("libx264", rate=rate, options=options)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            ctx = self._stream.codec_context
            ctx.thread_count = threads
            # frame threads, as the ffmpeg CLI uses: x264 keeps them deterministic; with
            # PyAV's default (slice threads + lookahead threads) the same frames gave one of
            # two different streams from run to run
            ctx.thread_type = "FRAME"
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
            ctx.color_range = 1  # limited ("tv")
        except BaseException:
            self.abort()
            raise

    def _mux(self, frame: Any) -> None:
        _encode_and_mux(
            self._container, self._stream, frame, f"libx264 failed on the preview {self.path}"
        )

    def append(self, picture: np.ndarray) -> None:
        from .ffmpeg_cli import _check_rgb

        _check_rgb(picture, self.shape)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        frame = frame.reformat(**self._reformat)
        frame.pts = self.count
        self._mux(frame)
        self.count += 1

    def close(self) -> int:
        try:
            self._mux(None)
            container, self._container = self._container, None
            try:
                _close_container(container)
            except av.FFmpegError as exc:
                raise _libav_error(f"failed finishing the preview {self.path}", exc) from None
        finally:
            self.abort()
        return self.count

    def abort(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            try:
                _close_container(container)
            except av.FFmpegError:
                pass


def _remux(source: Path, output: Path, *, container: str, comment: str,
           options: dict[str, str] | None = None, fmt: str | None = None) -> int:  # fmt: skip
    """Stream copy of the video stream of ``source`` into ``output`` with only ``comment``;
    returns the number of packets copied."""
    copied = 0
    with captured_log() as logs:
        try:
            inp = _open_container(source, format=fmt, options=options or {})
        except av.FFmpegError as exc:
            raise _libav_error(f"cannot read {source}", exc, logs) from None
        try:
            out = _open_container(output, "w", format=container)
            try:
                out.metadata["comment"] = comment
                src = _video_stream(inp, source)
                dst = out.add_stream_from_template(src)
                for packet in _packets(inp, src):
                    packet.stream = dst
                    out.mux(packet)
                    copied += 1
            except av.FFmpegError as exc:
                raise _libav_error(f"stream copy of {source} into {output} failed", exc,
                                   logs) from None  # fmt: skip
            finally:
                _close_container(out)
        finally:
            _close_container(inp)
    said = log_text(logs)
    if error_lines(said):  # libav logs some failures without raising
        raise FFmpegError(f"stream copy of {source} into {output} failed", said)
    return copied


def _frame_md5(frame: Any) -> str:
    try:
        data = frame.to_ndarray().tobytes()
    except (ValueError, TypeError):  # a format to_ndarray does not know: hash the planes
        data = b"".join(bytes(p) for p in frame.planes)
    return hashlib.md5(data).hexdigest()


class PyAVBackend(Backend):
    """FFmpeg's libraries in-process through PyAV (``pip install av``; FFmpeg in the wheel)."""

    name = "pyav"

    def version(self) -> str:
        return f"pyav {av.__version__} (FFmpeg {av.ffmpeg_version_info})"

    def probe(self, path: Path, *, count_packets: bool = True) -> StreamInfo:
        container = _open_input(path)
        try:
            stream = _video_stream(container, path)
            packets = -1
            if count_packets:
                with captured_log():
                    packets = sum(1 for _ in _packets(container, stream))
            return _stream_info(container, stream, path, packets)
        finally:
            _close_container(container)

    def open_decoder(self, path: Path) -> Decoder:
        return _ContainerDecoder(path)

    def open_encoder(self, path: Path, spec: EncoderSpec) -> PictureEncoder:
        return _LibavEncoder(path, spec)

    def concat(
        self, segments: Sequence[Path], output: Path, *, container: str, comment: str
    ) -> None:
        from .listing import concat_listing

        with concat_listing(segments, output) as listing:
            _remux(listing, output, container=container, comment=comment,
                   options={"safe": "0"}, fmt="concat")  # fmt: skip

    def set_comment(self, source: Path, output: Path, *, container: str, comment: str) -> int:
        return _remux(source, output, container=container, comment=comment)

    def scan(self, path: Path, *, decode: bool = True) -> Scan:
        try:
            container = _open_container(path)
        except av.FFmpegError as exc:
            raise _libav_error(f"{path}: cannot be opened", exc) from None
        scan, errors = Scan(), []
        try:
            stream = _video_stream(container, path)
            ctx = stream.codec_context
            ctx.thread_count = 1
            if decode and ctx.codec and ctx.codec.name == "ffv1" and _stream_workers() > 1:
                scan.log = _scan_decoding_ahead(container, stream, scan, _stream_workers())
                return scan
            with captured_log() as logs:
                for packet in _packets(container, stream):
                    scan.packets.append(hashlib.md5(bytes(packet)).hexdigest())
                    scan.pts.append(float(_pts(packet) * packet.time_base))
                    if decode:
                        errors += _decode_into(ctx, packet, scan.frames, len(scan.packets) - 1)
                if decode:
                    errors += _decode_into(ctx, None, scan.frames, len(scan.packets))
            scan.log = "\n".join(filter(None, [log_text(logs), *errors]))
        except MovieFormatError as exc:
            raise FFmpegError(str(exc)) from None
        finally:
            _close_container(container)
        return scan

    def open_h264(self, path: Path, width: int, height: int, *, fps: float, threads: int,
                  crf: int, preset: str) -> H264Encoder:  # fmt: skip
        return _LibavH264(path, width, height, fps=fps, threads=threads, crf=crf, preset=preset)


def _decode_into(ctx: Any, packet: Any, sums: list[str], index: int) -> list[str]:
    """Decode one packet (None: flush), appending frame checksums; errors as log lines."""
    try:
        for frame in ctx.decode(packet):
            sums.append(_frame_md5(frame))
    except av.FFmpegError as exc:
        return [f"Error while decoding frame {index}: {exc}"]
    return []


def _scan_decoding_ahead(container: Any, stream: Any, scan: Scan, workers: int) -> str:
    """:meth:`PyAVBackend.scan` of an FFV1 stream with the decoding on ``workers`` threads;
    returns the log. Each run of packets from a keyframe to the next is decoded in order on
    one codec context (a frame may depend on the ones before it); runs go to the threads
    in turn, their checksums, messages (captured on each thread) and errors are collected
    in order, at most ``_AHEAD`` runs per thread in flight. The same as decoding in order,
    except the checksum of a damaged frame (reported in the log either way): libav fills a
    damaged slice from the frame its context decoded before, here not always the one before."""
    contexts: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(workers):
        contexts.put(_new_decoder_context(stream))

    def decode_run(run: list[Any], first: int) -> tuple[list[str], str, list[str]]:
        ctx = contexts.get()  # never waits: as many contexts as threads
        sums: list[str] = []
        errors: list[str] = []
        try:
            with captured_log() as logs:
                for k, packet in enumerate(run):
                    errors += _decode_into(ctx, packet, sums, first + k)
                errors += _decode_into(ctx, None, sums, first + len(run))
            ctx.flush_buffers()  # drained: ready for the next run
            return sums, log_text(logs), errors
        finally:
            contexts.put(ctx)

    said: list[str] = []
    errors: list[str] = []

    def collect(future: Any) -> None:
        sums, text, errs = future.result()
        scan.frames.extend(sums)
        said.append(text)
        errors.extend(errs)

    pool = ThreadPoolExecutor(workers, thread_name_prefix="fieldmovie-decode-scan")
    pending: collections.deque = collections.deque()
    run: list[Any] = []
    first = 0
    try:
        with captured_log() as logs:  # the demuxer's messages, on this thread
            for packet in _packets(container, stream):
                scan.packets.append(hashlib.md5(bytes(packet)).hexdigest())
                scan.pts.append(float(_pts(packet) * packet.time_base))
                if packet.is_keyframe and run:
                    pending.append(pool.submit(decode_run, run, first))
                    run, first = [], len(scan.packets) - 1
                    if len(pending) >= workers * _AHEAD:
                        collect(pending.popleft())
                run.append(packet)
            if run:
                pending.append(pool.submit(decode_run, run, first))
            while pending:
                collect(pending.popleft())
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        while not contexts.empty():
            contexts.get()
    return "\n".join(filter(None, [log_text(logs), *said, *errors]))

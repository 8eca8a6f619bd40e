"""The ``pyav`` backend: FFmpeg's libraries in-process through PyAV (FFmpeg in the wheel).

libav reports slice CRC mismatches and premature ends through its log, not as errors; every
call captures the log of its own thread (:func:`captured_log`) and turns damage into
errors. A :class:`_ContainerDecoder` keeps the file open, indexes the packets once and seeks
by timestamp (every frame is a keyframe); a lock makes it safe to share between threads.
Every container is closed in ``finally`` and counted while open (:func:`open_containers`).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
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


@contextmanager
def captured_log() -> Iterator[list[tuple[int, str, str]]]:
    """libav's log messages of this thread while the block runs, as ``(level, name, text)``.

    The first user switches PyAV's logging on at ERROR level (it ignores libav's log by
    default) and turns off the suppression of repeated messages (a repeat from another
    thread would hide damage); the last user restores both settings.
    """
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


class _ContainerDecoder(Decoder):
    """A kept-open input: packets indexed once (pts, file offset, size, keyframe); a frame
    is decoded from its stored bytes, read at the indexed offset, or, where the bytes
    cannot be located, by seeking the demuxer to its timestamp."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = None
        self._container = _open_input(path)
        try:
            self._stream = _video_stream(self._container, path)
            self._stream.codec_context.thread_count = 1  # all libav logging on our thread
            with captured_log():
                try:
                    index = [(_pts(p), p.pos, p.size, p.is_keyframe, bytes(memoryview(p)[:16]))
                             for p in _packets(self._container, self._stream)]  # fmt: skip
                except MovieFormatError as exc:
                    raise MovieFormatError(f"{path}: {exc}") from None
            #: pts of every stored frame, and the frames that are keyframes
            self.pts = [entry[0] for entry in index]
            self._keys = [i for i, entry in enumerate(index) if entry[3]]
            self.info = _stream_info(self._container, self._stream, path, len(self.pts))
            self._locate(index)
            self._demux: Iterator[Any] | None = None
            self._next = -1  # the frame the demuxer delivers next (-1: unknown)
        except BaseException:
            self.close()
            raise

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

    def frames(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction
    ) -> Iterator[np.ndarray]:
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
        if self._container is None:
            raise ValueError(f"{self.path}: reader is closed")
        if index >= len(self.pts):
            raise MovieFormatError(f"{self.path}: frame {index} could not be decoded (the file "
                                   f"holds {len(self.pts)} frames)")  # fmt: skip
        if self._next != index:
            # ours are all keyframes; py-pde's FFV1 frames depend on those before them
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
        with captured_log() as logs:
            try:
                packet = self._next_packet(index)
                frames = self._stream.codec_context.decode(packet) if packet is not None else []
            except av.FFmpegError as exc:
                raise MovieFormatError(f"{self.path}: frame {index} could not be decoded: "
                                       f"{exc}" + _said(logs)) from None  # fmt: skip
        if damage_lines(log_text(logs)):
            raise MovieFormatError(
                f"{self.path}: FFmpeg reported damaged data near frame {index}" + _said(logs)
            )
        if len(frames) != 1 or frames[0].pts != target:
            got = "no frame" if not frames else f"the frame at pts {frames[0].pts}"
            raise MovieFormatError(f"{self.path}: frame {index} (pts {target}) could not be "
                                   f"decoded: seeking found {got}" + _said(logs))  # fmt: skip
        self._next = index + 1
        return frames[0]


def _said(logs: Sequence) -> str:
    text = log_text(logs)
    return f"\nFFmpeg said:\n{text}" if text else ""


def _encode_and_mux(container: Any, stream: Any, frame: Any, failed: str) -> list:
    """Encode ``frame`` (None: flush) into ``container``; return libav's log of the call.

    An encoder or muxer error raises :class:`FFmpegError` (``failed``, with the log).
    """
    with captured_log() as logs:
        try:
            container.mux(stream.encode(frame))
        except av.FFmpegError as exc:
            raise _libav_error(failed, exc, logs) from None
    return logs


#: slice threads of the FFV1 encoder; 0: libav's choice (PyAV's default, cores + 1), as
#: before. Messages libav logs on its worker threads escape :func:`captured_log` (which
#: captures the calling thread); 1 would keep them all but makes writing ~1.5x slower on 2
#: cores
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

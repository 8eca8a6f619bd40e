"""The backend interface: everything fieldmovie asks of FFmpeg, in one place.

A backend opens encoders (FFV1 pictures in, a movie file out), decoders (a movie file in,
raw pictures out, seeking to any frame), probes files, joins segments with the concat
demuxer by stream copy, rewrites the comment tag, computes per-packet and per-frame
checksums and encodes the H.264 preview. ``fieldmovie.movie`` calls nothing else of FFmpeg.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..probe import StreamInfo

__all__ = ["Backend", "Decoder", "EncoderSpec", "H264Encoder", "PictureEncoder", "Scan"]


@dataclass
class EncoderSpec:
    """What an FFV1 movie is encoded with (see ``docs/format.md``)."""

    container: str  # FFmpeg muxer: "matroska" or "avi"
    pix_fmt: str  # gray, gray10le, gray12le or gray16le
    width: int
    height: int
    fps: int
    options: dict[str, int]  # FFV1 options: level, slices, slicecrc, context, coder
    comment: str  # the metadata JSON for the comment tag


@dataclass
class Scan:
    """One pass over a movie: checksums of the stored packets and of the decoded frames."""

    packets: list[str] = field(default_factory=list)  # MD5 of each stored packet
    pts: list[float] = field(default_factory=list)  # presentation time of each packet (s)
    frames: list[str] = field(default_factory=list)  # MD5 of each decoded frame
    log: str = ""  # what FFmpeg/libav said while decoding (damage is reported only here)


class PictureEncoder(ABC):
    """An open FFV1 encoder writing one movie file."""

    @abstractmethod
    def write(self, picture: np.ndarray) -> None:
        """Encode one stored picture ``(height, width)`` of the spec's pixel dtype."""

    @abstractmethod
    def finish(self) -> None:
        """Flush and close the file; :class:`~fieldmovie.FFmpegError` if anything failed."""

    @abstractmethod
    def close(self) -> None:
        """Release everything (after :meth:`finish` or instead of it); safe to call twice."""


class H264Encoder(ABC):
    """An open H.264 (yuv420p, BT.709 limited range, mp4 +faststart) preview encoder."""

    @abstractmethod
    def append(self, picture: np.ndarray) -> None:
        """Encode one RGB picture ``(height, width, 3)`` uint8 (even height and width)."""

    @abstractmethod
    def close(self) -> int:
        """Finish the file and return the number of frames; FFmpegError if anything failed."""

    @abstractmethod
    def abort(self) -> None:
        """Stop and release everything; the partial file is left for the caller to remove."""


class Decoder(ABC):
    """A movie file opened for decoding; ``info`` is its probe.

    ``info.packets`` is the packet count, or -1 when the decoder did not count them at open
    (the ``pyav`` decoder finds frames by their timestamps and reads only the header):
    :meth:`index` counts them, :meth:`length_problem` checks a count cheaply.
    """

    info: StreamInfo

    def index(self) -> StreamInfo:
        """Count (and index) every packet, one pass over the file; return ``info`` with
        ``packets`` set. The default: the decoder counted them at open."""
        return self.info

    def length_problem(self, frames: int, fps: Fraction) -> str | None:
        """None if the file holds exactly ``frames`` frames (frame i at ``i / fps``), else
        what it holds instead ("7 frames", "a frame at pts 320 after frame 7", ...).
        The default compares the packet count of :meth:`index`."""
        packets = self.index().packets
        return None if packets == frames else f"{packets} frames"

    @abstractmethod
    def frames(
        self, start: int, count: int, pix_fmt: str, frame_bytes: int, fps: Fraction
    ) -> Iterator[bytearray]:
        """Raw pictures (``frame_bytes`` each, ``pix_fmt``, no line padding) of frames
        ``start .. start+count-1``. Damage raises MovieFormatError naming the frame."""

    @abstractmethod
    def close(self) -> None:
        """Release the file (and any process); safe to call twice."""


class Backend(ABC):
    """One way of running FFmpeg: in-process (PyAV) or as subprocesses."""

    name: str

    @abstractmethod
    def version(self) -> str:
        """The FFmpeg (and binding) version, e.g. ``"ffmpeg 5.1.9"``."""

    @abstractmethod
    def probe(self, path: Path, *, count_packets: bool = True) -> StreamInfo:
        """The first video stream of ``path``; MovieFormatError if unreadable."""

    @abstractmethod
    def open_decoder(self, path: Path) -> Decoder:
        """Open ``path`` for decoding (probed, packets counted)."""

    @abstractmethod
    def open_encoder(self, path: Path, spec: EncoderSpec) -> PictureEncoder:
        """Start an FFV1 encoder writing ``path`` (gop 1, the spec's options and comment)."""

    @abstractmethod
    def concat(
        self, segments: Sequence[Path], output: Path, *, container: str, comment: str
    ) -> None:
        """Join ``segments`` with the concat demuxer by stream copy; only ``comment`` as tag."""

    @abstractmethod
    def set_comment(self, source: Path, output: Path, *, container: str, comment: str) -> int:
        """Copy ``source`` to ``output`` (stream copy) with the comment tag replaced; return
        the number of video packets written (counted while copying: no second pass)."""

    @abstractmethod
    def scan(self, path: Path, *, decode: bool = True) -> Scan:
        """Packet checksums and times; with ``decode`` also every frame decoded and its log.

        FFmpegError when the file cannot be read at all."""

    @abstractmethod
    def open_h264(
        self,
        path: Path,
        width: int,
        height: int,
        *,
        fps: float,
        threads: int,
        crf: int,
        preset: str,
    ) -> H264Encoder:
        """Start an H.264 preview encoder writing the mp4 ``path``."""

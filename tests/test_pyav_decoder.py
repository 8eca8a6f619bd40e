"""The pyav decoder: frames found by timestamp (open reads only the header), streaming on
worker threads, single frames on libav slice threads, damage found on every path."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import packet_positions, write_movie

from fieldmovie import MovieFormatError, MovieReader
from fieldmovie.movie.backends import pyav as pyav_backend


def _decode_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fieldmovie-decode")]


def _flip(path, frame: int, where: float) -> None:
    """Flip a byte of the stored frame at the fraction ``where`` of its packet."""
    size, pos = packet_positions(path)[frame]
    data = bytearray(path.read_bytes())
    data[pos + int(size * where)] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.fixture
def movie(tmp_path, make_frames):
    frames = make_frames(40, 2, (48, 40))
    return write_movie(tmp_path / "m.mkv", frames, backend="pyav")


def test_open_reads_no_packets_beyond_the_last(movie, monkeypatch):
    """Opening seeks to the last frame (is it there, nothing after?) instead of demuxing
    every packet: the open costs the same for any length."""
    delivered = []
    real = pyav_backend._packets

    def counting(container, stream):
        for packet in real(container, stream):
            delivered.append(packet.pts)
            yield packet

    monkeypatch.setattr(pyav_backend, "_packets", counting)
    with MovieReader(movie, backend="pyav") as reader:
        assert len(reader) == 40 and reader.stream.packets == -1
        assert len(delivered) <= 2, delivered  # the last frame (and the end)
        assert reader[39].shape == reader.frame_shape


def test_sidecar_longer_or_shorter_than_the_movie_refused_at_open(movie):
    times = movie.with_name(movie.name + ".times")
    lines = times.read_text().splitlines(keepends=True)
    for kept in (lines[:-1], lines + lines[-1:]):  # a line fewer, a line more
        times.write_text("".join(kept))
        with pytest.raises(MovieFormatError, match=r"holds (40 frames|a frame)|digest"):
            MovieReader(movie, backend="pyav")


@pytest.mark.parametrize("stop", [0, 1, 5, 39])
def test_streaming_ended_early_joins_its_threads(movie, stop):
    with MovieReader(movie, backend="pyav") as reader:
        expected = [reader[i] for i in range(40)]
        stream = reader.iter_frames()
        for k, (_, data) in enumerate(stream):
            assert np.array_equal(data, expected[k])
            if k == stop:
                break
        assert _decode_threads()  # the decoding threads are still running ...
        stream.close()
        assert _decode_threads() == []  # ... until the generator is closed
        it = iter(reader)
        next(it)
    assert _decode_threads() == []  # reader.close() ends the open iteration too
    assert pyav_backend.open_containers() == []


def test_streaming_equals_frame_by_frame(movie):
    with MovieReader(movie, backend="pyav") as reader:
        one_by_one = np.stack([reader[i] for i in range(len(reader))])
        assert np.array_equal(reader.to_array(), one_by_one)
        assert np.array_equal(reader[5:33:3], one_by_one[5:33:3])
        assert np.array_equal(reader.read_frames([30, 2, 3, 4, 5, 30]), one_by_one[[30, 2, 3, 4,
                              5, 30]])  # fmt: skip


@pytest.mark.parametrize("frame", [0, 17, 39])
def test_damage_found_on_the_decoding_threads(movie, frame):
    """A CRC mismatch in any slice of any frame stops streaming with the frame named,
    whichever worker thread decoded it, every time."""
    _flip(movie, frame, 0.6)
    with MovieReader(movie, backend="pyav") as reader:
        for _ in range(5):
            with pytest.raises(MovieFormatError, match=rf"damaged data near frame {frame}\b"):
                reader.to_array()
        assert _decode_threads() == []


@pytest.mark.parametrize("where", [0.2, 0.45, 0.7, 0.95])
def test_damage_found_on_libav_slice_threads(movie, monkeypatch, where):
    """reader[i] decodes the slices of a frame on libav's own threads (their messages reach
    no thread-local capture: an all-threads capture, tested below); damage in any slice
    raises every time and the context stays usable."""
    monkeypatch.setattr(pyav_backend, "_SLICE_THREADS", 2)
    _flip(movie, 7, where)
    with MovieReader(movie, backend="pyav") as reader:
        for _ in range(20):
            with pytest.raises(MovieFormatError, match=r"damaged data near frame 7\b"):
                reader[7]
            assert reader[8].shape == reader.frame_shape
        assert reader._decoder._single.thread_count == 2


def test_concurrent_readers_with_slice_threads_keep_their_messages(movie, monkeypatch):
    """One reader's damage is not reported by another reader decoding at the same time."""
    monkeypatch.setattr(pyav_backend, "_SLICE_THREADS", 2)
    clean = movie.with_name("clean.mkv")
    clean.write_bytes(movie.read_bytes())
    clean.with_name("clean.mkv.times").write_bytes(movie.with_name("m.mkv.times").read_bytes())
    _flip(movie, 7, 0.5)
    outcomes: dict[str, list[str]] = {"damaged": [], "clean": []}

    def work(path, key) -> None:
        with MovieReader(path, backend="pyav") as reader:
            for _ in range(30):
                try:
                    reader[7]
                    outcomes[key].append("data")
                except MovieFormatError as exc:
                    outcomes[key].append("damaged" if "frame 7" in str(exc) else str(exc))

    threads = [threading.Thread(target=work, args=a) for a in [(movie, "damaged"),
                                                               (clean, "clean")]]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == {"damaged": ["damaged"] * 30, "clean": ["data"] * 30}


@pytest.mark.parametrize("all_threads", [True, False])
def test_all_threads_capture_gets_other_threads_messages(movie, all_threads):
    """libav messages logged on a thread that captures nothing itself (as libav's slice
    threads are) reach an all-threads capture, and only that."""
    _flip(movie, 3, 0.5)
    size, pos = packet_positions(movie)[3]
    packet_bytes = movie.read_bytes()[pos : pos + size]
    with MovieReader(movie, backend="pyav") as reader:
        stream = reader._decoder._stream

    def decode_elsewhere() -> None:  # no capture of its own on this thread
        ctx = pyav_backend._new_decoder_context(stream)
        packet = pyav_backend.av.Packet(packet_bytes)
        packet.pts = 0
        try:
            ctx.decode(packet)
        except pyav_backend.av.FFmpegError:
            pass  # the message is what counts here

    with pyav_backend.captured_log(all_threads=all_threads) as logs:
        helper = threading.Thread(target=decode_elsewhere)
        helper.start()
        helper.join()
    said = pyav_backend.log_text(logs)
    assert ("[ffv1 @ pyav]" in said) is all_threads, said


PYPDE = Path(__file__).parent / "data" / "pypde"


@pytest.mark.parametrize("name", ["ours", "damaged", "scalar2d_8bit.mkv", "scalar2d_16bit.avi"])
def test_scan_on_threads_equals_scan_in_order(movie, monkeypatch, name):
    """scan decodes on worker threads (runs from keyframe to keyframe on one context):
    the same checksums, times and damage report as decoding everything in order."""
    path = movie if name in ("ours", "damaged") else PYPDE / name
    if name == "damaged":
        _flip(movie, 11, 0.5)
    backend = pyav_backend.PyAVBackend()
    scans = {}
    for workers in (1, 2):
        monkeypatch.setattr(pyav_backend, "_stream_workers", lambda w=workers: w)
        scans[workers] = backend.scan(path, decode=True)
    in_order, threaded = scans[1], scans[2]
    assert len(threaded.frames) == len(in_order.frames) == len(in_order.packets)
    if name == "damaged":  # libav conceals a damaged slice with the frame its context
        del threaded.frames[11], in_order.frames[11]  # decoded last: either one
    assert threaded.frames == in_order.frames
    assert (threaded.packets, threaded.pts) == (in_order.packets, in_order.pts)
    assert sorted(threaded.log.splitlines()) == sorted(in_order.log.splitlines())
    assert ("CRC mismatch" in threaded.log) is (name == "damaged")
    assert _decode_threads() == []


def test_streaming_hands_out_the_frames_before_a_missing_one(movie, monkeypatch):
    """A frame that is not in the file stops streaming when it is reached, not earlier."""
    with MovieReader(movie, backend="pyav") as reader:
        expected = reader.to_array()
        decoder = reader._decoder
        decoder._index()
        del decoder._by_pts[9]  # as if frame 9 were missing
        got = []
        with pytest.raises(MovieFormatError, match=r"frame 9 \(at 0.36 s\) is not in the file"):
            for _, data in reader.iter_frames(2):
                got.append(data)
        assert len(got) == 7 and np.array_equal(np.stack(got), expected[2:9])
        assert _decode_threads() == []


def test_reader_closed_by_another_thread_while_streaming(movie):
    """Closing the reader under a running iteration ends it with 'closed' (no crash, no
    thread or container left); the frames handed out before are the right ones."""
    reader = MovieReader(movie, backend="pyav")
    expected = [reader[i] for i in range(len(reader))]
    started, outcome = threading.Event(), []

    def stream() -> None:
        try:
            for k, (_, data) in enumerate(reader.iter_frames()):
                assert np.array_equal(data, expected[k])
                started.set()
                threading.Event().wait(0.005)
            outcome.append("finished")
        except ValueError as exc:
            outcome.append("closed" if "closed" in str(exc) else repr(exc))
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(repr(exc))

    worker = threading.Thread(target=stream)
    worker.start()
    assert started.wait(10)
    reader.close()
    worker.join(10)
    assert outcome in (["closed"], ["finished"]), outcome
    assert _decode_threads() == []
    assert pyav_backend.open_containers() == []


@pytest.mark.parametrize("threads", [0, 1])
def test_encoder_on_worker_threads_captures_all_threads(tmp_path, monkeypatch, threads):
    """The FFV1 encoder runs on libav's slice threads (ENCODER_THREADS 0): its encode calls
    capture the messages of all threads; a single-threaded encoder its own thread only."""
    monkeypatch.setattr(pyav_backend, "ENCODER_THREADS", threads)
    encoding, seen = threading.local(), []
    capture, encode = pyav_backend.captured_log, pyav_backend._encode_and_mux

    def recording_capture(all_threads: bool = False):  # noqa: ANN202
        if getattr(encoding, "active", False):
            seen.append(all_threads)
        return capture(all_threads)

    def marked_encode(*args):  # noqa: ANN002, ANN202
        encoding.active, first = True, len(seen)
        try:
            return encode(*args)
        finally:
            encoding.active = False
            del seen[first + 1 :]  # the call's own capture (an all-threads one nests another)

    monkeypatch.setattr(pyav_backend, "captured_log", recording_capture)
    monkeypatch.setattr(pyav_backend, "_encode_and_mux", marked_encode)
    frames = np.random.default_rng(3).random((4, 1, 128, 128))  # big enough for threads
    write_movie(tmp_path / "m.mkv", frames, backend="pyav")
    assert seen == [threads != 1] * 5, seen  # 4 frames and the flush

"""The backend seam: pyav and ffmpeg write and read the same bits, selection, provenance,
the kept-open PyAV reader (seeking, frame identity, threads), log capture and H.264."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import av
import av.logging
import numpy as np
import pytest
from conftest import (
    BACKENDS,
    comment_tag,
    flip_byte_in_frame,
    needs_system_ffmpeg,
    other_backend,
    stream_facts,
    system_ffmpeg,
    write_movie,
)

from fieldmovie import MovieFormatError, MovieReader, MovieWriter, concat_movies, validate_movie
from fieldmovie.movie import backends
from fieldmovie.movie.backends import encode_h264, get_backend
from fieldmovie.movie.backends import pyav as pyav_backend
from fieldmovie.movie.validate import frame_checksums

DATA = Path(__file__).parent / "data"
PYPDE = DATA / "pypde"

CROSS_CASES = [
    ((17,), 1, 8, ".mkv"),  # a 1 px high picture (stored twice)
    ((1, 9), 2, 16, ".avi"),  # a 1 px wide picture
    ((12, 7), 2, 16, ".mkv"),
    ((12, 7), 3, 8, ".avi"),
    ((5, 4, 3), 2, 16, ".mkv"),
    ((3, 2, 2), 1, 8, ".avi"),
    ((64, 48), 1, 12, ".mkv"),
]


@needs_system_ffmpeg
@pytest.mark.parametrize("writer_backend", BACKENDS)
@pytest.mark.parametrize(("grid_shape", "n_components", "bits", "suffix"), CROSS_CASES)
def test_written_by_one_read_bit_identically_by_the_other(
    tmp_path, make_frames, writer_backend, grid_shape, n_components, bits, suffix, backend
):
    """``backend`` (the fixture) reads what ``writer_backend`` wrote: the same values, and
    both backends agree on the stored packets and decoded frames."""
    frames = make_frames(5, n_components, grid_shape)
    path = write_movie(tmp_path / f"m{suffix}", frames, bits=bits, backend=writer_backend)
    readers = [MovieReader(path, backend=name) for name in (backend, other_backend(backend))]
    try:
        mine, theirs = (r.to_array() for r in readers)
        assert np.array_equal(mine, theirs)
        assert np.all(np.abs(mine - frames) <= 0.5 / (2**bits - 1) * (1 + 1e-9))
        assert np.array_equal(readers[0][[4, 0, 2]], mine[[4, 0, 2]])
        assert readers[0].meta.backend["name"] == writer_backend
    finally:
        for r in readers:
            r.close()
    sums = {name: frame_checksums(path, decode=False, backend=name) for name in BACKENDS}
    assert sums["pyav"][0] == sums["ffmpeg"][0] and len(sums["pyav"][0]) == 5
    assert sums["pyav"][2] == pytest.approx(sums["ffmpeg"][2])


@needs_system_ffmpeg
def test_both_backends_encode_the_same_ffv1_bitstream(tmp_path, make_frames):
    """FFmpeg 8 (in the wheel) and the system FFmpeg write identical FFV1 packets."""
    frames = make_frames(4, 2, (32, 24))
    paths = [write_movie(tmp_path / f"{b}.mkv", frames, backend=b) for b in BACKENDS]
    packets = [frame_checksums(p, decode=False, backend="pyav")[0] for p in paths]
    assert packets[0] == packets[1]


@needs_system_ffmpeg
@pytest.mark.parametrize("npz", sorted(PYPDE.glob("*.expected.npz")), ids=lambda p: p.name)
def test_pypde_movies_read_identically_on_both(npz):
    stem = npz.name[: -len(".expected.npz")]
    movie = next(p for p in PYPDE.iterdir() if p.stem == stem and p.suffix != ".npz")
    data = []
    for name in BACKENDS:
        with MovieReader(movie, backend=name) as reader:
            data.append((reader.to_array(), reader[len(reader) - 1], reader.times.copy()))
    assert np.array_equal(data[0][0], data[1][0]) and np.array_equal(data[0][1], data[1][1])
    assert np.array_equal(data[0][2], data[1][2])
    assert np.array_equal(data[0][0], np.load(npz)["data"])


# ------------------------------------------------------------------ selection, provenance


def test_default_backend_and_environment(monkeypatch):
    monkeypatch.delenv("FIELDMOVIE_BACKEND", raising=False)
    assert get_backend().name == "pyav"  # av is installed
    monkeypatch.setenv("FIELDMOVIE_BACKEND", "ffmpeg")
    assert get_backend().name == "ffmpeg"
    assert get_backend("pyav").name == "pyav"  # a per-call choice wins
    monkeypatch.setenv("FIELDMOVIE_BACKEND", "gstreamer")
    with pytest.raises(ValueError, match=r"FIELDMOVIE_BACKEND.*'gstreamer'.*\['pyav', 'ffmpeg'\]"):
        get_backend()


@pytest.mark.parametrize(
    "call",
    [
        lambda p: MovieWriter(p, components=1, grid_shape=(3,), vmin=0, vmax=1, backend="avconv"),
        lambda p: MovieReader(p, backend="avconv"),
        lambda p: concat_movies([p], p.with_name("j.mkv"), backend="avconv"),
        lambda p: validate_movie(p, backend="avconv"),
    ],
)
def test_unknown_backend_is_a_clear_error(tmp_path, make_frames, call):
    path = write_movie(tmp_path / "m.mkv", make_frames(2, 1, (3,)))
    with pytest.raises(ValueError, match=r"unknown FFmpeg backend 'avconv'; allowed: \['pyav'"):
        call(path)


def test_provenance_in_metadata(tmp_path, make_frames, backend):
    path = write_movie(tmp_path / "m.mkv", make_frames(2, 1, (4, 4)))
    stored = json.loads(comment_tag(path))["backend"]
    assert stored["name"] == backend
    assert stored["version"] == get_backend(backend).version()
    assert re.search(r"\d+\.\d+", stored["version"])
    if system_ffmpeg():  # the join is recorded too, by the backend that joined
        joined = concat_movies([path], tmp_path / "j.mkv", backend=other_backend(backend))
        assert json.loads(comment_tag(joined))["backend"]["name"] == other_backend(backend)


def test_movies_without_provenance_are_read(backend):
    """Movies written before the key existed (format 1) have no "backend" in their metadata;
    in format 2 the key is covered by the metadata digest, so it cannot be dropped later."""
    old = DATA / "v1" / "v1_2d.mkv"
    with MovieReader(old, backend=backend) as reader:
        assert reader.meta.backend is None and reader.meta.version == 1
        data = reader.to_array()
    with MovieReader(old, backend="pyav") as reference:
        assert np.array_equal(data, reference.to_array())
    assert data.shape == np.load(f"{old}.npy").shape
    assert validate_movie(old, backend=backend).ok


def test_no_ffmpeg_call_outside_the_seam():
    """Only the backends (and the process helper module) talk to FFmpeg."""
    root = Path(backends.__file__).parent.parent
    for source in root.glob("*.py"):
        if source.name == "_ffmpeg.py":
            continue
        text = source.read_text()
        for needle in ("ffmpeg_executable", "ffprobe_executable", "open_process", "import av"):
            assert needle not in text, f"{source.name} uses {needle}"


# ------------------------------------------------------------------ the kept-open reader


@pytest.fixture
def long_movie(tmp_path, make_frames):
    frames = make_frames(30, 2, (16, 12))
    return write_movie(tmp_path / "long.mkv", frames, backend="pyav"), frames


def test_kept_open_reader_seeks_without_reopening(long_movie, monkeypatch):
    path, _ = long_movie
    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    with MovieReader(path, backend="pyav") as reader:
        everything = reader.to_array()
        for i in [17, 3, 3, 29, 0, 28, 4, 5, 6, 1]:
            assert np.array_equal(reader[i], everything[i])
        assert np.array_equal(reader[::7], everything[::7])
    assert opened == [str(path)]
    assert pyav_backend.open_containers() == []


def test_frame_found_by_time_must_be_at_its_time(long_movie, monkeypatch):
    """Frame i is the packet within half a frame of i / fps. When the cues lead elsewhere
    (damaged), the decoder indexes every packet once and finds the frame there; a frame
    that is not in the file raises naming it, and the reader stays usable."""
    path, _ = long_movie
    with MovieReader(path, backend="pyav") as reader:
        expected = reader.to_array()
        decoder = reader._decoder
        assert decoder.pts is None  # nothing indexed at open or while streaming
        real_seek = decoder._seek_demuxer
        monkeypatch.setattr(decoder, "_seek_demuxer", lambda pts: real_seek(pts + 40))
        assert np.array_equal(reader[12], expected[12])
        assert decoder.pts is not None and len(decoder.pts) == 30  # the fallback index
        monkeypatch.setattr(decoder, "_seek_demuxer", real_seek)
        del decoder._by_pts[12]  # as if frame 12 were missing
        with pytest.raises(MovieFormatError, match=r"frame 12 \(at 0.48 s\) is not in the file"):
            reader[12]
        assert np.array_equal(reader[20], expected[20])


def test_indexed_frame_must_be_the_one_asked_for(long_movie):
    """The full index (py-pde movies): the bytes read and the decoded frame are checked."""
    path, _ = long_movie
    with MovieReader(path, backend="pyav") as reader:
        decoder = reader._decoder
        assert decoder.index().packets == 30
        offset, size, _ = decoder._spans[13]
        decoder._spans[12] = (offset, size, decoder._spans[12][2])  # frame 13's bytes
        with pytest.raises(MovieFormatError, match=r"frame 12: .* not its indexed packet"):
            reader[12]
        assert reader[20].shape == reader.frame_shape  # the reader stays usable
        decoder._spans, decoder._next = None, -1  # the demuxer path checks the timestamp
        decoder.pts[12] += 1  # no such packet: the demuxer delivers frame 13 next
        with pytest.raises(MovieFormatError, match=r"frame 12 \(pts \d+\).*pts 520"):
            reader[12]
        assert reader[20].shape == reader.frame_shape


def test_closed_reader_refuses(long_movie):
    path, _ = long_movie
    reader = MovieReader(path, backend="pyav")
    reader.close()
    assert pyav_backend.open_containers() == []
    with pytest.raises(ValueError, match="closed"):
        reader[0]


def test_reader_shared_between_threads(long_movie):
    path, frames = long_movie
    errors: list[BaseException] = []
    with MovieReader(path, backend="pyav") as reader:
        expected = reader.to_array()

        def work(seed: int) -> None:
            rng = np.random.default_rng(seed)
            try:
                for i in rng.integers(0, len(reader), 25):
                    assert np.array_equal(reader[int(i)], expected[i])
                for k, (_, data) in enumerate(reader.iter_frames(seed, seed + 6)):
                    assert np.array_equal(data, expected[seed + k])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_damage_found_in_every_thread(tmp_path, make_frames):
    """Each thread captures its own libav log: the same CRC mismatch raises in both."""
    path = write_movie(tmp_path / "d.mkv", make_frames(6, 1, (16, 12)), backend="pyav")
    flip_byte_in_frame(path, 3, 6)
    outcomes: list[str] = []

    def work() -> None:
        with MovieReader(path, backend="pyav") as reader:
            for _ in range(5):
                try:
                    reader[3]
                    outcomes.append("data")
                except MovieFormatError as exc:
                    outcomes.append("damaged" if "frame 3" in str(exc) else str(exc))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["damaged"] * 15


def test_log_settings_restored(tmp_path, make_frames):
    before = (av.logging.get_level(), av.logging.get_skip_repeated())
    path = write_movie(tmp_path / "m.mkv", make_frames(3, 1, (4, 4)), backend="pyav")
    flip_byte_in_frame(path, 1, 3)
    assert not validate_movie(path, backend="pyav").ok
    assert (av.logging.get_level(), av.logging.get_skip_repeated()) == before


# ------------------------------------------------------------------ H.264 preview encoder


def test_encode_h264(tmp_path, backend):
    y, x = np.mgrid[0:48, 0:64]
    pictures = [
        np.stack([x * 4, y * 5, np.full_like(x, 40 * k)], axis=-1).astype(np.uint8)
        for k in range(6)
    ]
    path = tmp_path / "p.mp4"
    assert encode_h264(path, iter(pictures), fps=10, threads=1, backend=backend) == 6
    facts = stream_facts(path)
    assert (facts["codec_name"], facts["pix_fmt"], facts["frames"]) == ("h264", "yuv420p", 6)
    assert (facts["width"], facts["height"]) == (64, 48)
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.colorspace, ctx.color_range) == (1, 1)  # BT.709, limited range
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    # lossy, but that picture; a wrong colour matrix or range would be off by far more
    assert np.abs(first.astype(int) - pictures[0]).mean() < 4


@pytest.mark.parametrize(
    "pictures",
    [[], [np.zeros((5, 8, 3), np.uint8)], [np.zeros((4, 8, 3), np.uint8), np.zeros((4, 6, 3))]],
    ids=["none", "odd", "changing"],
)
def test_encode_h264_bad_input(tmp_path, backend, pictures):
    with pytest.raises(ValueError, match="picture|no pictures"):
        encode_h264(tmp_path / "p.mp4", pictures, fps=10, backend=backend)


@pytest.mark.parametrize("movie", ["ours", "scalar2d_8bit.mkv", "scalar2d_16bit.avi"])
def test_seeking_by_timestamp_when_bytes_are_not_located(long_movie, movie):
    """The demuxer path (used when a packet's bytes cannot be located in the file) seeks by
    timestamp and decodes from the keyframe before (py-pde's frames are not all keyframes)."""
    path = long_movie[0] if movie == "ours" else PYPDE / movie
    with MovieReader(path, backend="pyav") as reader:
        everything = reader.to_array()
        reader._decoder.index()
        reader._decoder._spans = None
        reader._decoder._next = -1
        n = len(reader)
        for i in [n - 1, 1, 1, 0, n // 2, n - 2, 2]:
            assert np.array_equal(reader[i], everything[i]), f"frame {i}"
        assert np.array_equal(reader.to_array(), everything)

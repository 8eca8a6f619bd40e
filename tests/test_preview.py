"""Preview movies and snapshot PNGs: real H.264 files, layout, atomicity, process hygiene."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from fieldmovie.analysis.preview import (
    GAP,
    colormap_frame,
    render_text,
    snapshot_indices,
    write_preview,
    write_snapshots,
)
from fieldmovie.movie import _ffmpeg
from fieldmovie.movie._ffmpeg import FFmpegError, ffprobe_executable, run
from fieldmovie.movie.backends import ffmpeg_cli

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe not installed",
)


def _frames(n: int, grid: tuple[int, ...], n_comp: int = 2):  # noqa: ANN202
    rng = np.random.default_rng(0)
    for i in range(n):
        yield 0.25 * i, rng.uniform(0.0, 1.0, size=(n_comp, *grid))


def _probe(path: Path) -> dict:
    out = run(
        [
            ffprobe_executable(),
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name,pix_fmt,width,height",
            "-show_entries",
            "format=format_name",
            "-of",
            "json",
            str(path),
        ]  # fmt: skip
    )
    info = json.loads(out.stdout)
    stream = info["streams"][0]
    stream["format_name"] = info["format"]["format_name"]
    return stream


def _decode_first_frame(path: Path, width: int, height: int) -> np.ndarray:
    out = run(
        [
            _ffmpeg.ffmpeg_executable(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]  # fmt: skip
    )
    return np.frombuffer(out.stdout, np.uint8).reshape(height, width, 3)


# -- colour mapping ------------------------------------------------------------------------
def test_colormap_frame_layout_2d() -> None:
    import matplotlib

    nx, ny = 6, 4
    data = np.zeros((2, nx, ny))
    data[0, 0, 0] = 1.0  # x = 0, y = 0: bottom-left pixel
    data[1, nx - 1, ny - 1] = 1.0  # top-right pixel of component 1
    img = colormap_frame(data, [0.0, 0.0], [1.0, 1.0], "viridis")
    assert img.dtype == np.uint8
    assert img.shape == (ny, 2 * nx + GAP, 3)
    lut = np.rint(matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255)
    top, bottom = lut[255].astype(np.uint8), lut[0].astype(np.uint8)
    assert (img[ny - 1, 0] == top).all()  # row ny-1 is y = 0
    assert (img[0, 0] == bottom).all()
    assert (img[:, nx : nx + GAP] == 0).all()  # gap
    assert (img[0, nx + GAP + nx - 1] == top).all()
    assert (img[ny - 1, nx + GAP] == bottom).all()


def test_colormap_frame_ranges_per_component_and_scale() -> None:
    data = np.stack([np.full((3, 3), 5.0), np.full((3, 3), 5.0)])
    img = colormap_frame(data, [0.0, 5.0], [10.0, 6.0], "gray", scale=3, gap=2)
    assert img.shape == (9, 3 * 3 * 2 + 2, 3)
    assert abs(int(img[0, 0, 0]) - 128) <= 1  # 5 in [0, 10]: mid grey
    assert int(img[0, -1, 0]) == 0  # 5 in [5, 6]: black


def test_colormap_frame_1d_and_3d() -> None:
    img1 = colormap_frame(np.linspace(0, 1, 200)[None], 0.0, 1.0)
    assert img1.shape == (25, 200, 3)  # max(16, 200 // 8)
    assert (img1[0] == img1[-1]).all()
    assert colormap_frame(np.zeros((1, 10)), 0.0, 1.0).shape == (16, 10, 3)
    data3 = np.zeros((1, 4, 5, 6))
    data3[0, :, :, 3] = 1.0  # the middle z-slice (6 // 2)
    img3 = colormap_frame(data3, 0.0, 1.0, "gray")
    assert img3.shape == (5, 4, 3)
    assert (img3 == 255).all()


def test_colormap_frame_degenerate_ranges_do_not_warn() -> None:
    data = np.stack([np.full((4, 4), 2.0), np.full((4, 4), np.nan), np.arange(16.0).reshape(4, 4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = colormap_frame(data, [2.0, 0.0, np.nan], [2.0, 1.0, 3.0], "gray")
        colormap_frame(np.full((1, 4, 4), np.inf), 0.0, 1.0)
    assert (img[:, :4] == img[0, 0]).all() and abs(int(img[0, 0, 0]) - 128) <= 1
    assert (img[:, 8:12] == 128).all()  # NaN values: grey
    assert (img[:, 16:] == img[0, 16]).all()  # non-finite range: uniform mid colour


def test_render_text_with_pillow() -> None:
    small, big = render_text("t = 1.5e-03", 10), render_text("t = 1.5e-03", 20)
    assert small.dtype == bool and small.any() and big.any()
    assert big.shape[0] > small.shape[0] and big.shape[1] > small.shape[1]
    assert render_text("t = 1.5e-03 and more", 10).shape[1] > small.shape[1]
    assert not render_text(" ", 10).any()
    assert not (render_text("1", 12) == render_text("7", 12)).all()  # glyphs, not boxes


# -- preview movie -------------------------------------------------------------------------
@needs_ffmpeg
@pytest.mark.parametrize(
    ("grid", "n_comp", "n_frames"),
    [((128,), 1, 5), ((40, 30), 2, 7), ((12, 10, 8), 3, 4), ((33, 17), 1, 3)],
)
def test_preview_is_browser_playable_h264(tmp_path, grid, n_comp, n_frames) -> None:  # noqa: ANN001
    out = tmp_path / "preview.mp4"
    names = ["u", "v", "w"][:n_comp]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        count = write_preview(
            _frames(n_frames, grid, n_comp), out, vmin=0.0, vmax=1.0, components=names, fps=5
        )
    assert count == n_frames
    info = _probe(out)
    assert info["codec_name"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert "mp4" in info["format_name"]
    assert int(info["nb_read_frames"]) == n_frames
    assert info["width"] % 2 == 0 and info["height"] % 2 == 0
    if len(grid) > 1:  # small grids are magnified to >= 256 px (plus the header)
        assert info["height"] >= 256
    else:  # 1D strips are magnified up to the width limit
        assert info["width"] >= 1000
    # moov atom before mdat (+faststart: playback starts before the download ends)
    head = out.read_bytes()
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    assert [p.name for p in tmp_path.iterdir()] == ["preview.mp4"]


@needs_ffmpeg
def test_preview_content_and_constant_component(tmp_path) -> None:  # noqa: ANN001
    """Left component: a constant field (mid colour); right: 0 in the lower half and 1 in the
    upper half (y up); the colours survive the H.264 round trip approximately."""
    import matplotlib

    n = 32
    right = np.zeros((n, n))
    right[:, n // 2 :] = 1.0
    frames = [(float(i), np.stack([np.full((n, n), 7.0), right])) for i in range(3)]
    out = tmp_path / "p.mp4"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_preview(
            frames, out, vmin=[7.0, 0.0], vmax=[7.0, 1.0], components=["c", "phi"], cmap="gray"
        )
    info = _probe(out)
    img = _decode_first_frame(out, info["width"], info["height"]).astype(int)
    h = info["height"]
    assert int(info["nb_read_frames"]) == 3
    gray = np.rint(matplotlib.colormaps["gray"](0.5)[0] * 255)
    scale = 256 // n  # auto scale: 32 px -> 256 px
    body_top = h - n * scale - (h % 2)  # header above the field, maybe 1 px padding below
    left = img[body_top + 10 : body_top + n * scale - 10, 10 : n * scale - 10]
    assert np.abs(left - gray).max() <= 6
    x0 = n * scale + GAP
    upper = img[body_top + 10 : body_top + n * scale // 2 - 10, x0 + 10 : x0 + n * scale - 10]
    lower = img[body_top + n * scale // 2 + 10 : body_top + n * scale - 10, x0 + 10 : -10]
    assert upper.min() >= 245 and lower.max() <= 10


@needs_ffmpeg
def test_preview_rejects_empty_and_inconsistent_input(tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "p.mp4"
    with pytest.raises(ValueError, match="no frames"):
        write_preview([], out, vmin=0, vmax=1, components=["u"])
    frames = [(0.0, np.zeros((1, 8, 8))), (1.0, np.zeros((1, 8, 9)))]
    with pytest.raises(ValueError, match="shape"):
        write_preview(frames, out, vmin=0, vmax=1, components=["u"])
    with pytest.raises(ValueError, match="components"):
        write_preview(frames[:1], out, vmin=0, vmax=1, components=["u", "v"])
    assert list(tmp_path.iterdir()) == []


def _fake_ffmpeg(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.parametrize(
    "body",
    [
        "echo 'simulated encoder failure' >&2; exit 3",  # dies without reading stdin
        "cat > /dev/null; echo 'simulated encoder failure' >&2; exit 1",  # fails at the end
    ],
)
def test_failing_ffmpeg_leaves_no_file(tmp_path, monkeypatch, body: str) -> None:  # noqa: ANN001
    fake = _fake_ffmpeg(tmp_path, body)
    monkeypatch.setenv("FIELDMOVIE_FFMPEG", str(fake))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(FFmpegError, match="simulated encoder failure") as info:
        write_preview(
            _frames(50, (64, 64)), out_dir / "p.mp4", vmin=0, vmax=1, components="uv",
            backend="ffmpeg",
        )  # fmt: skip
    assert "simulated encoder failure" in info.value.stderr
    assert list(out_dir.iterdir()) == []


def test_missing_ffmpeg_leaves_no_file(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("FIELDMOVIE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FFmpegError, match="not found"):
        write_preview(
            _frames(2, (8, 8)), tmp_path / "p.mp4", vmin=0, vmax=1, components="uv",
            backend="ffmpeg",
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def _ffmpeg_children() -> list[int]:
    """PIDs of processes (zombies included) whose parent is this process."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat_line = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, split after the last ')'
        comm = stat_line[stat_line.index("(") + 1 : stat_line.rindex(")")]
        ppid = int(stat_line[stat_line.rindex(")") + 2 :].split()[1])
        if ppid == me and "ffmpeg" in comm:
            found.append(int(entry))
    return found


@needs_ffmpeg
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_no_ffmpeg_left_after_exception_in_frames(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    started: list[_ffmpeg.FFmpegProcess] = []

    class Spy(_ffmpeg.FFmpegProcess):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(ffmpeg_cli, "FFmpegProcess", Spy)  # the ffmpeg backend starts it
    seen_running = []

    def frames():  # noqa: ANN202
        for i, item in enumerate(_frames(10, (32, 32))):
            if i == 4:
                seen_running.append(bool(_ffmpeg_children()))
                raise RuntimeError("simulation data unreadable")
            yield item

    out = tmp_path / "p.mp4"
    with pytest.raises(RuntimeError, match="unreadable"):
        write_preview(frames(), out, vmin=0, vmax=1, components=["u", "v"], backend="ffmpeg")
    assert seen_running == [True]  # the encoder was running when the iterator failed
    assert len(started) == 1
    assert started[0].proc.returncode is not None  # killed and reaped
    assert _ffmpeg_children() == []
    assert list(tmp_path.iterdir()) == []


@needs_ffmpeg
def test_preview_replaces_existing_file_only_on_success(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    out = tmp_path / "p.mp4"
    out.write_bytes(b"old")

    def bad():  # noqa: ANN202
        yield 0.0, np.zeros((1, 8, 8))
        raise KeyError("x")

    with pytest.raises(KeyError):
        write_preview(bad(), out, vmin=0, vmax=1, components=["u"])
    assert out.read_bytes() == b"old"
    write_preview(_frames(2, (8, 8), 1), out, vmin=0, vmax=1, components=["u"])
    assert _probe(out)["codec_name"] == "h264"
    assert [p.name for p in tmp_path.iterdir()] == ["p.mp4"]


@needs_ffmpeg
def test_large_grid_is_decimated(tmp_path) -> None:  # noqa: ANN001
    frames = [(0.0, np.zeros((2, 1500, 40)))]
    out = tmp_path / "wide.mp4"
    write_preview(frames, out, vmin=0, vmax=1, components=["u", "v"], scale=1)
    info = _probe(out)
    assert info["width"] <= 1920
    assert int(info["nb_read_frames"]) == 1


# -- snapshots -----------------------------------------------------------------------------
def test_snapshot_indices() -> None:
    assert snapshot_indices(100) == [0, 20, 40, 59, 79, 99]
    assert snapshot_indices(3) == [0, 1, 2]
    assert snapshot_indices(1) == [0]
    assert snapshot_indices(0) == []
    assert snapshot_indices(10, count=2) == [0, 9]
    assert snapshot_indices(10, count=1) == [9]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow  # matplotlib figures, 1.5-2 s each
@pytest.mark.parametrize("grid", [(64,), (32, 24), (8, 8, 6)])
def test_write_snapshots(tmp_path, grid) -> None:  # noqa: ANN001
    frames = list(_frames(20, grid))
    frames[5][1][0] = 0.5  # a constant component in one frame
    chosen = [frames[i] for i in snapshot_indices(len(frames))]
    out = tmp_path / "snaps" / "snapshots.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_snapshots(
            chosen, out, vmin=[0.0, 0.0], vmax=[1.0, 1.0], components=["u", "v"],
            grid_length=tuple(0.5 * g for g in grid), title="test",
        )  # fmt: skip
    width, height = _png_size(out)
    assert 300 < width < 3000 and 600 < height < 6000
    assert [p.name for p in out.parent.iterdir()] == ["snapshots.png"]


def test_write_snapshots_degenerate_range(tmp_path) -> None:  # noqa: ANN001
    frames = [(0.0, np.full((1, 8, 8), 3.0))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_snapshots(frames, tmp_path / "s.png", vmin=3.0, vmax=3.0, components=["c"])
    _png_size(tmp_path / "s.png")


@pytest.mark.parametrize("backend", ["pyav", "ffmpeg"])
def test_threads_reach_the_h264_encoder(tmp_path, monkeypatch, backend) -> None:  # noqa: ANN001
    """The rule's threads reach libx264: PyAV's codec context, or ffmpeg's -threads."""
    if backend == "ffmpeg" and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (bash bootstrap.sh --ffmpeg)")
    from fieldmovie.movie.backends import pyav as pyav_backend

    seen: list = []
    if backend == "pyav":
        real = pyav_backend._LibavH264.__init__

        def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            real(self, *args, **kwargs)
            seen.append(self._stream.codec_context.thread_count)

        monkeypatch.setattr(pyav_backend._LibavH264, "__init__", spy)
    else:
        real = ffmpeg_cli.FFmpegProcess

        def spy(args, **kwargs):  # noqa: ANN001, ANN003, ANN202
            args = list(args)
            seen.append(args[args.index("-threads") + 1] if "-threads" in args else None)
            return real(args, **kwargs)

        monkeypatch.setattr(ffmpeg_cli, "FFmpegProcess", spy)
    for name, threads in (("p.mp4", 1), ("q.mp4", None)):
        write_preview(
            _frames(3, (16, 12)), tmp_path / name, vmin=0, vmax=1, components=["a", "b"],
            threads=threads, backend=backend,
        )  # fmt: skip
    assert seen == ([1, 0] if backend == "pyav" else ["1", "0"]), seen  # 0: libx264 chooses


@needs_ffmpeg
def test_encode_h264_rejects_pictures_of_different_sizes(tmp_path) -> None:  # noqa: ANN001
    from fieldmovie.analysis.preview import encode_h264

    pictures = [np.zeros((16, 16, 3), np.uint8), np.zeros((16, 18, 3), np.uint8)]
    with pytest.raises(ValueError, match=r"shape \(16, 18, 3\).*expected \(16, 16, 3\)"):
        encode_h264(pictures, tmp_path / "x.mp4", fps=5)
    with pytest.raises(ValueError, match="no pictures"):
        encode_h264([], tmp_path / "y.mp4", fps=5)


@pytest.mark.parametrize("backend", ["pyav", "ffmpeg"])
def test_h264_threads_are_frame_threads(tmp_path, backend) -> None:  # noqa: ANN001
    """x264 runs on frame threads (deterministic, whatever the timing), not slice threads;
    x264 writes the settings it used into the stream."""
    if backend == "ffmpeg" and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (bash bootstrap.sh --ffmpeg)")
    out = tmp_path / "p.mp4"
    write_preview(
        _frames(6, (32, 24)), out, vmin=0, vmax=1, components=["a", "b"], threads=2,
        backend=backend,
    )  # fmt: skip
    data = out.read_bytes()
    assert b" threads=2 " in data and b" sliced_threads=0 " in data, data[:2000]

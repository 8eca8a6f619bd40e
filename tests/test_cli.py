"""The ``fieldmovie`` command line: info, validate, decode, concat; exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_system_ffmpeg, other_backend, system_ffmpeg, write_movie

from fieldmovie import MovieReader
from fieldmovie.cli import main

pytestmark = pytest.mark.usefixtures("backend")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``main(argv)`` in-process like the console script would: (exit code, out, err)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse, or an error raised as SystemExit
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:  # the interpreter prints the message and exits with status 1
            print(exc.code, file=sys.stderr)
            code = 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def movie(movie_factory):
    path, frames, times = movie_factory(
        "m.mkv", n_frames=5, n_components=2, grid_shape=(6, 5), info={"model": "test"}, bits=12
    )
    return path, frames, times


# ------------------------------------------------------------------ info


def test_info_text(capsys, movie):
    path, _, _ = movie
    code, out, err = run_cli(capsys, "info", path)
    assert code == 0, err
    assert "grid_shape" in out and "[6, 5]" in out
    assert "frames: 5" in out


def test_info_json(capsys, movie):
    path, _, times = movie
    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["frames"] == 5
    assert info["components"] == ["0", "1"]
    assert info["grid_shape"] == [6, 5]
    assert info["bits"] == 12
    assert info["time_range"] == [times[0], times[-1]]
    assert info["info"] == {"model": "test"}
    assert info["origin"] == "fieldmovie"


def test_info_pypde_movie(capsys):
    path = Path(__file__).parent / "data" / "pypde" / "scalar2d_8bit.mkv"
    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    assert json.loads(out)["origin"] == "py-pde"


# ------------------------------------------------------------------ validate


def test_validate_ok_and_problems(capsys, movie, tmp_path):
    path, _, _ = movie
    code, out, err = run_cli(capsys, "validate", path)
    assert code == 0, err
    assert "OK" in out
    code, out, _ = run_cli(capsys, "validate", path, "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True

    with open(f"{path}.times", "a") as fh:
        fh.write("100.0\n")
    code, out, _ = run_cli(capsys, "validate", path)
    assert code == 1
    assert "FAILED" in out
    code, out, _ = run_cli(capsys, "validate", path, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["problems"]


# ------------------------------------------------------------------ decode


def test_decode_frames_range(capsys, movie, tmp_path):
    path, _, times = movie
    out_path = tmp_path / "out" / "frames.npz"
    code, out, err = run_cli(capsys, "decode", path, "-o", out_path, "--frames", "1:4")
    assert code == 0, err
    with np.load(out_path) as npz:
        expected = MovieReader(path)[1:4]
        assert np.array_equal(npz["data"], expected)
        assert npz["times"].tolist() == times[1:4]
        assert npz["frames"].tolist() == [1, 2, 3]
        assert npz["components"].tolist() == ["0", "1"]
        assert npz["grid_shape"].tolist() == [6, 5]
    assert sorted(p.name for p in out_path.parent.iterdir()) == ["frames.npz"]


@pytest.mark.parametrize(
    ("spec", "frames"), [(None, [0, 1, 2, 3, 4]), ("-1", [4]), ("::2", [0, 2, 4]), ("3:", [3, 4])]
)
def test_decode_frame_specs(capsys, movie, tmp_path, spec, frames):
    path, _, _ = movie
    argv = ["decode", path, "-o", tmp_path / "f.npz"]
    if spec is not None:
        argv.append(f"--frames={spec}")
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    with np.load(tmp_path / "f.npz") as npz:
        assert npz["frames"].tolist() == frames
        assert npz["data"].shape == (len(frames), 2, 6, 5)


# ------------------------------------------------------------------ concat


def test_concat_then_validate_with_segments(capsys, tmp_path, make_frames):
    a = write_movie(tmp_path / "a.mkv", make_frames(2, 1, (4, 4)), [0, 1])
    b = write_movie(tmp_path / "b.mkv", make_frames(3, 1, (4, 4)), [2, 3, 4])
    code, out, err = run_cli(capsys, "concat", a, b, "-o", tmp_path / "j.mkv")
    assert code == 0, err
    reader = MovieReader(tmp_path / "j.mkv")
    assert reader.times.tolist() == [0, 1, 2, 3, 4]
    expected = np.concatenate([MovieReader(a).to_array(), MovieReader(b).to_array()])
    assert np.array_equal(reader.to_array(), expected)
    code, out, _ = run_cli(capsys, "validate", tmp_path / "j.mkv", "--segments", a, b, "--json")
    assert code == 0, out
    assert json.loads(out)["segments"] == [str(a), str(b)]
    code, out, _ = run_cli(capsys, "validate", tmp_path / "j.mkv", "--segments", b, a)
    assert code == 1


# ------------------------------------------------------------------ errors -> exit 2


def test_error_missing_movie(capsys, tmp_path):
    for command in (["info"], ["decode", "-o", tmp_path / "x.npz"]):
        code, out, err = run_cli(capsys, command[0], tmp_path / "nope.mkv", *command[1:])
        assert code == 2
        assert "nope.mkv" in err
        assert "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


def test_error_not_a_movie(capsys, tmp_path):
    text = tmp_path / "t.mkv"
    text.write_text("hello\n")
    code, _, err = run_cli(capsys, "info", text)
    assert code == 2
    assert "error" in err and "t.mkv" in err


def test_error_concat_mismatch(capsys, tmp_path, make_frames):
    a = write_movie(tmp_path / "a.mkv", make_frames(2, 1, (4, 4)), [0, 1])
    b = write_movie(tmp_path / "b.mkv", make_frames(2, 1, (4, 4)), [2, 3], bits=8)
    code, _, err = run_cli(capsys, "concat", a, b, "-o", tmp_path / "j.mkv")
    assert code == 2
    assert "bits" in err and "b.mkv" in err
    assert not (tmp_path / "j.mkv").exists()


@pytest.mark.parametrize("spec", ["7", "-9", "a:b", "1:2:3:4"])
def test_error_bad_frames_spec(capsys, movie, tmp_path, spec):
    path, _, _ = movie
    code, _, err = run_cli(capsys, "decode", path, "-o", tmp_path / "f.npz", f"--frames={spec}")
    assert code == 2, f"exit status {code}, stderr: {err!r}"
    assert "--frames" in err
    assert not (tmp_path / "f.npz").exists()


def test_error_unwritable_output(capsys, movie, tmp_path):
    path, _, _ = movie
    blocker = tmp_path / "file.txt"
    blocker.write_text("I am a file, not a folder\n")
    code, _, err = run_cli(capsys, "decode", path, "-o", blocker / "f.npz")
    assert code == 2, f"exit status {code}, stderr: {err!r}"
    assert "file.txt" in err


def test_error_usage(capsys):
    code, _, err = run_cli(capsys, "frobnicate")
    assert code == 2
    assert "usage" in err.lower()


# ------------------------------------------------------------------ python -m fieldmovie


def test_python_m_fieldmovie(movie, tmp_path):
    path, _, _ = movie
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "fieldmovie", "info", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 5
    done = subprocess.run(
        [sys.executable, "-m", "fieldmovie", "info", str(tmp_path / "nope.mkv")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert "nope.mkv" in done.stderr


# ------------------------------------------------------------------ preview, snapshots


@needs_system_ffmpeg  # the preview is still encoded by analysis/preview.py's ffmpeg process
def test_preview_and_snapshots(capsys, movie, tmp_path):
    path, _, _ = movie
    mp4 = tmp_path / "p.mp4"
    code, out, err = run_cli(capsys, "preview", path, "-o", mp4, "--cmap", "magma")
    assert code == 0, err
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,pix_fmt,nb_read_frames", "-of", "json", str(mp4)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"], stream["nb_read_frames"]) == (
        "h264",
        "yuv420p",
        "5",
    )
    png = tmp_path / "s.png"
    code, out, err = run_cli(capsys, "snapshots", path, "-o", png, "--count", "3")
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and "3 snapshots" in out


def test_preview_unknown_colormap_is_an_error(capsys, movie, tmp_path):
    path, _, _ = movie
    code, _, err = run_cli(capsys, "preview", path, "-o", tmp_path / "p.mp4", "--cmap", "nope")
    assert code == 2 and "nope" in err
    assert not list(tmp_path.glob("*p.mp4*"))


def test_to_xarray(movie):
    pytest.importorskip("xarray")
    path, frames, times = movie
    reader = MovieReader(path)
    da = reader.to_xarray()
    assert da.dims == ("time", "component", "x", "y")
    assert np.array_equal(da["time"].values, times)
    assert list(da["component"].values) == reader.components
    assert np.array_equal(da.values, reader.to_array())


def test_backend_option(capsys, tmp_path, make_frames, backend):
    """``fieldmovie --backend B`` overrides $FIELDMOVIE_BACKEND for the command."""
    choice = other_backend(backend)
    if choice == "ffmpeg" and not system_ffmpeg():
        pytest.skip("ffmpeg backend: no system ffmpeg/ffprobe (bash bootstrap.sh --ffmpeg)")
    seg = write_movie(tmp_path / "a.mkv", make_frames(3, 1, (4, 4)))
    code, _, err = run_cli(capsys, "--backend", choice, "concat", seg, "-o", tmp_path / "j.mkv")
    assert code == 0, err
    assert MovieReader(tmp_path / "j.mkv").meta.backend["name"] == choice
    code, _, err = run_cli(capsys, "--backend", "avconv", "info", seg)
    assert code != 0 and "invalid choice: 'avconv'" in err


def test_cli_defaults_come_from_the_config_schema() -> None:
    """preview/snapshots defaults are the schema's analysis defaults (one source)."""
    from fieldmovie.cli import build_parser
    from fieldmovie.workflow.config import analysis_defaults

    defaults = analysis_defaults()
    assert defaults == {"preview": True, "snapshots": 6, "cmap": "viridis"}
    parser = build_parser()
    snap = parser.parse_args(["snapshots", "m.mkv", "-o", "s.png"])
    prev = parser.parse_args(["preview", "m.mkv", "-o", "p.mp4"])
    assert (snap.count, snap.cmap, prev.cmap) == (6, "viridis", "viridis")

"""Analysis stage of the workflow, the report (in headless Chromium), and the downstream
example (real Snakemake)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_browser import check_report, chromium, embedded_results

from fieldmovie import MovieReader
from fieldmovie.movie.validate import open_validated

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
POINTS = ["F~0.03_k~0.06_seed~3", "F~0.04_k~0.06_seed~3"]
TINY = """\
sweeps:
  gs:
    model: gray_scott
    grid: {shape: [24, 16], length: [0.5, 0.33]}
    parameters: {F: [0.03, 0.04], k: 0.06}
    seeds: [3]
    time: {frame_interval: 50.0, frames_per_segment: 4, t_end: 400.0}
    storage: {bits: 12, range: {u: [0.0, 1.0], v: [0.0, 0.6]}}
"""


def snakemake(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> str:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir),
           "--cores", "2", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def ffprobe_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,pix_fmt,nb_read_frames,width,height", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)["streams"][0]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> Path:
    """The tiny sweep run to the end (all analysis outputs)."""
    workdir = tmp_path_factory.mktemp("analysis")
    (workdir / "config.yaml").write_text(TINY)
    snakemake(workdir)
    return workdir


def test_analysis_outputs(analysed: Path) -> None:
    sweep = analysed / "results" / "gs"
    points = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert points == ["F~0.03_k~0.06_seed~3", "F~0.04_k~0.06_seed~3"]
    for point in points:
        movie = MovieReader(sweep / point / "movie.mkv")
        assert len(movie) == 8
        with open(sweep / point / "observables.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert [float(r["time"]) for r in rows] == list(movie.times)
        assert {"u_mean", "u_std", "u_min", "u_max", "u_clipped", "u_length_scale"} <= set(rows[0])
        first = movie[0]
        assert float(rows[0]["v_mean"]) == pytest.approx(first[1].mean(), rel=1e-12)
        # the preview is a real browser-playable H.264 file with one frame per movie frame
        info = ffprobe_stream(sweep / point / "preview.mp4")
        assert (info["codec_name"], info["pix_fmt"]) == ("h264", "yuv420p")
        assert int(info["nb_read_frames"]) == len(movie)
        assert (sweep / point / "snapshots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (sweep / point / "preview.html").stat().st_size > (
            sweep / point / "preview.mp4"
        ).stat().st_size
    with open(sweep / "summary.csv") as fh:
        summary = list(csv.DictReader(fh))
    assert [r["F"] for r in summary] == ["0.03", "0.04"]
    assert all(r["seed"] == "3" and float(r["time"]) == 350.0 for r in summary)
    assert (sweep / "summary.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def report(analysed: Path) -> Path:
    snakemake(analysed, "--report", "report.html")
    return analysed / "report.html"


def test_report_shows_previews_config_parameters_and_summary(report: Path) -> None:
    results = embedded_results(report)
    by_figure = {}
    for path, entry in results.items():
        by_figure.setdefault(entry["labels"].get("figure"), []).append((path, entry))
        assert entry["caption"].strip(), f"{path} has no caption"
    previews = sorted(by_figure["preview"])
    assert [p for p, _ in previews] == [f"results/gs/{p}/preview.html" for p in POINTS]
    for (_, entry), point in zip(previews, POINTS, strict=True):
        assert entry["labels"] == {"sweep": "gs", "point": point, "figure": "preview"}
        assert f"sweep gs, point {point}" in entry["text"]
        assert '<video id="preview"' in entry["text"] and "data:video/mp4;base64," in entry["text"]
        assert point in entry["caption"] and "gs" in entry["caption"]
    [(path, sweep_page)] = by_figure["config, parameters and summary table"]
    assert path == "results/gs/sweep.html"
    text = sweep_page["text"]
    for heading in ("Parameter points", "Summary: final values per point", "Config of this sweep"):
        assert heading in text
    for point in POINTS:
        assert f"<td>{point}</td>" in text
    with open(report.parent / "results" / "gs" / "summary.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert all(f"<th>{column}</th>" in text for column in header), (header, text[:3000])
    assert "gray_scott" in text and "frames_per_segment: 4" in text
    assert {"summary plot", "snapshots"} <= set(by_figure)


def test_report_previews_play_in_chromium(report: Path) -> None:
    if chromium() is None:
        if os.environ.get("FIELDMOVIE_BROWSER_REQUIRED"):
            pytest.fail("chromium is not installed but FIELDMOVIE_BROWSER_REQUIRED is set")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    seen = check_report(report)
    assert sorted(seen["previews"]) == [f"gs / {p}" for p in POINTS], seen
    for name, state in seen["previews"].items():
        assert state["readyState"] >= 3, (name, state)  # HAVE_FUTURE_DATA: it plays
        assert state["currentTime"] > 0, (name, state)  # and it did play
        assert state["videoWidth"] > 0 and state["error"] is None, (name, state)


def test_failed_validation_is_not_analysed(analysed: Path, tmp_path: Path) -> None:
    point = analysed / "results" / "gs" / "F~0.03_k~0.06_seed~3"
    report = json.loads((point / "movie.validation.json").read_text())
    bad = tmp_path / "bad.validation.json"
    bad.write_text(json.dumps({**report, "ok": False, "problems": ["slice CRC mismatch"]}))
    with pytest.raises(RuntimeError, match=r"movie\.mkv is not analysed.*slice CRC mismatch"):
        open_validated(point / "movie.mkv", bad)
    with pytest.raises(RuntimeError, match="missing"):
        open_validated(point / "movie.mkv", tmp_path / "none.json")
    # a report about another movie does not vouch for this one
    other = analysed / "results" / "gs" / "F~0.04_k~0.06_seed~3" / "movie.validation.json"
    with pytest.raises(RuntimeError, match="another file"):
        open_validated(point / "movie.mkv", other)


def test_downstream_example(tmp_path: Path) -> None:
    example = REPO / "examples" / "downstream"
    shutil.copy(example / "config.yaml", tmp_path / "config.yaml")
    snakemake(tmp_path, snakefile=example / "Snakefile")
    out = tmp_path / "results" / "ch" / "gradient_energy.csv"
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    movies = sorted({r["movie"] for r in rows})
    assert movies == ["results/ch/c0~0.0_seed~1/movie.mkv", "results/ch/c0~0.3_seed~1/movie.mkv"]
    for movie in movies:
        reader = MovieReader(tmp_path / movie)
        times = [float(r["time"]) for r in rows if r["movie"] == movie]
        assert times == list(reader.times) == [5.0 * i for i in range(12)]
    assert all(float(r["mean_squared_gradient"]) > 0 for r in rows)

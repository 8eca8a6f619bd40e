"""Look at a Snakemake report in headless Chromium: do the previews play? Take a screenshot.

For the tests (``check_report``) and for humans::

    python tests/report_browser.py report.html                  # prints what played
    python tests/report_browser.py report.html --screenshot report.png

The report is served on 127.0.0.1 (with HTTP byte ranges) next to a small driver page that
loads it in a frame, opens every ``preview.html`` result the way a click would
(``app.setView``) and collects the states the player pages post (``readyState``,
``currentTime``). Nothing here imports Snakemake.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip

DRIVER = """<!DOCTYPE html>
<html><body>
<iframe id="report" src="%(report)s" style="width: 1260px; height: 860px"></iframe>
<pre id="result">pending</pre>
<script>
const out = {items: [], previews: {}, opened: []};
const render = () => { document.getElementById("result").textContent = JSON.stringify(out); };
window.addEventListener("message", (event) => {
  const d = event.data;
  if (d && d.fieldmovie_preview) {
    const old = out.previews[d.fieldmovie_preview] || {readyState: 0, currentTime: 0};
    d.readyState = Math.max(d.readyState, old.readyState);
    d.currentTime = Math.max(d.currentTime, old.currentTime);
    out.previews[d.fieldmovie_preview] = d;
    render();
  }
});
const frame = document.getElementById("report");
const start = () => {
  const w = frame.contentWindow;
  const entries = Object.entries(w.results);
  out.items = entries.map(([path, e]) => ({path: path, labels: e.labels, mime: e.mime_type}));
  const previews = entries.filter(([path]) => path.endsWith("preview.html"));
  const only = %(only)s;
  const chosen = only === null ? previews : previews.slice(only, only + 1);
  let i = 0;
  const next = () => {
    if (i >= chosen.length) { render(); return; }
    const [path, e] = chosen[i++];
    out.opened.push(path);
    w.eval("app").setView({content: "html", contentPath: e.data_uri, resultPath: path});
    render();
    setTimeout(next, %(dwell)d);
  };
  next();
};
const tryStart = () => {
  try { start(); } catch (err) { out.error = String(err); render(); }
};
frame.onload = () => setTimeout(tryStart, 300);
</script></body></html>
"""


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=a-b`` support (so ``<video>`` can seek)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def send_head(self):  # noqa: ANN201
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start, end = int(match[1]), int(match[2] or size - 1)
        end = min(end, size - 1)
        fh = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return _Limited(fh, end - start + 1)


class _Limited:
    def __init__(self, fh: Any, n: int) -> None:
        self.fh, self.left = fh, n

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.fh.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.fh.close()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) while the block runs; yields the URL."""
    handler = functools.partial(RangeHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium() -> str | None:
    """The Chromium executable, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run_chromium(args: list[str], timeout: float) -> str:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _driver(report: Path, only: int | None, dwell_ms: int) -> str:
    name = f".driver-{os.getpid()}.html"
    text = DRIVER % {"report": report.name, "only": json.dumps(only), "dwell": dwell_ms}
    (report.parent / name).write_text(text)
    return name


def _open_in_chromium(report: Path, only: int, dwell_ms: int, timeout: float) -> dict:
    driver = _driver(report, only, dwell_ms)
    try:
        with serve(report.parent) as url:
            dom = _run_chromium(
                [f"--virtual-time-budget={2000 + 2 * dwell_ms}", "--dump-dom", f"{url}/{driver}"],
                timeout,
            )
    finally:
        (report.parent / driver).unlink()
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.DOTALL)
    if not match or match[1] == "pending":
        raise RuntimeError(f"the driver page did not finish: {dom[-1000:]}")
    return json.loads(html.unescape(match[1]))


def check_report(report: str | os.PathLike, dwell_ms: int = 2500, timeout: float = 120) -> dict:
    """Open each preview of ``report`` in headless Chromium (one browser run each).

    Returns ``{"items": [{path, labels, mime}], "opened": [paths], "previews": {name: state}}``
    where a state has ``readyState`` (>= 3: it can play), ``currentTime``, ``videoWidth``.
    """
    report = Path(report).resolve()
    n_previews = sum(path.endswith("preview.html") for path in embedded_results(report))
    seen: dict[str, Any] = {"items": [], "opened": [], "previews": {}}
    for i in range(n_previews):
        one = _open_in_chromium(report, i, dwell_ms, timeout)
        seen["items"] = one["items"]
        seen["opened"] += one["opened"]
        seen["previews"].update(one["previews"])
    return seen


def screenshot(report: str | os.PathLike, png: str | os.PathLike, preview: int = 0) -> None:
    """A PNG of the report with its ``preview``-th preview open (for humans)."""
    report = Path(report).resolve()
    driver = _driver(report, preview, 3000)
    try:
        with serve(report.parent) as url:
            _run_chromium(
                ["--virtual-time-budget=6000", "--window-size=1280,1000",
                 f"--screenshot={Path(png).resolve()}", f"{url}/{driver}"], 120,
            )  # fmt: skip
    finally:
        (report.parent / driver).unlink()


def embedded_results(report: str | os.PathLike) -> dict[str, dict]:
    """The report's result table (``var results = {...}``), data URIs decoded to ``text``."""
    page = Path(report).read_text(errors="replace")
    match = re.search(r"var results = (\{.*?\});\n", page, re.DOTALL)
    if not match:
        raise ValueError(f"{report}: no results table")
    results = json.loads(match[1])
    for entry in results.values():
        data = entry["data_uri"].split("base64,", 1)
        if len(data) == 2 and entry["mime_type"] == "text/html":
            entry["text"] = base64.b64decode(data[1]).decode("utf-8", errors="replace")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("--screenshot", help="write a PNG of the report, first preview open")
    args = parser.parse_args(argv)
    if args.screenshot:
        screenshot(args.report, args.screenshot)
        print(f"wrote {args.screenshot}")
    seen = check_report(args.report)
    for name, state in sorted(seen["previews"].items()):
        print(f"{name}: readyState {state['readyState']}, played to {state['currentTime']:.2f} s")
    return 0 if seen["previews"] else 1


if __name__ == "__main__":
    sys.exit(main())

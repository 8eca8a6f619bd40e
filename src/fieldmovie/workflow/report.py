"""Pages of the Snakemake report: a player per point and a page per sweep.

Snakemake's report shows HTML results in a frame, so a point's preview becomes a small
self-contained page with the MP4 embedded in a ``<video>`` (it plays inside the report, no
download), and each sweep gets a page with its config, its parameter table and its summary
table. The player posts its state (``readyState``, ``currentTime``) to the embedding
window, so a browser test can check that the preview really plays.
"""

from __future__ import annotations

import base64
import csv
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..movie.atomic import atomic_path

__all__ = ["write_preview_page", "write_sweep_page"]

_STYLE = """<style>
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 90%; }
td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: right; }
th { background: #eee; }
pre { background: #f6f6f6; padding: 0.5em; }
</style>"""

# tells the embedding window how the player is doing (browser tests listen to it)
_PLAYER_STATE = """<script>
const video = document.getElementById("preview");
function post() {
  const state = {fieldmovie_preview: video.dataset.name, readyState: video.readyState,
                 currentTime: video.currentTime, videoWidth: video.videoWidth,
                 error: video.error ? video.error.code : null};
  try { window.top.postMessage(state, "*"); } catch (e) {}
}
["loadeddata", "canplay", "canplaythrough", "playing", "timeupdate", "error"]
  .forEach((name) => video.addEventListener(name, post));
</script>"""


def _write(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{_STYLE}</head>\n<body>\n{body}\n</body></html>\n"
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_preview_page(
    preview: str | os.PathLike, output: str | os.PathLike, *, sweep: str, point: str,
    caption: str = "",
) -> None:  # fmt: skip
    """A page playing ``preview`` (MP4, embedded) in a loop, titled by sweep and point."""
    data = base64.b64encode(Path(preview).read_bytes()).decode("ascii")
    name = f"{sweep} / {point}"
    body = (
        f"<h3>Preview: sweep {html.escape(sweep)}, point {html.escape(point)}</h3>\n"
        f'<video id="preview" data-name="{html.escape(name)}" controls autoplay muted loop '
        f'playsinline style="max-width: 100%" src="data:video/mp4;base64,{data}"></video>\n'
        f"<p>{html.escape(caption)}</p>\n{_PLAYER_STATE}"
    )
    _write(output, _page(f"preview {name}", body))


def write_sweep_page(
    output: str | os.PathLike, *, sweep: str, config: Mapping[str, Any],
    points: Sequence[Mapping[str, Any]], swept: Sequence[str], summary_csv: str | os.PathLike,
) -> None:  # fmt: skip
    """The sweep's config, its points (parameters and seed) and its summary table."""
    keys = sorted({k for p in points for k in p["parameters"]})
    point_rows = [[p["point"], *(p["parameters"][k] for k in keys), p["seed"]] for p in points]
    with open(summary_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    header, summary_rows = (rows[0], rows[1:]) if rows else ([], [])
    swept_text = ", ".join(swept) or "(none: a single point per seed)"
    body = "\n".join(
        [
            f"<h2>Sweep {html.escape(sweep)}</h2>",
            f"<p>{len(points)} points; swept parameters: {html.escape(swept_text)}.</p>",
            "<h3>Parameter points</h3>",
            _table(["point", *keys, "seed"], point_rows),
            "<h3>Summary: final values per point</h3>",
            _table(header, summary_rows),
            "<h3>Config of this sweep (defaults filled in)</h3>",
            f"<pre>{html.escape(yaml.safe_dump(dict(config), sort_keys=False))}</pre>",
        ]
    )
    _write(output, _page(f"sweep {sweep}", body))

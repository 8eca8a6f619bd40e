"""The column-wise parse of version 2 sidecars equals the line-by-line parse, and anything
unusual falls back to it (which names the line)."""

from __future__ import annotations

import numpy as np
import pytest

from fieldmovie.movie import sidecar
from fieldmovie.movie.digests import FRAME_DIGEST_BYTES
from fieldmovie.movie.metadata import MovieFormatError


def _table(frames: int, components: list[str], seed: int = 0) -> sidecar.FrameTable:
    rng = np.random.default_rng(seed)
    n = len(components)
    lo = rng.standard_normal((frames, n)) * 10.0 ** rng.integers(-300, 300, (frames, n))
    hi = lo + np.abs(rng.standard_normal((frames, n)))
    digests = [f"{rng.integers(2**62):0{2 * FRAME_DIGEST_BYTES}x}" for _ in range(frames)]
    times = np.cumsum(rng.random(frames)).tolist()
    return sidecar.FrameTable(times, digests, lo, hi, components, 2)


@pytest.mark.parametrize("components", [["u"], ["u", "v"], ["a b", "%c", "d"]])
def test_column_parse_equals_line_parse(components):
    data = _table(300, components).to_bytes()
    fast = sidecar.parse_table(data)
    rows = data.decode().splitlines()[1:]
    slow = [sidecar._parse_row(row, len(components), "x", k) for k, row in enumerate(rows, 2)]
    assert sidecar._parse_rows_at_once(rows, len(components)) is not None  # the fast path ran
    assert fast.times == [t for t, _, _ in slow]
    assert all(type(t) is float for t in fast.times)
    assert fast.digests == [d for _, d, _ in slow]
    ends = np.array([e for _, _, e in slow])
    assert np.array_equal(fast.vmin, ends[:, 0::2]) and np.array_equal(fast.vmax, ends[:, 1::2])
    assert fast.components == components and fast.to_bytes() == data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda row: row.replace(" ", "  ", 1), "columns"),
        (lambda row: row.split(" ", 1)[0] + " " + "G" * 16 + " " + row.split(" ", 2)[2],
         "not a frame digest"),
        (lambda row: " ".join(row.split(" ")[:2] + ["1.0", "0.0"]), "vmin <= vmax"),
        (lambda row: " ".join(row.split(" ")[:2] + ["nan", "1.0"]), "finite"),
        (lambda row: " ".join(["x1"] + row.split(" ")[1:]), "time 'x1' is not a number"),
    ],
)  # fmt: skip
def test_unusual_rows_fall_back_and_name_their_line(edit, message):
    lines = _table(50, ["u"]).to_bytes().decode().splitlines()
    lines[37] = edit(lines[37])
    with pytest.raises(MovieFormatError, match=rf"f\.times, line 38: .*{message}"):
        sidecar.parse_table(("\n".join(lines) + "\n").encode(), "f.times")

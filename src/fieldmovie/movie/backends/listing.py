"""The ffconcat script that both backends hand to FFmpeg's concat demuxer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..atomic import remove_quietly, temporary_path

__all__ = ["concat_listing"]


def _line(path: Path) -> str:
    # the concat script quotes with '...'; a quote inside is written as '\''
    escaped = str(path.resolve()).replace("'", "'\\''")
    return f"file '{escaped}'\n"


@contextmanager
def concat_listing(segments: Sequence[Path], output: Path) -> Iterator[Path]:
    """A temporary ffconcat script next to ``output`` listing ``segments``; removed after."""
    listing = temporary_path(output.with_suffix(".concat.txt"))
    try:
        listing.write_text("ffconcat version 1.0\n" + "".join(_line(Path(s)) for s in segments))
        yield listing
    finally:
        remove_quietly(listing)

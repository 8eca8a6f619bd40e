"""The ``fieldmovie`` command line: info, validate, decode, concat, preview, snapshots, export."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._version import __version__
from .movie._ffmpeg import FFmpegError
from .movie.atomic import atomic_path
from .movie.metadata import MovieFormatError

__all__ = ["main"]


def _frames(spec: str | None, n: int) -> range:
    """Parse ``a:b[:s]`` or a single index (Python slice semantics) into a range."""
    if spec is None:
        return range(n)
    parts = spec.split(":")
    try:
        if len(parts) == 1:
            i = int(parts[0])
            i = i + n if i < 0 else i
            if not 0 <= i < n:
                raise ValueError(f"--frames {spec}: index out of range for {n} frames")
            return range(i, i + 1)
        if len(parts) > 3:
            raise ValueError
        bounds = [int(p) if p else None for p in parts]
    except ValueError:
        raise ValueError(f"--frames {spec!r}: expected INDEX or START:STOP[:STEP]") from None
    return range(*slice(*bounds).indices(n))


def cmd_info(args: argparse.Namespace) -> int:
    from .movie.reader import MovieReader

    reader = MovieReader(args.movie)
    n = len(reader)
    raw = n * int(np.prod(reader.frame_shape)) * 8
    size = reader.stream.size
    info = {
        "path": str(reader.path),
        "origin": reader.meta.origin,
        "components": reader.components,
        "grid_shape": list(reader.grid_shape),
        "grid_length": list(reader.grid_length) if reader.grid_length else None,
        "bits": reader.bits,
        "vmin": reader.vmin,
        "vmax": reader.vmax,
        "frames": n,
        "time_range": [float(reader.times[0]), float(reader.times[-1])] if n else None,
        "size_bytes": size,
        "ratio_to_float64": round(size / raw, 4) if raw else None,
        "clipped": reader.meta.clipped,
        "codec": reader.meta.codec,
        "info": reader.info,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>17}: {value}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .movie.validate import validate_movie

    report = validate_movie(args.movie, segments=args.segments)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        status = "OK" if report.ok else "FAILED"
        print(f"{report.path}: {status}, {report.frames} frames")
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else 1


def cmd_decode(args: argparse.Namespace) -> int:
    from .movie.reader import MovieReader

    reader = MovieReader(args.movie)
    frames = _frames(args.frames, len(reader))
    data = reader.read_frames(frames)
    out = Path(args.output)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            data=data,
            times=reader.times[list(frames)],
            frames=np.asarray(list(frames), dtype=np.int64),
            components=np.asarray(reader.components),
            grid_shape=np.asarray(reader.grid_shape),
        )
    print(f"{out}: {len(frames)} frames, array {data.shape}")
    return 0


def cmd_concat(args: argparse.Namespace) -> int:
    from .movie.concat import concat_movies

    out = concat_movies(args.segments, args.output)
    print(f"{out}: joined {len(args.segments)} segments")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from .analysis.preview import write_preview
    from .analysis.render import movie_color_range
    from .movie.reader import MovieReader

    reader = MovieReader(args.movie)
    lows, highs = movie_color_range(reader)
    write_preview(
        reader, args.output, vmin=lows, vmax=highs,
        components=reader.components, cmap=args.cmap, fps=args.fps,
    )  # fmt: skip
    print(f"{args.output}: preview of {len(reader)} frames")
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    from .analysis.preview import write_movie_snapshots
    from .movie.reader import MovieReader

    reader = MovieReader(args.movie)
    write_movie_snapshots(reader, args.output, count=args.count, cmap=args.cmap)
    print(f"{args.output}: {min(args.count, len(reader))} snapshots")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .workflow.dataset import SweepDatasetError, export_sweep

    try:
        out = export_sweep(
            args.results, args.output, args.sweep,
            missing="skip" if args.skip_missing else "raise",
            time_chunk=args.time_chunk, overwrite=args.overwrite, workers=args.workers,
        )  # fmt: skip
    except (SweepDatasetError, ImportError) as exc:
        print(f"fieldmovie export: error: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: sweep exported")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fieldmovie`` command."""
    from .workflow.config import analysis_defaults

    defaults = analysis_defaults()  # the config schema's defaults: one source
    parser = argparse.ArgumentParser(
        prog="fieldmovie", description="Lossless FFV1 movies of simulated fields."
    )
    parser.add_argument("--version", action="version", version=f"fieldmovie {__version__}")
    parser.add_argument(
        "--backend",
        choices=["pyav", "ffmpeg"],
        help="FFmpeg backend: pyav (in-process, default) or ffmpeg (the system's executables); "
        "default: $FIELDMOVIE_BACKEND, else pyav",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="components, grid, bits, frames, time range, size")
    p.add_argument("movie")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "validate", help="decode every frame and check the movie (exit 1 on problems)"
    )
    p.add_argument("movie")
    p.add_argument("--segments", nargs="+", metavar="SEG", help="segments it was joined from")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("decode", help="decode frames into an .npz (data, times, frames)")
    p.add_argument("movie")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("--frames", help="INDEX or START:STOP[:STEP] (Python slice), default all")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("concat", help="join segments without re-encoding")
    p.add_argument("segments", nargs="+", metavar="SEG")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_concat)

    p = sub.add_parser("preview", help="H.264 preview movie for eyes (colormapped)")
    p.add_argument("movie")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    p.add_argument("--cmap", default=defaults["cmap"], help="matplotlib colormap name")
    p.add_argument("--fps", type=int, default=10)
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("snapshots", help="PNG grid of frames across the run")
    p.add_argument("movie")
    p.add_argument("-o", "--output", required=True, help="output .png")
    p.add_argument("--count", type=int, default=defaults["snapshots"], help="number of frames")
    p.add_argument("--cmap", default=defaults["cmap"], help="matplotlib colormap name")
    p.set_defaults(func=cmd_snapshots)

    p = sub.add_parser(
        "export", help="decode a whole sweep into a chunked zarr store or NetCDF file"
    )
    p.add_argument("results", metavar="RESULTS_DIR", help="the workflow's results folder")
    p.add_argument("--sweep", help="sweep name (needed when there are several)")
    p.add_argument("-o", "--output", required=True, help="output .zarr or .nc")
    p.add_argument("--time-chunk", type=int, help="frames per chunk (default: one segment)")
    p.add_argument(
        "--skip-missing",
        action="store_true",
        help="leave out points without a validated movie (NaN) instead of failing",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--workers", type=int, default=2, help="chunks decoded at a time")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fieldmovie`` console script."""
    args = build_parser().parse_args(argv)
    if args.backend:  # every movie call of this command uses it
        os.environ["FIELDMOVIE_BACKEND"] = args.backend
    try:
        return args.func(args)
    except (MovieFormatError, FFmpegError, OSError, ValueError) as exc:
        print(f"fieldmovie {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

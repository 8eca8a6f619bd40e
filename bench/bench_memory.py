"""Peak memory of decoding a long movie: streaming (observables) vs. loading everything.

    python bench/bench_memory.py [--frames 2000] [--size 128] [--components 2]

Writes a movie of FRAMES frames once, then measures for each FFmpeg backend, in fresh
subprocesses, the peak resident memory (ru_maxrss) of (a) importing fieldmovie and opening
the reader, (b) streaming every frame through ``write_observables_csv`` (what the
observables rule does), (c) ``reader.to_array()``. Streaming is also measured on a movie a
tenth as long: flat means the same peak for both lengths.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from fieldmovie import MovieWriter

CHILD = textwrap.dedent(
    """
    import resource, sys
    from fieldmovie import MovieReader
    from fieldmovie.analysis.observables import write_observables_csv
    mode, movie, out, backend = sys.argv[1:5]
    reader = MovieReader(movie, backend=backend)
    if mode == "stream":
        write_observables_csv(reader, out)
    elif mode == "array":
        data = reader.to_array()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """
)


def peak_mb(mode: str, movie: Path, out: Path, backend: str) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(movie), str(out), backend],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--components", type=int, default=2)
    args = parser.parse_args()
    n, nc = args.size, args.components
    x = np.linspace(0, 2 * np.pi, n, endpoint=False)
    with tempfile.TemporaryDirectory() as tmp:
        movie, short = Path(tmp) / "long.mkv", Path(tmp) / "short.mkv"
        for path, count in ((movie, args.frames), (short, args.frames // 10)):
            with MovieWriter(path, components=nc, grid_shape=(n, n), vmin=-1, vmax=1) as writer:
                for i in range(count):
                    phase = 0.05 * i
                    frame = [
                        np.outer(np.sin(x + phase * (c + 1)), np.cos(x - phase)) for c in range(nc)
                    ]
                    writer.append(np.array(frame), float(i))
        frame_mb = nc * n * n * 8 / 2**20
        print(f"movie: {args.frames} frames of {nc}x{n}x{n} (float64 frame {frame_mb:.2f} MB, "
              f"all frames {args.frames * frame_mb:.0f} MB)")  # fmt: skip
        out = Path(tmp) / "o.csv"
        for backend in ("pyav", "ffmpeg"):
            base = peak_mb("import", movie, out, backend)
            part = peak_mb("stream", short, out, backend)
            stream = peak_mb("stream", movie, out, backend)
            array = peak_mb("array", movie, out, backend)
            print(f"[{backend}]")
            print(f"{'  peak RSS, import + open only':<44} {base:8.1f} MB")
            label = f"  peak RSS, streaming observables ({args.frames // 10})"
            print(f"{label:<44} {part:8.1f} MB  (+{part - base:.1f} MB)")
            print(f"{f'  peak RSS, streaming observables ({args.frames})':<44} {stream:8.1f} MB  "
                  f"(+{stream - base:.1f} MB)")  # fmt: skip
            print(f"{'  peak RSS, reader.to_array()':<44} {array:8.1f} MB  "
                  f"(+{array - base:.1f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()

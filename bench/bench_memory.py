"""Peak memory of decoding a long movie: streaming (observables) vs. loading everything.

    python bench/bench_memory.py [--frames 600] [--size 128] [--components 2]

Writes a movie of FRAMES frames once, then measures in fresh subprocesses the peak resident
memory (ru_maxrss) of (a) importing fieldmovie only, (b) streaming every frame through
``write_observables_csv`` (what the observables rule does), (c) ``reader.to_array()``.
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
    mode, movie, out = sys.argv[1:4]
    reader = MovieReader(movie)
    if mode == "stream":
        write_observables_csv(reader, out)
    elif mode == "array":
        data = reader.to_array()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """
)


def peak_mb(mode: str, movie: Path, out: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(movie), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--components", type=int, default=2)
    args = parser.parse_args()
    n, nc = args.size, args.components
    x = np.linspace(0, 2 * np.pi, n, endpoint=False)
    with tempfile.TemporaryDirectory() as tmp:
        movie = Path(tmp) / "long.mkv"
        with MovieWriter(movie, components=nc, grid_shape=(n, n), vmin=-1, vmax=1) as writer:
            for i in range(args.frames):
                phase = 0.05 * i
                frame = [
                    np.outer(np.sin(x + phase * (c + 1)), np.cos(x - phase)) for c in range(nc)
                ]
                writer.append(np.array(frame), float(i))
        frame_mb = nc * n * n * 8 / 2**20
        base = peak_mb("import", movie, Path(tmp) / "o.csv")
        stream = peak_mb("stream", movie, Path(tmp) / "o.csv")
        array = peak_mb("array", movie, Path(tmp) / "o.csv")
    print(f"movie: {args.frames} frames of {nc}x{n}x{n} (float64 frame {frame_mb:.2f} MB, "
          f"all frames {args.frames * frame_mb:.0f} MB)")  # fmt: skip
    print(f"{'peak RSS, import + open only':<40} {base:8.1f} MB")
    print(f"{'peak RSS, streaming observables':<40} {stream:8.1f} MB  (+{stream - base:.1f} MB)")
    print(f"{'peak RSS, reader.to_array()':<40} {array:8.1f} MB  (+{array - base:.1f} MB)")


if __name__ == "__main__":
    main()

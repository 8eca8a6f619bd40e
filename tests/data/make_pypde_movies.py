"""Write small reference movies with py-pde's ``MovieStorage`` plus expected values.

Run with the separate py-pde virtualenv (NOT the project's .venv)::

    python3 -m venv /work/pdeenv
    /work/pdeenv/bin/pip install py-pde ffmpeg-python
    /work/pdeenv/bin/python tests/data/make_pypde_movies.py [NAME ...]

With NAMEs, only those movies are (re)made (the others keep their bytes).

For every movie ``tests/data/pypde/<name>.<ext>`` a file ``<name>.expected.npz`` is
written with what py-pde itself returns when reading the movie back.  Keys:

``times``           float64 (frames,)  ``MovieStorage.times`` (py-pde may return an int
                    array when t_start/dt are ints; it is stored as float64 here). If
                    py-pde's len() is wrong (frames29_8bit) this is py-pde's formula
                    t_start + dt * arange(true number of frames)
``pypde_times``     float64, ``MovieStorage.times`` exactly as py-pde returns it
``data``            float64 (frames, channels, *grid_shape) decoded values, taken from
                    iterating the storage (``for field in storage``) and flattened to the
                    channel axis (same as ``MovieStorage.data``, except that for 1D grids
                    py-pde's ``.data`` has an extra trailing axis of length 1)
``fieldK``          float64 (frames, *field.data.shape) data of field K of a
                    FieldCollection as returned by iterating the storage
``frames``          uint8/uint16 (frames, width, height, format_channels): the raw
                    frames exactly as py-pde reshapes the ``rawvideo`` output of ffmpeg
                    (width = nx, height = ny or 1)
``input``           float64 (frames, channels, *grid_shape): values that were written
``vmin``, ``vmax``  float64 (channels,) per-channel limits used for (de)normalisation
``channel_field``   int (channels,) index of the field each channel belongs to
``channel_axes``    str (channels,) py-pde's name of the component each channel holds:
                    the axis of ``grid.c.axes`` (vector), two of them (tensor, C order),
                    "" (scalar); not in the movies made before these keys were added
``channel_label``   str (channels,) label of the field each channel belongs to
``grid_class``, ``grid_dim``  str, int: the grid's class and space dimension
``video_format``    str, py-pde format name (key of pde.tools.ffmpeg.formats)
``file_pix_fmt``    str, pixel format that ffprobe reports for the file
``pypde_len``       int, ``len(storage)`` as reported by py-pde (may be wrong for .mkv,
                    see docs/pypde_format.md)
``comment_raw``     str, the raw comment tag as reported by ffprobe
``metadata_json``   str, the un-quoted JSON of the comment tag
``ffmpeg_write_cmd`` / ``ffmpeg_read_cmd``  str, argv (JSON list) of the ffmpeg calls
``pypde_version``, ``ffmpeg_version``, ``numpy_version``, ``matplotlib_version``: str

Everything is deterministic (fixed seeds); re-running reproduces the same data (the
container bytes may differ slightly between ffmpeg versions).
"""

from __future__ import annotations

import itertools
import json
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pde
from pde import (
    CartesianGrid,
    CylindricalSymGrid,
    FieldCollection,
    PolarSymGrid,
    ScalarField,
    SphericalSymGrid,
    Tensor2Field,
    VectorField,
)
from pde.storage import MovieStorage

OUT = Path(__file__).resolve().parent / "pypde"
#: names given on the command line: (re)make only these movies
ONLY = set(sys.argv[1:])

# --- record the ffmpeg command lines that py-pde (via ffmpeg-python) runs -----------
_CMDS: list[list[str]] = []
_Popen = subprocess.Popen


class _RecordingPopen(_Popen):  # type: ignore[misc,valid-type]
    def __init__(self, args, *a, **kw):
        if isinstance(args, (list, tuple)) and args and str(args[0]) == "ffmpeg":
            _CMDS.append([str(x) for x in args])
        super().__init__(args, *a, **kw)


subprocess.Popen = _RecordingPopen  # type: ignore[misc]


def _rel(arg: str) -> str:
    """Strip the local output directory from recorded command lines."""
    return arg.replace(str(OUT) + "/", "")


def _ffprobe(path: Path) -> dict:
    out = _Popen(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        stdout=subprocess.PIPE,
    ).communicate()[0]
    return json.loads(out)


def _ffmpeg_version() -> str:
    out = _Popen(["ffmpeg", "-version"], stdout=subprocess.PIPE).communicate()[0]
    return out.decode().splitlines()[0]


def _values(rng, shape, lo, hi):
    """Smooth + noisy values that overshoot [lo, hi] a bit (to exercise clipping) and
    hit lo and hi exactly at two points."""
    span = hi - lo
    grid = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    smooth = sum(np.sin(2.3 * (k + 1) * g + 0.7 * k) for k, g in enumerate(grid))
    smooth = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-12)
    v = lo + span * (-0.08 + 1.16 * (0.8 * smooth + 0.2 * rng.random(shape)))
    flat = v.reshape(-1)
    flat[0] = lo
    flat[-1] = hi
    return v


def make_movie(
    name: str,
    ext: str,
    make_fields,  # callable(frame_index) -> field
    times,
    *,
    vmin,
    vmax,
    bits_per_channel,
    write_times=False,
    info=None,
):
    if ONLY and name not in ONLY:
        return None
    path = OUT / f"{name}.{ext}"
    for p in (path, path.with_suffix(path.suffix + ".times")):
        if p.exists():
            p.unlink()

    # ----------------------------------------------------------------- write
    _CMDS.clear()
    storage = MovieStorage(
        path,
        vmin=vmin,
        vmax=vmax,
        bits_per_channel=bits_per_channel,
        write_times=write_times,
        info=dict(info or {}),
    )
    fields = [make_fields(i) for i in range(len(times))]
    storage.start_writing(fields[0])
    for f, t in zip(fields, times, strict=True):
        storage.append(f, t)
    storage.end_writing()
    write_cmd = _CMDS[0]

    # ------------------------------------------------------------------ read
    _CMDS.clear()
    reader = MovieStorage(path)
    pypde_len = len(reader)
    pypde_times = np.asarray(reader.times, dtype=float)
    it_fields = [f.copy() for f in reader]  # iterating works even if len() is wrong
    read_cmd = _CMDS[0]
    n = len(it_fields)
    assert n == len(times), (n, len(times))
    if len(pypde_times) == n:
        read_times = pypde_times
    else:  # py-pde's len() was wrong (.mkv DURATION rounding): same formula, n frames
        t0 = reader.info.get("t_start") or 0
        read_times = t0 + reader.info.get("dt", 1) * np.arange(n, dtype=float)

    first = fields[0]
    grid_shape = first.grid.shape
    channels = first._data_flat.shape[0]
    data = np.stack([f.data.reshape(channels, *grid_shape) for f in it_fields])
    inp = np.stack([f.data.reshape(channels, *grid_shape) for f in fields])
    if pypde_len == n:
        # cross check against MovieStorage.data (only works if len() is right)
        d2 = MovieStorage(path).data
        np.testing.assert_array_equal(d2.reshape(data.shape), data)

    # raw frames as py-pde reshapes them
    fmt = pde.tools.ffmpeg.formats[reader.info["video_format"]]
    raw = _Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            fmt.pix_fmt_data,
            "pipe:",
        ],
        stdout=subprocess.PIPE,
    ).communicate()[0]
    width, height = reader.info["width"], reader.info["height"]
    frames = np.frombuffer(raw, fmt.dtype).reshape(n, width, height, fmt.channels)

    # per-channel limits and channel -> field mapping
    sub = first.fields if isinstance(first, FieldCollection) else [first]
    vmin_f = np.broadcast_to(np.asarray(vmin, float), (len(sub),))
    vmax_f = np.broadcast_to(np.asarray(vmax, float), (len(sub),))
    ch_field, ch_vmin, ch_vmax, ch_axes, ch_label = [], [], [], [], []
    for k, f in enumerate(sub):
        num = f.grid.dim**f.rank
        ch_field += [k] * num
        ch_label += [f.label or ""] * num
        # py-pde's component order: grid.c.axes (VectorField.__getitem__), C order for tensors
        ch_axes += ["".join(c) for c in itertools.product(f.grid.c.axes, repeat=f.rank)]
        ch_vmin += [vmin_f[k]] * num
        ch_vmax += [vmax_f[k]] * num

    probe = _ffprobe(path)
    tags = probe["format"].get("tags", {})
    comment = tags.get("comment", tags.get("COMMENT"))
    metadata = shlex.split(comment)[0]
    json.loads(metadata)

    out = {
        "times": read_times,
        "pypde_times": pypde_times,
        "data": data,
        "frames": frames,
        "input": inp,
        "vmin": np.asarray(ch_vmin, float),
        "vmax": np.asarray(ch_vmax, float),
        "channel_field": np.asarray(ch_field, int),
        "channel_axes": np.asarray(ch_axes, dtype=np.str_),
        "channel_label": np.asarray(ch_label, dtype=np.str_),
        "grid_class": np.str_(type(first.grid).__name__),
        "grid_dim": np.int64(first.grid.dim),
        "video_format": np.str_(reader.info["video_format"]),
        "file_pix_fmt": np.str_(probe["streams"][0]["pix_fmt"]),
        "pypde_len": np.int64(pypde_len),
        "comment_raw": np.str_(comment),
        "metadata_json": np.str_(metadata),
        "ffmpeg_write_cmd": np.str_(json.dumps([_rel(a) for a in write_cmd])),
        "ffmpeg_read_cmd": np.str_(json.dumps([_rel(a) for a in read_cmd])),
        "pypde_version": np.str_(pde.__version__),
        "ffmpeg_version": np.str_(_ffmpeg_version()),
        "numpy_version": np.str_(np.__version__),
        "matplotlib_version": np.str_(matplotlib.__version__),
    }
    if isinstance(first, FieldCollection):
        for k in range(len(first)):
            out[f"field{k}"] = np.stack([f[k].data for f in it_fields])
    np.savez_compressed(OUT / f"{name}.expected.npz", **out)
    # sanity: decoded values are within one quantisation step of the clipped input
    sh = (1, -1) + (1,) * len(grid_shape)
    lo, hi = out["vmin"].reshape(sh), out["vmax"].reshape(sh)
    step = (hi - lo) / fmt.max_value
    assert np.all(np.abs(data - np.clip(inp, lo, hi)) <= step * (1 + 1e-9))
    print(
        f"{path.name:32s} {reader.info['video_format']:9s} file={out['file_pix_fmt']:9s}"
        f" frames={n} len()={pypde_len} data={data.shape} size={path.stat().st_size}B"
    )
    return out


def _vector(rng, grid, lo, hi):
    """Values of a vector field: one component per space dimension (grid.dim)."""
    return np.stack([_values(rng, grid.shape, lo, hi) for _ in range(grid.dim)])


def _tensor(rng, grid, lo, hi):
    """Values of a rank-2 tensor field: grid.dim x grid.dim components."""
    d = grid.dim
    flat = [_values(rng, grid.shape, lo, hi) for _ in range(d * d)]
    return np.stack(flat).reshape(d, d, *grid.shape)


def make_space_dim_movies():
    """Vector and tensor fields whose component count is grid.dim, not grid.num_axes.

    Polar and spherical grids have one axis but 2 and 3 space dimensions, cylindrical
    grids two axes (r, z) but 3 dimensions; 1D Cartesian grids are the control (dim equal
    to the number of axes). A tensor on a 3D grid needs 9 channels, more than py-pde's 4,
    so py-pde cannot write one (checked below).
    """
    polar = PolarSymGrid(2.0, 5)
    spherical = SphericalSymGrid((0.5, 2.0), 4)
    cylindrical = CylindricalSymGrid(2.0, (0.0, 1.0), (4, 3))
    line = CartesianGrid([[0, 1]], [6])
    rng = np.random.default_rng(20)

    def vector(grid, label, n, lo, hi):
        vals = [_vector(rng, grid, lo, hi) for _ in range(n)]
        return lambda i: VectorField(grid, vals[i], label=label)

    def tensor(grid, label, n, lo, hi):
        vals = [_tensor(rng, grid, lo, hi) for _ in range(n)]
        return lambda i: Tensor2Field(grid, vals[i], label=label)

    def vector_scalar(grid, n, lims):
        vals = [
            (_vector(rng, grid, *lims[0]), _values(rng, grid.shape, *lims[1])) for _ in range(n)
        ]
        return lambda i: FieldCollection(
            [VectorField(grid, vals[i][0], label="v"), ScalarField(grid, vals[i][1], label="c")]
        )

    lims = [(-1.0, 1.0), (0.0, 4.0)]  # of the vector and the scalar of a collection
    lo2, hi2 = [lo for lo, _ in lims], [hi for _, hi in lims]
    for name, make, bits, lo, hi in [
        ("polar_vector_16bit", vector(polar, "v", 3, -2.0, 2.0), 16, -2.0, 2.0),
        ("polar_tensor_8bit", tensor(polar, "T", 3, -1.0, 1.0), 8, -1.0, 1.0),
        ("polar_vector_scalar_16bit", vector_scalar(polar, 3, lims), 16, lo2, hi2),
        ("spherical_vector_8bit", vector(spherical, "u", 3, 0.0, 3.0), 8, 0.0, 3.0),
        ("spherical_vector_scalar_16bit", vector_scalar(spherical, 3, lims), 16, lo2, hi2),
        ("cylindrical_vector_16bit", vector(cylindrical, "v", 3, -1.0, 1.0), 16, -1.0, 1.0),
        ("cylindrical_vector_scalar_8bit", vector_scalar(cylindrical, 3, lims), 8, lo2, hi2),
        ("cartesian1d_vector_scalar_8bit", vector_scalar(line, 3, lims), 8, lo2, hi2),
        ("cartesian1d_tensor_16bit", tensor(line, "T", 3, -1.0, 1.0), 16, -1.0, 1.0),
    ]:
        make_movie(name, "mkv", make, [0, 1, 2], vmin=lo, vmax=hi, bits_per_channel=bits)

    # py-pde refuses a tensor on a 3D grid (9 channels) before writing anything
    for grid in (spherical, cylindrical):
        path = OUT / "_refused.mkv"
        try:
            storage = MovieStorage(path)
            storage.start_writing(Tensor2Field(grid, _tensor(rng, grid, 0, 1)))
        except RuntimeError as exc:
            print(f"py-pde refuses a tensor on {type(grid).__name__}: {exc}")
        else:
            raise AssertionError(f"py-pde wrote a tensor on {type(grid).__name__}")
        finally:
            path.unlink(missing_ok=True)


def main():
    OUT.mkdir(parents=True, exist_ok=True)

    # (a) 2D scalar, 8 bit (gray), non-square 12x8 grid, 4 frames, .mkv
    #     times from t_start/dt stored in info (no .times file)
    g_a = CartesianGrid([[0, 3], [0, 2]], [12, 8])
    rng = np.random.default_rng(1)
    vals = [_values(rng, (12, 8), -1.0, 2.0) for _ in range(4)]
    make_movie(
        "scalar2d_8bit",
        "mkv",
        lambda i: ScalarField(g_a, vals[i], label="c"),
        [1.0, 1.5, 2.0, 2.5],
        vmin=-1.0,
        vmax=2.0,
        bits_per_channel=8,
        info={"t_start": 1.0, "dt": 0.5},
    )

    # (b) 2D scalar, 16 bit (gray16le), 10x6, 5 frames, .avi (lower-case `comment`
    #     tag), write_times=True (-> .times sidecar with irregular times), a label
    #     with ' and " plus extra info to exercise the shell quoting of the comment
    g_b = CartesianGrid([[0, 1], [0, 1]], [10, 6], periodic=[True, False])
    rng = np.random.default_rng(2)
    vals_b = [_values(rng, (10, 6), 0.0, 5.0) for _ in range(5)]
    make_movie(
        "scalar2d_16bit",
        "avi",
        lambda i: ScalarField(g_b, vals_b[i], label='Bob\'s "field"'),
        [0.0, 0.1, 0.25, 0.7, 1.3],
        vmin=0.0,
        vmax=5.0,
        bits_per_channel=16,
        write_times=True,
        info={"note": "it's a test; a $HOME `x` \\ backslash"},
    )

    # (c) FieldCollection of 3 scalars, 8 bit -> video_format rgb24 (file: bgr0),
    #     per-field vmin/vmax, 9x7 grid, 4 frames
    g_c = CartesianGrid([[0, 9], [0, 7]], [9, 7])
    rng = np.random.default_rng(3)
    lims_c = [(0.0, 1.0), (-2.0, 2.0), (10.0, 20.0)]
    vals_c = [[_values(rng, (9, 7), lo, hi) for lo, hi in lims_c] for _ in range(4)]
    make_movie(
        "collection3_8bit",
        "mkv",
        lambda i: FieldCollection(
            [ScalarField(g_c, vals_c[i][k], label=f"f{k}") for k in range(3)]
        ),
        [0, 1, 2, 3],
        vmin=[lo for lo, _ in lims_c],
        vmax=[hi for _, hi in lims_c],
        bits_per_channel=8,
    )

    # (c2) FieldCollection of 2 scalars, 8 bit -> rgb24 with one unused channel
    rng = np.random.default_rng(4)
    vals_c2 = [[_values(rng, (9, 7), 0.0, 1.0), _values(rng, (9, 7), -1, 1)] for _ in range(3)]
    make_movie(
        "collection2_8bit",
        "avi",
        lambda i: FieldCollection(
            [ScalarField(g_c, vals_c2[i][k], label=f"g{k}") for k in range(2)]
        ),
        [0, 1, 2],
        vmin=[0.0, -1.0],
        vmax=[1.0, 1.0],
        bits_per_channel=8,
    )

    # (d) FieldCollection scalar + vector, 16 bit -> 3 channels, gbrp16le, 11x5
    g_d = CartesianGrid([[0, 1], [0, 1]], [11, 5])
    rng = np.random.default_rng(5)
    vals_d = [
        (
            _values(rng, (11, 5), 0.0, 1.0),
            np.stack([_values(rng, (11, 5), -3.0, 3.0) for _ in range(2)]),
        )
        for _ in range(4)
    ]
    make_movie(
        "scalar_vector_16bit",
        "mkv",
        lambda i: FieldCollection(
            [ScalarField(g_d, vals_d[i][0], label="s"), VectorField(g_d, vals_d[i][1], label="v")]
        ),
        [0, 1, 2, 3],
        vmin=[0.0, -3.0],
        vmax=[1.0, 3.0],
        bits_per_channel=16,
    )

    # (d2) FieldCollection of two vector fields, 16 bit -> 4 channels, gbrap16le
    rng = np.random.default_rng(6)
    vals_d2 = [
        [np.stack([_values(rng, (11, 5), -1.0, 1.0) for _ in range(2)]) for _ in range(2)]
        for _ in range(3)
    ]
    make_movie(
        "vectors2_16bit",
        "mkv",
        lambda i: FieldCollection(
            [VectorField(g_d, vals_d2[i][k], label=f"v{k}") for k in range(2)]
        ),
        [0, 1, 2],
        vmin=[-1.0, -0.5],
        vmax=[1.0, 0.5],
        bits_per_channel=16,
    )

    # (f) single Tensor2Field, 8 bit -> 4 channels, rgb32 (file: bgra)
    g_f = CartesianGrid([[0, 1], [0, 1]], [6, 4])
    rng = np.random.default_rng(7)
    vals_f = [
        np.stack([_values(rng, (6, 4), -1.0, 1.0) for _ in range(4)]).reshape(2, 2, 6, 4)
        for _ in range(3)
    ]
    make_movie(
        "tensor2d_8bit",
        "mkv",
        lambda i: Tensor2Field(g_f, vals_f[i]),
        [0, 1, 2],
        vmin=-1.0,
        vmax=1.0,
        bits_per_channel=8,
    )

    # (e) 1D scalar field, 8 bit (gray), 16 points, 4 frames -> frames are 16x1
    g_e = CartesianGrid([[0, 1]], [16])
    rng = np.random.default_rng(8)
    vals_e = [_values(rng, (16,), 0.0, 1.0) for _ in range(4)]
    make_movie(
        "scalar1d_8bit",
        "mkv",
        lambda i: ScalarField(g_e, vals_e[i]),
        [0, 1, 2, 3],
        vmin=0.0,
        vmax=1.0,
        bits_per_channel=8,
    )

    # (e2) 1D FieldCollection of 2 scalars, 16 bit (gbrp16le), .mov container
    rng = np.random.default_rng(9)
    vals_e2 = [[_values(rng, (16,), 0.0, 1.0) for _ in range(2)] for _ in range(3)]
    make_movie(
        "collection1d_16bit",
        "mov",
        lambda i: FieldCollection([ScalarField(g_e, v) for v in vals_e2[i]]),
        [0, 1, 2],
        vmin=0.0,
        vmax=1.0,
        bits_per_channel=16,
    )

    # (g) 29 frames in .mkv: py-pde's len() derives 28 from DURATION*fps (truncation
    #     bug) and MovieStorage.data raises IndexError; iterating yields 29 frames.
    g_g = CartesianGrid([[0, 1], [0, 1]], [6, 4])
    rng = np.random.default_rng(10)
    vals_g = [_values(rng, (6, 4), 0.0, 1.0) for _ in range(29)]
    make_movie(
        "frames29_8bit",
        "mkv",
        lambda i: ScalarField(g_g, vals_g[i]),
        list(range(29)),
        vmin=0.0,
        vmax=1.0,
        bits_per_channel=8,
    )

    make_space_dim_movies()

    if ONLY:
        return
    (OUT / "README.md").write_text(
        "# py-pde reference movies\n\n"
        "Written by `tests/data/make_pypde_movies.py` with py-pde "
        f"{pde.__version__} (ffmpeg-python, numpy {np.__version__}, matplotlib "
        f"{matplotlib.__version__}) and `{_ffmpeg_version()}`.\n"
        "Each `<name>.<ext>` movie has a `<name>.expected.npz` holding what py-pde's "
        "`MovieStorage` returns when reading it (keys documented in the script's "
        "docstring). The format is described in `docs/pypde_format.md`.\n"
    )


if __name__ == "__main__":
    main()

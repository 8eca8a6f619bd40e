"""fieldmovie: lossless FFV1 movies of PDE fields and Snakemake sweeps that write them.

The public contract::

    from fieldmovie import MovieWriter, MovieReader, concat_movies, validate_movie
    from fieldmovie import open_sweep      # a whole sweep as one lazy xarray Dataset
"""

from ._dataset_api import __getattr__  # noqa: F401 - open_sweep & co., imported on first use
from ._version import __version__
from .movie import (
    ClippingWarning,
    FFmpegError,
    MovieFormatError,
    MovieReader,
    MovieWriter,
    SegmentMismatchError,
    ValidationReport,
    concat_movies,
    open_movie,
    validate_movie,
)

__all__ = [
    "ClippingWarning",
    "FFmpegError",
    "MovieFormatError",
    "MovieReader",
    "MovieWriter",
    "SegmentMismatchError",
    "ValidationReport",
    "__version__",
    "concat_movies",
    "export_sweep",
    "open_sweep",
    "open_sweep_observables",
    "open_movie",
    "validate_movie",
]

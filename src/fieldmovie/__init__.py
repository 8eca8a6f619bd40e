"""fieldmovie: lossless FFV1 movies of PDE fields and Snakemake sweeps that write them.

The public contract::

    from fieldmovie import MovieWriter, MovieReader, concat_movies, validate_movie
"""

__version__ = "0.1.0"

from ._ffmpeg import FFmpegError
from .concat import SegmentMismatchError, concat_movies
from .metadata import MovieFormatError
from .movie import ClippingWarning, MovieReader, MovieWriter, open_movie
from .validate import ValidationReport, validate_movie

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
    "open_movie",
    "validate_movie",
]

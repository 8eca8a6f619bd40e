"""The movie format and its I/O: quantization, metadata, writer, reader, concat, validation."""

from ._ffmpeg import FFmpegError
from .concat import SegmentMismatchError, concat_movies
from .metadata import MovieFormatError, MovieMeta
from .reader import MovieReader, open_movie
from .validate import ValidationError, ValidationReport, check_movie, open_validated, validate_movie
from .writer import ClippingWarning, MovieWriter

__all__ = [
    "ClippingWarning",
    "FFmpegError",
    "MovieFormatError",
    "MovieMeta",
    "MovieReader",
    "MovieWriter",
    "SegmentMismatchError",
    "ValidationError",
    "ValidationReport",
    "check_movie",
    "concat_movies",
    "open_movie",
    "open_validated",
    "validate_movie",
]

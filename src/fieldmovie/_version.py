"""The package version (one place; read by the provenance written into movies)."""

__version__ = "0.1.0"

"""The package version (one place; read by the provenance written into movies)."""

__version__ = "0.2.0"

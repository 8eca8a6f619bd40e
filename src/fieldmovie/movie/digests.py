"""Digests that bind a movie's frames, its ``.times`` sidecar and its metadata together.

All digests are BLAKE2b (``hashlib.blake2b``), written as lowercase hex:

* a **frame digest** (8 bytes) of the stored picture's pixel bytes, exactly as they are
  piped to and decoded from FFmpeg (``rawvideo`` in the movie's pixel format, padded
  rows/columns included);
* the **times digest** (16 bytes) of the ``.times`` sidecar file's bytes;
* the **metadata digest** (16 bytes) of the metadata JSON object without its ``"digest"``
  key, in canonical form: ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=True, allow_nan=False)`` encoded as UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FRAME_DIGEST_BYTES",
    "frame_digest",
    "is_digest",
    "metadata_digest",
    "times_digest",
]

#: size of one frame digest in bytes (16 hex characters per ``.times`` line)
FRAME_DIGEST_BYTES = 8
#: size of the times and metadata digests in bytes
FILE_DIGEST_BYTES = 16


def frame_digest(pixels: bytes | bytearray | memoryview) -> str:
    """Digest of one stored picture's pixel bytes."""
    return hashlib.blake2b(pixels, digest_size=FRAME_DIGEST_BYTES).hexdigest()


def times_digest(sidecar: bytes) -> str:
    """Digest of the bytes of a ``.times`` sidecar file."""
    return hashlib.blake2b(sidecar, digest_size=FILE_DIGEST_BYTES).hexdigest()


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """The canonical serialization that :func:`metadata_digest` hashes."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("utf-8")


def metadata_digest(obj: Mapping[str, Any]) -> str:
    """Digest of a metadata object, ignoring its ``"digest"`` key."""
    body = {k: v for k, v in obj.items() if k != "digest"}
    return hashlib.blake2b(canonical_json(body), digest_size=FILE_DIGEST_BYTES).hexdigest()


def is_digest(text: object, nbytes: int) -> bool:
    """True when ``text`` is a lowercase hex digest of ``nbytes`` bytes."""
    return (
        isinstance(text, str)
        and len(text) == 2 * nbytes
        and all(ch in "0123456789abcdef" for ch in text)
    )

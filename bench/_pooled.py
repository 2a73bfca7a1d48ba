"""Apps for ``bench/pools.py``: a 10 MB body each way, and three faults (crash, burn, leak)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

MIB = 2**20
BLOB_MIB = 10
BURN_SECONDS = 3.0
KEPT: list[bytearray] = []


def blob(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST: the SHA-256 of the body, read in pieces. GET: 10 MiB, 64 KiB at a time."""
    if environ["REQUEST_METHOD"] == "POST":
        digest, read = hashlib.sha256(), environ["wsgi.input"].read
        while piece := read(65536):
            digest.update(piece)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [digest.hexdigest().encode()]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return _pieces()


def _pieces() -> Iterator[bytes]:
    piece = b"x" * 65536
    for _ in range(BLOB_MIB * 16):
        yield piece


def crash(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    os._exit(7)


def burn(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    end = time.monotonic() + BURN_SECONDS
    while time.monotonic() < end:
        pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"burnt"]


def leak(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    KEPT.append(bytearray(30 * MIB))  # kept: RSS grows 30 MiB with every request
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"leaked"]

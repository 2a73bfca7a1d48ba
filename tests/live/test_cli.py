"""The CLI where it starts a process: ``python -m apphost``, and ``serve`` spawning its worker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from ..distributions import Dists, unique

Run = Callable[..., tuple[int, str]]


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "apphost", "--version"], capture_output=True, text=True, check=True
    )
    assert "0.1.0" in out.stdout


def test_serve_strict_refuses_listing_all(run_cli: Run, dists: Dists) -> None:
    m1, m2 = unique("a"), unique("b")
    dists.add("a-dist", apps={"a": f"{m1}:app"}, modules={m1: "raise ImportError('a broke')"})
    dists.add(
        "b-dist",
        plugins={"b": m2},
        modules={m2: "def apphost_claim_routes():\n    raise ValueError('b broke')\n"},
    )
    # The serving worker is a fresh interpreter: it finds the plugins through PYTHONPATH.
    code, out = run_cli(
        "serve", "--strict", "--listen", "127.0.0.1:0", env={"PYTHONPATH": str(dists.root)}
    )
    assert code == 1
    assert "refusing to start (--strict)" in out and "a broke" in out and "b broke" in out

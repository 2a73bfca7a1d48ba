"""The unit tests: in one process, no server subprocess, nothing waiting on real sockets.

A unit test that starts a subprocess fails at once: it belongs in tests/live/.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a unit test started a subprocess {args[:1]}: move it to tests/live/")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)

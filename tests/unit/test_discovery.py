"""Discovery: what installed metadata the host finds (the rest is in test_host.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from apphost import ProblemKind
from apphost.config import Config
from apphost.host import Host

from ..distributions import Dists, unique

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [])
    return [b"hello"]
"""


def test_same_distribution_twice_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = unique("twice")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for i, version in enumerate(["1.0", "2.0"]):
        root = tmp_path / f"site{i}"
        Dists(root).add(
            "twice-dist", version=version, apps={"twice": f"{mod}:app"}, modules={mod: HELLO}
        )
        sys.path.append(str(root))
    monkeypatch.setenv("APPHOST_LOAD_PLUGINS", "twice-dist")
    host = Host.build(Config())
    assert list(host.apps) == ["twice"]
    assert host.apps["twice"].info.version == "1.0"
    (problem,) = host.problems
    assert (problem.kind, problem.subject, problem.plugin, problem.distribution) == (
        ProblemKind.DISTRIBUTION,
        "twice-dist",
        None,
        "twice-dist==1.0",  # the one used
    )
    assert "twice-dist is installed twice on sys.path (1.0 and 2.0); using 1.0" in str(problem)

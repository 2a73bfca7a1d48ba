"""Discovery: what installed metadata the host finds (the rest is in test_host.py)."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import pytest
from apphost import ProblemKind
from apphost.config import Config
from apphost.host import Host
from apphost.plugins.discovery import misfit
from apphost.web.pages import render_html
from apphost.web.report import plugin_rows, route_rows

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


@pytest.mark.parametrize(
    ("requires", "running", "why"),
    [
        (["apphost<0.1"], "0.1.0", "requires apphost<0.1 but this is apphost 0.1.0"),
        (["apphost (<0.1)"], "0.1.0", "requires apphost<0.1 but this is apphost 0.1.0"),
        (["Apphost>=0.2,<0.3"], "0.1.0", "requires Apphost<0.3,>=0.2 but this is apphost 0.1.0"),
        (["apphost>=0.1,<0.2"], "0.1.0", None),
        (["apphost"], "0.1.0", None),
        (["apphost>=0.1"], "0.2.0.dev1", None),  # a pre-release of the running apphost fits
        (['apphost<0.1; extra == "legacy"'], "0.1.0", None),  # an extra nobody requested
        (['apphost<0.1; python_version < "3"'], "0.1.0", None),
        (
            ['apphost<0.1; python_version >= "3"'],
            "0.1.0",
            'requires apphost<0.1; python_version >= "3" but this is apphost 0.1.0',
        ),
        (["apphost-hello<0.1", "apphostx<0.1"], "0.1.0", None),  # other distributions
        (["apphost>=0.1", "apphost!=0.1.0"], "0.1.0", "requires apphost!=0.1.0 but"),
        (["apphost <<< nonsense"], "0.1.0", None),  # pip would not have installed it
    ],
)
def test_misfit(requires: list[str], running: str, why: str | None) -> None:
    got = misfit(requires, running)
    if why is None:
        assert got is None
    else:
        assert got is not None and got.startswith(why)


def test_distribution_for_another_apphost_is_reported_and_not_loaded(dists: Dists) -> None:
    old, new, extra = unique("old"), unique("new"), unique("extra")
    dists.add(
        "old-dist",
        version="1.0",
        apps={"old": f"{old}:app"},
        plugins={"old-hooks": old},
        modules={old: "raise RuntimeError('must not be imported')"},
        requires=["werkzeug>=3", "apphost<0.1"],
    )
    dists.add(
        "new-dist",
        apps={"new": f"{new}:app"},
        modules={new: HELLO},
        requires=["apphost>=0.1,<1"],
    )
    dists.add(
        "extra-dist",
        apps={"extra": f"{extra}:app"},
        modules={extra: HELLO},
        requires=['apphost<0.1; extra == "legacy"'],
    )
    host = dists.host()
    host.load_all()
    assert sorted(host.apps) == ["extra", "new"]
    assert "old-hooks" not in host.plugins
    assert old not in sys.modules
    (problem,) = host.all_problems()
    assert (problem.kind, problem.subject, problem.plugin, problem.distribution) == (
        ProblemKind.DISTRIBUTION,
        "old-dist",
        None,
        "old-dist==1.0",
    )
    assert str(problem) == (
        "distribution old-dist==1.0 requires apphost<0.1 but this is apphost 0.1.0;"
        " its apps and plugins are not loaded (app 'old', plugin 'old-hooks'):"
        " install a release of old-dist made for apphost 0.1.0"
    )
    rows = {(r["kind"], r["name"]): r for r in plugin_rows(host)}
    for key in (("app", "old"), ("plugin", "old-hooks")):
        assert rows[key]["distribution"] == "old-dist==1.0"
        assert rows[key]["status"] == "not loaded: requires apphost<0.1 but this is apphost 0.1.0"
    assert "/old" not in {r["path"] for r in route_rows(host)}
    assert html.escape(str(problem)) in render_html(host)


def test_installed_distribution_for_another_apphost(
    dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan of installed metadata (not injected entry points) checks it too."""
    mod = unique("old")
    dists.add("old-dist", apps={"old": f"{mod}:app"}, modules={mod: HELLO}, requires=["apphost>9"])
    monkeypatch.setenv("APPHOST_LOAD_PLUGINS", "old-dist")
    host = Host.build(Config())
    assert not host.apps
    (problem,) = host.problems
    assert str(problem).startswith("distribution old-dist==1.0 requires apphost>9 but")
    # A disabled distribution is left out without a word.
    host = Host.build(Config(), disable=["old-dist"])
    assert not host.problems and not host.left_out

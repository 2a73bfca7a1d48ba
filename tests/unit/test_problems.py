"""``host.problems`` are ``apphost.Problem`` records: kind, subject, plugin and distribution.

Each fault is set up beside a healthy neighbour from another distribution,
so a field naming the wrong plugin or distribution fails; the message is
checked elsewhere (test_host.py), the fields here. (A distribution installed twice:
test_discovery.py.)
"""

from __future__ import annotations

import pytest
from apphost import Claim, Problem, ProblemKind
from apphost.config import parse_config
from apphost.host import Host

from ..distributions import Dists, unique

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [])
    return [b"hello"]
"""


def claims_plugin(claims: str) -> str:
    return f"from apphost import Claim\ndef apphost_claim_routes():\n    return [{claims}]\n"


@pytest.fixture
def neighbour(dists: Dists) -> Dists:
    """good-dist 2.0: app 'good' and plugin 'good', which claims /good."""
    app, hooks = unique("good"), unique("goodhooks")
    dists.add(
        "good-dist",
        version="2.0",
        apps={"good": f"{app}:app"},
        plugins={"good": hooks},
        modules={app: HELLO, hooks: claims_plugin("Claim(app='good', path='/good')")},
    )
    return dists


def only(host: Host, kind: ProblemKind) -> Problem:
    """The one problem of ``kind`` (and every problem is a Problem)."""
    assert all(isinstance(p, Problem) for p in host.all_problems()), host.all_problems()
    (problem,) = [p for p in host.all_problems() if p.kind is kind]
    return problem


def test_a_plugin_that_fails_to_import(neighbour: Dists) -> None:
    mod = unique("broken")
    neighbour.add("broken-dist", version="0.3", plugins={"broken": mod}, modules={mod: "1/0"})
    problem = only(neighbour.host(), ProblemKind.PLUGIN)
    assert (problem.subject, problem.plugin, problem.distribution) == (
        "broken",
        "broken",
        "broken-dist==0.3",
    )
    assert "ZeroDivisionError" in problem.message and str(problem) == problem.message


def test_a_plugin_whose_claim_hook_raises(neighbour: Dists) -> None:
    mod = unique("raiser")
    source = "def apphost_claim_routes():\n    raise KeyError('x')\n"
    neighbour.add("raiser-dist", plugins={"raiser": mod}, modules={mod: source})
    problem = only(neighbour.host(), ProblemKind.PLUGIN)
    assert (problem.subject, problem.plugin, problem.distribution) == (
        "raiser",
        "raiser",
        "raiser-dist==1.0",
    )


def test_an_invalid_claim_names_the_plugin_that_made_it(neighbour: Dists) -> None:
    mod = unique("claimer")
    source = claims_plugin("Claim(app='good', path='no-slash'), Claim(app='good', path='/ok')")
    neighbour.add("claimer-dist", version="1.5", plugins={"claimer": mod}, modules={mod: source})
    problem = only(neighbour.host(), ProblemKind.CLAIM)
    assert (problem.subject, problem.plugin, problem.distribution) == (
        "plugin 'claimer' (claimer-dist==1.5)",
        "claimer",
        "claimer-dist==1.5",
    )
    assert "no-slash" in problem.message


def test_an_invalid_operator_claim_names_no_plugin(neighbour: Dists) -> None:
    config = parse_config({"claims": [{"app": "nope", "path": "/n"}]}, source="ops.toml")
    problem = only(neighbour.host(config), ProblemKind.CLAIM)
    assert (problem.subject, problem.plugin, problem.distribution) == (
        "config [[claims]] #1 (ops.toml)",
        None,
        None,
    )


def test_a_conflict_is_about_its_route_and_blames_neither_claimant(neighbour: Dists) -> None:
    """Equal claims on one route: both claimants are in the message, neither is "the" plugin."""
    mod = unique("rival")
    source = claims_plugin("Claim(app='good', path='/good')")
    neighbour.add("rival-dist", plugins={"rival": mod}, modules={mod: source})
    problem = only(neighbour.host(), ProblemKind.CONFLICT)
    assert (problem.subject, problem.plugin, problem.distribution) == ("/good", None, None)
    assert "plugin 'good' (good-dist==2.0)" in problem.message
    assert "plugin 'rival' (rival-dist==1.0)" in problem.message


def test_an_app_that_fails_to_load(neighbour: Dists) -> None:
    mod = unique("gone")
    neighbour.add("gone-dist", version="4.0", apps={"gone": f"{mod}:app"}, modules={mod: "1/0"})
    host = neighbour.host()
    host.load_all()
    problem = only(host, ProblemKind.APP)
    assert (problem.subject, problem.plugin, problem.distribution) == (
        "gone",
        None,
        "gone-dist==4.0",
    )


def test_config_for_an_app_that_is_not_installed(neighbour: Dists) -> None:
    problem = only(neighbour.host(parse_config({"apps": {"nosuch": {}}})), ProblemKind.CONFIG)
    assert (problem.subject, problem.plugin, problem.distribution) == ("apps.nosuch", None, None)


def test_the_neighbour_alone_has_no_problem(neighbour: Dists) -> None:
    host = neighbour.host()
    host.load_all()
    assert host.all_problems() == []
    assert [Claim(app="good", path="/good")] == [r.claim for r in host.routes]

"""Faults a plugin can cause, each met through a real (throwaway) distribution.

A plugin can only break itself: every test checks the named problem *and*
that a healthy neighbour still serves.
"""

from __future__ import annotations

import logging

import pytest
from apphost import Claim, StrictError
from apphost.config import Config, parse_config
from apphost.host import Host
from werkzeug.test import Client

from ..distributions import Dists, unique

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ["SCRIPT_NAME"].encode() + b"|" + environ["PATH_INFO"].encode()]
"""


def healthy(dists: Dists) -> str:
    """A working neighbour plugin: app 'good' at /good."""
    mod = unique("good")
    dists.add("good-dist", apps={"good": f"{mod}:app"}, modules={mod: HELLO})
    return mod


def get(host: Host, path: str, **kw: object) -> tuple[int, str]:
    resp = Client(host.dispatcher).get(path, **kw)  # type: ignore[arg-type]
    return resp.status_code, resp.get_data(as_text=True)


def assert_good_serves(host: Host) -> None:
    assert get(host, "/good/x") == (200, "hello /good|/x")


# 1. a plugin whose import raises ------------------------------------------------


def test_app_import_error_is_named_and_isolated(
    dists: Dists, caplog: pytest.LogCaptureFixture
) -> None:
    healthy(dists)
    mod = unique("broken")
    dists.add(
        "broken-dist",
        version="2.3",
        apps={"broken": f"{mod}:app"},
        modules={mod: "raise RuntimeError('boom at import')"},
    )
    host = dists.host()
    assert get(host, "/broken/")[0] == 503
    info = host.apps["broken"].info
    assert (
        info.state
        == f"failed: PluginError: app 'broken' (broken-dist==2.3), entry point 'broken = {mod}:app': import failed: RuntimeError: boom at import"
    )
    assert any(
        "broken-dist==2.3" in r.getMessage() and "boom at import" in r.getMessage()
        for r in caplog.records
    )
    assert_good_serves(host)


def test_plugin_import_error_leaves_other_plugins(dists: Dists) -> None:
    healthy(dists)
    bad, ok = unique("badhooks"), unique("okhooks")
    dists.add("bad-hooks", plugins={"bad": bad}, modules={bad: "import no_such_module_xyz"})
    dists.add(
        "ok-hooks",
        plugins={"ok": ok},
        modules={
            ok: "from apphost import Claim\ndef apphost_claim_routes():\n    return Claim(app='good', path='/g2')\n"
        },
    )
    host = dists.host()
    assert host.plugins["bad"].state.startswith("failed: ModuleNotFoundError")
    assert any(
        "plugin 'bad' (bad-hooks==1.0)" in p and "no_such_module_xyz" in p
        for p in map(str, host.problems)
    )
    assert get(host, "/g2/y") == (200, "hello /g2|/y")


# 2. malformed entry points ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source", "expected"),
    [
        ("{mod}:missing", "x = 1", "import failed: AttributeError"),
        ("{mod}", "x = 1", "names a module, not a WSGI app"),
        ("{mod}:x", "x = 1", "1 is not callable"),
        ("{mod}:x", "x = 'text'", "'text' is not callable"),
        ("not a valid value!", "", "import failed"),
    ],
)
def test_malformed_app_entry_point(dists: Dists, value: str, source: str, expected: str) -> None:
    healthy(dists)
    mod = unique("malformed")
    dists.add("mal-dist", apps={"mal": value.format(mod=mod)}, modules={mod: source})
    host = dists.host()
    assert get(host, "/mal")[0] == 503
    status = host.apps["mal"].info.state
    assert "entry point 'mal = " in status and expected in status
    assert_good_serves(host)


# 3. factories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("raise TypeError('bad title type')", "TypeError: bad title type"),
        ("return None", "the factory returned None, not a WSGI app"),
        ("return 42", "the factory returned 42, not a WSGI app"),
    ],
)
def test_bad_factory(dists: Dists, body: str, expected: str) -> None:
    healthy(dists)
    mod = unique("fact")
    source = f"from apphost import app_factory\n@app_factory\ndef make(config):\n    {body}\n"
    dists.add("fact-dist", apps={"fact": f"{mod}:make"}, modules={mod: source})
    host = dists.host()
    assert get(host, "/fact")[0] == 503
    assert expected in host.apps["fact"].info.state
    assert "signature" not in host.apps["fact"].info.state
    assert_good_serves(host)


def test_factory_gets_its_config_table(dists: Dists) -> None:
    mod = unique("cfg")
    source = """
from apphost import app_factory
@app_factory
def make(config):
    title = config.get("title", "none").encode()
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [title]
    return app
"""
    dists.add("cfg-dist", apps={"cfg": f"{mod}:make"}, modules={mod: source})
    host = dists.host(parse_config({"apps": {"cfg": {"title": "My blog"}}}))
    assert get(host, "/cfg") == (200, "My blog")


def test_config_for_unknown_app_is_a_problem(dists: Dists) -> None:
    healthy(dists)
    host = dists.host(parse_config({"apps": {"nosuch": {}}}))
    assert "config [apps.nosuch]: no installed app is named 'nosuch'" in map(str, host.problems)


# 4. two distributions, one app name -----------------------------------------------


def test_duplicate_app_name_names_both(dists: Dists) -> None:
    healthy(dists)
    m1, m2 = unique("dup"), unique("dup")
    dists.add("first-dist", version="1.0", apps={"dup": f"{m1}:app"}, modules={m1: HELLO})
    dists.add("second-dist", version="2.0", apps={"dup": f"{m2}:app"}, modules={m2: HELLO})
    host = dists.host()
    assert get(host, "/dup")[0] == 503
    status = host.apps["dup"].info.state
    assert "first-dist==1.0" in status and "second-dist==2.0" in status
    assert_good_serves(host)


def test_disabling_one_duplicate_settles_it(dists: Dists, monkeypatch: pytest.MonkeyPatch) -> None:
    m1, m2 = unique("dup"), unique("dup")
    dists.add("first-dist", apps={"dup": f"{m1}:app"}, modules={m1: HELLO})
    dists.add("second-dist", apps={"dup": f"{m2}:app"}, modules={m2: HELLO})
    monkeypatch.setenv("APPHOST_DISABLE_PLUGINS", "second-dist")
    assert get(dists.host(), "/dup") == (200, "hello /dup|")


# 5. hookimpls pluggy would half-register ----------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def apphost_claim_routes(apphost, extra):\n    return None\n", "extra"),
        ("async def apphost_claim_routes(apphost):\n    return None\n", "is async"),
        (
            "def apphost_claim_route(apphost):\n    return None\n",
            "did you mean 'apphost_claim_routes'",
        ),
        (
            "from apphost import hookimpl\n@hookimpl(wrapper=True)\ndef apphost_claim_routes(apphost):\n    return (yield)\n",
            "hook wrapper",
        ),
    ],
)
def test_invalid_hookimpl_rejects_whole_plugin(dists: Dists, source: str, expected: str) -> None:
    healthy(dists)
    mod = unique("invalid")
    # The plugin also has a valid claim: it must not apply, since the plugin is rejected.
    good_claim = "from apphost import Claim\ndef apphost_startup():\n    pass\n"
    dists.add("invalid-dist", plugins={"inv": mod}, modules={mod: good_claim + source})
    host = dists.host()
    assert host.plugins["inv"].state.startswith("failed:")
    assert expected in host.plugins["inv"].state
    assert not host.pm.has_plugin("inv")
    assert host.pm.hook.apphost_startup.get_hookimpls() == []
    assert_good_serves(host)


# 6. and 7. claims ---------------------------------------------------------------


def test_raising_claim_hook_drops_only_its_claims(dists: Dists) -> None:
    healthy(dists)
    mod = unique("raiser")
    dists.add(
        "raiser-dist",
        plugins={"raiser": mod},
        modules={mod: "def apphost_claim_routes():\n    raise KeyError('x')\n"},
    )
    host = dists.host()
    assert any(
        "plugin 'raiser' (raiser-dist==1.0): apphost_claim_routes raised KeyError" in p
        for p in map(str, host.problems)
    )
    assert_good_serves(host)


def test_bad_claim_is_named_and_others_stand(dists: Dists) -> None:
    healthy(dists)
    mod = unique("claims")
    source = """
from apphost import Claim
def apphost_claim_routes(apphost):
    return [Claim(app="good", path="no-slash"), "not a claim", Claim(app="good", path="/ok/")]
"""
    dists.add("claims-dist", plugins={"cl": mod}, modules={mod: source})
    host = dists.host()
    problems = "\n".join(map(str, host.problems))
    assert (
        "plugin 'cl' (claims-dist==1.0): invalid claim Claim(app='good', path='no-slash'"
        in problems
    )
    assert "must start with '/'" in problems
    assert "expected apphost.Claim, got str" in problems
    assert get(host, "/ok/z") == (200, "hello /ok|/z")
    # good is explicitly claimed now, so it is no longer mounted at /good.
    assert get(host, "/good")[0] == 404


def test_claim_naming_unknown_app(dists: Dists) -> None:
    mod = unique("unknown")
    dists.add(
        "u-dist",
        plugins={"u": mod},
        modules={
            mod: "from apphost import Claim\ndef apphost_claim_routes():\n    return Claim(app='nope', path='/n')\n"
        },
    )
    host = dists.host()
    assert any("no installed app is named 'nope'" in p for p in map(str, host.problems))


def test_conflict_names_both_and_answers_503(dists: Dists) -> None:
    healthy(dists)
    a, b = unique("ca"), unique("cb")
    src = "from apphost import Claim\ndef apphost_claim_routes():\n    return Claim(app='good', path='/same')\n"
    dists.add("a-dist", plugins={"a": a}, modules={a: src})
    dists.add("b-dist", plugins={"b": b}, modules={b: src})
    host = dists.host()
    conflict = [p for p in map(str, host.problems) if "claimed twice" in p]
    assert len(conflict) == 1
    assert "route /same is claimed twice" in conflict[0]
    assert "plugin 'a' (a-dist==1.0)" in conflict[0] and "plugin 'b' (b-dist==1.0)" in conflict[0]
    assert get(host, "/same")[0] == 503


def test_priority_and_config_settle_a_route(dists: Dists) -> None:
    healthy(dists)
    other = unique("other")
    dists.add(
        "other-dist",
        apps={"other": f"{other}:app"},
        modules={other: HELLO.replace("hello", "other")},
    )
    a = unique("prio")
    src = "from apphost import Claim\ndef apphost_claim_routes():\n    return [Claim(app='good', path='/p'), Claim(app='other', path='/p', priority=5)]\n"
    dists.add("p-dist", plugins={"p": a}, modules={a: src})
    assert get(dists.host(), "/p") == (200, "other /p|")
    config = parse_config({"claims": [{"app": "good", "path": "/p"}]})
    assert get(dists.host(config), "/p") == (200, "hello /p|")


def test_explicit_claim_beats_implicit_mount(dists: Dists) -> None:
    healthy(dists)
    other = unique("other")
    dists.add(
        "other-dist",
        apps={"other": f"{other}:app"},
        modules={other: HELLO.replace("hello", "other")},
    )
    config = parse_config({"claims": [{"app": "other", "path": "/good"}]})
    host = dists.host(config)
    assert get(host, "/good") == (200, "other /good|")
    assert not [p for p in map(str, host.problems) if "claimed twice" in p]


def test_apps_of_a_failed_plugin_are_not_auto_mounted(dists: Dists) -> None:
    mod, hooks = unique("app"), unique("hooks")
    dists.add(
        "half-dist",
        apps={"half": f"{mod}:app"},
        plugins={"half": hooks},
        modules={mod: HELLO, hooks: "raise ImportError('hooks broken')"},
    )
    host = dists.host()
    assert get(host, "/half")[0] == 404
    assert any("hooks broken" in p for p in map(str, host.problems))


# 8. wrappers fail closed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("raise PermissionError('auth backend down')", "auth backend down"),
        ("return 'nope'", "returned 'nope', not a WSGI app"),
    ],
)
def test_failing_wrapper_fails_closed(dists: Dists, body: str, expected: str) -> None:
    healthy(dists)
    mod = unique("wrap")
    src = f"def apphost_wrap_app(name, app):\n    if name == 'good':\n        {body}\n"
    dists.add("wrap-dist", plugins={"wrap": mod}, modules={mod: src})
    host = dists.host()
    assert get(host, "/good")[0] == 503
    assert expected in host.apps["good"].info.state
    assert "plugin 'wrap'" in host.apps["good"].info.state


def test_wrappers_chain_last_called_outermost(dists: Dists) -> None:
    healthy(dists)
    m1, m2 = unique("w"), unique("w")
    tmpl = """
def apphost_wrap_app(name, app):
    def wrapped(environ, start_response):
        return [b"{tag}(", *app(environ, start_response), b")"]
    return wrapped
"""
    dists.add("w1", plugins={"w1": m1}, modules={m1: tmpl.replace("{tag}", "one")})
    dists.add("w2", plugins={"w2": m2}, modules={m2: tmpl.replace("{tag}", "two")})
    host = dists.host()
    order = [impl.plugin_name for impl in reversed(host.pm.hook.apphost_wrap_app.get_hookimpls())]
    outer, inner = order[-1], order[0]
    inner_tag = {"w1": "one", "w2": "two"}
    assert get(host, "/good/x") == (200, f"{inner_tag[outer]}({inner_tag[inner]}(hello /good|/x))")


def test_dynamic_apps_are_wrapped_under_documented_name(dists: Dists) -> None:
    mod = unique("dyn")
    src = """
from apphost import Claim
seen = []
def make(key):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [key.encode()]
    return app
def apphost_claim_routes():
    return Claim(factory=make, path="/u/*")
def apphost_wrap_app(name, app):
    seen.append(name)
"""
    dists.add("dyn-dist", plugins={"dyn": mod}, modules={mod: src})
    host = dists.host()
    assert get(host, "/u/ann/x") == (200, "ann")
    import sys

    assert sys.modules[mod].seen == ["dyn[ann]"]


# 9. an app that raises ------------------------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_raising_app_gives_generic_500(
    dists: Dists, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    healthy(dists)
    mod = unique("raising")
    call = 'start_response("200 OK", [])\n    ' if when == "after" else ""
    src = f"def app(environ, start_response):\n    {call}raise ValueError('secret token 1234')\n"
    dists.add("raising-dist", apps={"raising": f"{mod}:app"}, modules={mod: src})
    host = dists.host()
    caplog.set_level(logging.ERROR, logger="apphost")
    status, body = get(host, "/raising")
    assert status == 500
    assert "secret" not in body and "Traceback" not in body
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "app 'raising' (raising-dist==1.0)" in errors[0].getMessage()
    assert_good_serves(host)


# 10. startup and shutdown ----------------------------------------------------------


def test_startup_failure_names_plugin_and_runs_cleanups(dists: Dists) -> None:
    log_mod, bad = unique("log"), unique("badstart")
    dists.add(
        "log-dist",
        plugins={"log": log_mod},
        modules={
            log_mod: "events = []\ndef apphost_startup():\n    events.append('start')\ndef apphost_shutdown():\n    events.append('stop')\n"
        },
    )
    dists.add(
        "badstart-dist",
        plugins={"badstart": bad},
        modules={bad: "def apphost_startup():\n    raise OSError('no database')\n"},
    )
    host = dists.host()
    with pytest.raises(Exception, match="plugin 'badstart' apphost_startup: OSError: no database"):
        host.startup()
    import sys

    assert sys.modules[log_mod].events[-1] == "stop"


def test_every_shutdown_hook_runs(dists: Dists, caplog: pytest.LogCaptureFixture) -> None:
    m1, m2 = unique("s"), unique("s")
    dists.add(
        "s1",
        plugins={"s1": m1},
        modules={m1: "def apphost_shutdown():\n    raise RuntimeError('s1 failed')\n"},
    )
    dists.add(
        "s2",
        plugins={"s2": m2},
        modules={m2: "done = []\ndef apphost_shutdown():\n    done.append(1)\n"},
    )
    host = dists.host()
    host.shutdown()
    import sys

    assert sys.modules[m2].done == [1]
    assert any("s1" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


# 11. strict, and switching plugins off --------------------------------------------


def test_strict_lists_every_problem(dists: Dists) -> None:
    healthy(dists)
    m1, m2 = unique("x"), unique("y")
    dists.add("x-dist", apps={"x": f"{m1}:app"}, modules={m1: "raise ImportError('x gone')"})
    dists.add(
        "y-dist", plugins={"y": m2}, modules={m2: "def apphost_claim_routes():\n    return 7\n"}
    )
    host = dists.host()
    with pytest.raises(StrictError) as info:
        host.strict()
    text = str(info.value)
    assert "x gone" in text and "plugin 'y'" in text
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("APPHOST_LOAD_PLUGINS", ""),
        ("APPHOST_LOAD_PLUGINS", "good-dist"),
        ("APPHOST_DISABLE_PLUGINS", "bad-dist"),
    ],
)
def test_env_lets_user_past_broken_plugin(
    dists: Dists, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    healthy(dists)
    mod = unique("bad")
    dists.add(
        "bad-dist",
        apps={"bad": f"{mod}:app"},
        plugins={"bad": mod},
        modules={mod: "raise SystemError('never import me')"},
    )
    monkeypatch.setenv(var, value)
    host = dists.host()
    assert "bad" not in host.plugins and "bad" not in host.apps
    host.strict() if value else None
    import sys

    assert mod not in sys.modules


def test_claim_objects_and_hostview(dists: Dists) -> None:
    healthy(dists)
    mod = unique("view")
    src = """
seen = {}
def inline(environ, start_response):
    start_response("200 OK", [])
    return [b"inline"]
def apphost_claim_routes(apphost):
    from apphost import Claim
    seen["apps"] = sorted(apphost.apps)
    seen["server_name"] = apphost.server_name
    return Claim(app=inline, host="inline.example")
"""
    dists.add("view-dist", plugins={"view": mod}, modules={mod: src})
    host = dists.host(Config(server_name="example.org"))
    import sys

    assert sys.modules[mod].seen == {"apps": ["good"], "server_name": "example.org"}
    assert get(host, "/", headers={"Host": "inline.example"}) == (200, "inline")
    assert Claim(app="x") == Claim(app="x")

"""Faults a plugin can cause: a plugin can only break itself.

Every test checks the named problem *and* that a healthy neighbour still
serves. Behaviour is driven with real functions through ``apphost_host``;
what is about installed metadata (an import that fails, a malformed entry
point, two distributions advertising one name, the environment's filters)
goes through throwaway distributions on sys.path.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest
from apphost import Claim, HostView, StrictError, app_factory, hookimpl
from apphost.config import Config, parse_config
from apphost.host import Host
from apphost.testing import HostFactory
from werkzeug.test import Client

from ..distributions import Dists, unique

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ["SCRIPT_NAME"].encode() + b"|" + environ["PATH_INFO"].encode()]
"""

App = Callable[[dict[str, Any], Any], Iterable[bytes]]


def text_app(text: str) -> App:
    """A WSGI app answering ``text SCRIPT_NAME|PATH_INFO``."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{text} {environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode()]

    return app


def healthy(dists: Dists) -> str:
    """A working neighbour distribution: app 'good' at /good."""
    mod = unique("good")
    dists.add("good-dist", apps={"good": f"{mod}:app"}, modules={mod: HELLO})
    return mod


def get(host: Host, path: str, **kw: Any) -> tuple[int, str]:
    resp = Client(host.dispatcher).get(path, **kw)
    return resp.status_code, resp.get_data(as_text=True)


def assert_good_serves(host: Host) -> None:
    assert get(host, "/good/x") == (200, "hello /good|/x")


def problems(host: Host) -> str:
    return "\n".join(map(str, host.problems))


class Plugin:
    """A plugin object: the given functions as its attributes (``Plugin(apphost_startup=f)``)."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, function in hooks.items():
            setattr(self, name, function)


GOOD = Claim(app="good", path="/good")


@pytest.fixture
def host_with(apphost_host: HostFactory) -> Callable[..., Host]:
    """``host_with(plugins=, apps=, claims=, ...)``: ``apphost_host`` and the neighbour 'good'.

    'good' is claimed at /good explicitly: in-memory apps and plugins are one
    distribution, whose apps lose their implicit mounts once one of its
    plugins fails (see test_apps_of_a_failed_plugin_are_not_auto_mounted).
    """

    def make(
        apps: Mapping[str, object] | None = None, claims: Iterable[Claim] = (), **kw: Any
    ) -> Host:
        apps = {"good": text_app("hello"), **(apps or {})}
        return apphost_host(apps=apps, claims=[GOOD, *claims], **kw)

    return make


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
        == f"failed: entry point 'broken = {mod}:app': import failed: RuntimeError: boom at import"
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


def _raises(config: Mapping[str, Any]) -> Any:
    raise TypeError("bad title type")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_raises, "TypeError: bad title type"),
        (lambda config: None, "the factory returned None, not a WSGI app"),
        (lambda config: 42, "the factory returned 42, not a WSGI app"),
    ],
)
def test_bad_factory(
    host_with: Callable[..., Host], make: Callable[[Mapping[str, Any]], Any], expected: str
) -> None:
    host = host_with(apps={"fact": app_factory(make)})
    assert get(host, "/fact")[0] == 503
    assert expected in host.apps["fact"].info.state
    assert "signature" not in host.apps["fact"].info.state
    assert_good_serves(host)


def test_factory_gets_its_config_table(apphost_host: HostFactory) -> None:
    seen: list[dict[str, Any]] = []

    @app_factory
    def make(config: Mapping[str, Any]) -> App:
        seen.append(dict(config))
        return text_app(config.get("title", "none"))

    host = apphost_host(apps={"cfg": make}, config={"apps": {"cfg": {"title": "My blog"}}})
    assert get(host, "/cfg") == (200, "My blog /cfg|")
    assert get(host, "/cfg/x") == (200, "My blog /cfg|/x")
    assert seen == [{"title": "My blog"}]  # called once, with its own table only


def test_config_for_unknown_app_is_a_problem(host_with: Callable[..., Host]) -> None:
    host = host_with(config={"apps": {"nosuch": {}}})
    assert "config [apps.nosuch]: no installed app is named 'nosuch'" in map(str, host.problems)
    assert_good_serves(host)


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
    dists.add("second-dist", apps={"dup": f"{m2}:app"}, modules={m2: HELLO.replace("hello", "two")})
    monkeypatch.setenv("APPHOST_DISABLE_PLUGINS", "first-dist")
    assert get(dists.host(), "/dup") == (200, "two /dup|")  # the one left, not the first found


# 5. hookimpls pluggy would half-register ----------------------------------------


def _extra(apphost: HostView, extra: object) -> None:
    return None


async def _async(apphost: HostView) -> None:
    return None


@hookimpl(wrapper=True)
def _wrapper(apphost: HostView) -> Iterator[None]:
    return (yield)


@pytest.mark.parametrize(
    ("hooks", "expected"),
    [
        ({"apphost_claim_routes": _extra}, "extra"),
        ({"apphost_claim_routes": _async}, "is async"),
        ({"apphost_claim_route": lambda apphost: None}, "did you mean 'apphost_claim_routes'"),
        ({"apphost_claim_routes": _wrapper}, "hook wrapper"),
    ],
)
def test_invalid_hookimpl_rejects_whole_plugin(
    host_with: Callable[..., Host], hooks: dict[str, Callable[..., Any]], expected: str
) -> None:
    # The plugin also has a valid hook: it must not be registered, since the plugin is rejected.
    started: list[str] = []
    plugin = Plugin(apphost_startup=lambda: started.append("inv"), **hooks)
    host = host_with(plugins={"inv": plugin})
    assert host.plugins["inv"].state.startswith("failed:")
    assert expected in host.plugins["inv"].state
    assert not host.pm.has_plugin("inv")
    host.startup()
    assert started == []
    assert_good_serves(host)


# 6. and 7. claims ---------------------------------------------------------------


def test_raising_claim_hook_drops_only_its_claims(host_with: Callable[..., Host]) -> None:
    def claims() -> list[Claim]:
        raise KeyError("x")

    host = host_with(plugins={"raiser": Plugin(apphost_claim_routes=claims)})
    assert (
        "plugin 'raiser' (in-memory==0): apphost_claim_routes raised KeyError: 'x';"
        " its claims are dropped" in problems(host)
    )
    assert host.plugins["raiser"].state == "failed: apphost_claim_routes raised KeyError: 'x'"
    assert_good_serves(host)


def test_bad_claim_is_named_and_others_stand(apphost_host: HostFactory) -> None:
    def claims(apphost: HostView) -> list[object]:
        return [Claim(app="good", path="no-slash"), "not a claim", Claim(app="good", path="/ok/")]

    plugins = {"cl": Plugin(apphost_claim_routes=claims)}
    host = apphost_host(apps={"good": text_app("hello")}, plugins=plugins)
    assert (
        "plugin 'cl' (in-memory==0): invalid claim Claim(app='good', path='no-slash'"
        in problems(host)
    )
    assert "must start with '/'" in problems(host)
    assert "expected apphost.Claim, got str" in problems(host)
    assert get(host, "/ok/z") == (200, "hello /ok|/z")
    # good is explicitly claimed now, so it is no longer mounted at /good.
    assert get(host, "/good")[0] == 404


def test_claim_naming_unknown_app(host_with: Callable[..., Host]) -> None:
    host = host_with(claims=[Claim(app="nope", path="/n")])
    assert "no installed app is named 'nope'" in problems(host)
    assert get(host, "/n")[0] == 404
    assert_good_serves(host)


def test_conflict_names_both_and_answers_503(host_with: Callable[..., Host]) -> None:
    def claim() -> Claim:
        return Claim(app="good", path="/same")

    plugins = {"a": Plugin(apphost_claim_routes=claim), "b": Plugin(apphost_claim_routes=claim)}
    host = host_with(plugins=plugins)
    conflict = [p for p in map(str, host.problems) if "claimed twice" in p]
    assert len(conflict) == 1
    assert "route /same is claimed twice" in conflict[0]
    assert "plugin 'a' (in-memory==0)" in conflict[0] and "plugin 'b' (in-memory==0)" in conflict[0]
    assert get(host, "/same")[0] == 503
    assert_good_serves(host)  # its other route stands


def test_priority_and_config_settle_a_route(host_with: Callable[..., Host]) -> None:
    claims = [Claim(app="good", path="/p"), Claim(app="other", path="/p", priority=5)]
    apps = {"other": text_app("other")}
    assert get(host_with(apps=apps, claims=claims), "/p") == (200, "other /p|")
    config = {"claims": [{"app": "good", "path": "/p"}]}
    assert get(host_with(apps=apps, claims=claims, config=config), "/p") == (200, "hello /p|")


def test_explicit_claim_beats_implicit_mount(apphost_host: HostFactory) -> None:
    host = apphost_host(
        apps={"good": text_app("hello"), "other": text_app("other")},
        config={"claims": [{"app": "other", "path": "/good"}]},
    )
    assert get(host, "/good") == (200, "other /good|")
    assert "claimed twice" not in problems(host)


def test_apps_of_a_failed_plugin_are_not_auto_mounted(dists: Dists) -> None:
    """Its hooks failed: its distribution's apps may have needed their claims (fail closed)."""
    healthy(dists)
    mod, hooks = unique("app"), unique("hooks")
    dists.add(
        "half-dist",
        apps={"half": f"{mod}:app"},
        plugins={"half": hooks},
        modules={mod: HELLO, hooks: "raise ImportError('hooks broken')"},
    )
    host = dists.host()
    assert get(host, "/half")[0] == 404
    assert "hooks broken" in problems(host)
    assert_good_serves(host)  # another distribution's app is mounted as ever


SCOPED_HOOKS = """
from apphost import Claim
def apphost_claim_routes():
    return {claim}
"""


@pytest.mark.parametrize(
    ("claim", "why"),
    [
        (
            "Claim(app='scoped', subdomain='team', host='team.example.org')",
            "give subdomain= or host=, not both",
        ),
        ("Claim(app='scoped', path='team')", "must start with '/'"),
    ],
    ids=["subdomain-and-host", "bad-path"],
)
def test_app_named_by_an_invalid_claim_is_not_mounted(dists: Dists, claim: str, why: str) -> None:
    """Fail closed: an app meant for one host must not go public at /<name> by a wrong claim."""
    healthy(dists)
    mod, hooks = unique("scoped"), unique("scoped_hooks")
    dists.add(
        "scoped-dist",
        version="1.2",
        apps={"scoped": f"{mod}:app"},
        plugins={"scoped": hooks},
        modules={mod: HELLO, hooks: SCOPED_HOOKS.format(claim=claim)},
    )
    host = dists.host()
    for where in ("localhost", "team.example.org", "team.localhost"):
        assert get(host, "/scoped/x", headers={"Host": where})[0] == 404
    (problem,) = [p for p in host.problems if p.subject == "scoped" and p.kind.value == "app"]
    assert problem.message == (
        f"app 'scoped' (scoped-dist==1.2): not mounted: its claim {claim} from plugin"
        f" 'scoped' (scoped-dist==1.2) is invalid: {problem.message.rpartition(': ')[2]}"
    )
    assert why in problem.message
    assert (problem.plugin, problem.distribution) == ("scoped", "scoped-dist==1.2")
    assert host.unmounted["scoped"] == problem.message
    assert_good_serves(host)


def test_app_with_invalid_and_valid_claims_is_mounted_only_where_valid(dists: Dists) -> None:
    mod, hooks = unique("scoped"), unique("scoped_hooks")
    two = "[Claim(app='scoped', path='bad'), Claim(app='scoped', path='/ok')]"
    dists.add(
        "scoped-dist",
        apps={"scoped": f"{mod}:app"},
        plugins={"scoped": hooks},
        modules={mod: HELLO, hooks: SCOPED_HOOKS.format(claim=two)},
    )
    host = dists.host()
    assert get(host, "/ok/x") == (200, "hello /ok|/x")
    assert get(host, "/scoped")[0] == 404
    assert "scoped" not in host.unmounted  # it has a route: nothing to explain


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("raise ImportError('hooks broken')", "ImportError: hooks broken"),
        (
            "def apphost_claim_routes():\n    raise KeyError('db down')",
            "apphost_claim_routes raised KeyError: 'db down'",
        ),
    ],
    ids=["import-fails", "hook-raises"],
)
def test_apps_of_failed_hooks_say_why_they_are_not_mounted(
    dists: Dists, source: str, why: str
) -> None:
    healthy(dists)
    mod, hooks = unique("app"), unique("hooks")
    dists.add(
        "half-dist",
        apps={"half": f"{mod}:app"},
        plugins={"halfhooks": hooks},
        modules={mod: HELLO, hooks: source},
    )
    host = dists.host()
    assert get(host, "/half")[0] == 404
    message = host.unmounted["half"]
    assert message.startswith(
        "app 'half' (half-dist==1.0): not mounted: the hooks of plugin 'halfhooks'"
        " (half-dist==1.0) failed, so the claims of its distribution's apps are unknown: "
    )
    assert why in message
    assert message in problems(host)
    assert_good_serves(host)


def test_config_claim_that_is_invalid_does_not_mount_its_app(
    apphost_host: HostFactory,
) -> None:
    config = {"claims": [{"app": "good", "path": "/g", "host": "a.example", "subdomain": "a"}]}
    host = apphost_host(apps={"good": text_app("hello")}, config=config)
    assert get(host, "/good")[0] == 404
    assert "not mounted: its claim" in host.unmounted["good"]
    assert "[[claims]] #1" in host.unmounted["good"]


# 8. wrappers fail closed ----------------------------------------------------------


def _deny(name: str, app: App) -> App | None:
    if name == "good":
        raise PermissionError("auth backend down")
    return None


@pytest.mark.parametrize(
    ("wrap", "expected"),
    [
        (_deny, "auth backend down"),
        (lambda name, app: "nope" if name == "good" else None, "returned 'nope', not a WSGI app"),
    ],
)
def test_failing_wrapper_fails_closed(
    host_with: Callable[..., Host], wrap: Callable[..., Any], expected: str
) -> None:
    host = host_with(
        apps={"other": text_app("other")}, plugins={"wrap": Plugin(apphost_wrap_app=wrap)}
    )
    assert get(host, "/good")[0] == 503
    assert expected in host.apps["good"].info.state
    assert "plugin 'wrap'" in host.apps["good"].info.state
    assert get(host, "/other") == (200, "other /other|")  # the wrapper let this one be


def _tagger(tag: str) -> Callable[[App], App]:
    def wrap(app: App) -> App:
        def wrapped(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            return [f"{tag}(".encode(), *app(environ, start_response), b")"]

        return wrapped

    return wrap


@pytest.mark.parametrize(
    ("option", "body"),
    [
        # pluggy calls a tryfirst impl first: it wraps first, so it is the innermost.
        ("tryfirst", "two(one(hello /good|/x))"),
        ("trylast", "one(two(hello /good|/x))"),
    ],
)
def test_wrappers_chain_last_called_outermost(
    host_with: Callable[..., Host], option: str, body: str
) -> None:
    tag_one, tag_two = _tagger("one"), _tagger("two")

    @hookimpl(**{option: True})
    def one(app: App) -> App:
        return tag_one(app)

    def two(app: App) -> App:
        return tag_two(app)

    # Registered in both orders: the option, not the order, decides.
    for plugins in ({"w1": one, "w2": two}, {"w2": two, "w1": one}):
        wrapped = {name: Plugin(apphost_wrap_app=f) for name, f in plugins.items()}
        assert get(host_with(plugins=wrapped), "/good/x") == (200, body)


def test_dynamic_apps_are_wrapped_under_documented_name(apphost_host: HostFactory) -> None:
    seen: list[str] = []

    def make(key: str) -> App:
        return text_app(key)

    def claims() -> Claim:
        return Claim(factory=make, path="/u/*")

    def wrap(name: str) -> None:
        seen.append(name)

    host = apphost_host(plugins={"dyn": Plugin(apphost_claim_routes=claims, apphost_wrap_app=wrap)})
    assert get(host, "/u/ann/x") == (200, "ann /u/ann|/x")
    assert get(host, "/u/bob") == (200, "bob /u/bob|")
    assert get(host, "/u/ann/y")[0] == 200  # made and wrapped once per key
    assert seen == ["dyn[ann]", "dyn[bob]"]


# 9. an app that raises ------------------------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_raising_app_gives_generic_500(
    host_with: Callable[..., Host], caplog: pytest.LogCaptureFixture, when: str
) -> None:
    def raising(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if when == "after":
            start_response("200 OK", [])
        raise ValueError("secret token 1234")

    host = host_with(apps={"raising": raising})
    caplog.set_level(logging.ERROR, logger="apphost")
    status, body = get(host, "/raising")
    assert status == 500
    assert "secret" not in body and "Traceback" not in body
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "app 'raising' (in-memory==0) raised" in errors[0].getMessage()
    assert_good_serves(host)


# 10. startup and shutdown ----------------------------------------------------------


def test_startup_failure_names_plugin_and_runs_cleanups(apphost_host: HostFactory) -> None:
    events: list[str] = []

    def no_database() -> None:
        raise OSError("no database")

    log = Plugin(
        apphost_startup=lambda: events.append("start"),
        apphost_shutdown=lambda: events.append("stop"),
    )
    host = apphost_host(plugins={"log": log, "badstart": Plugin(apphost_startup=no_database)})
    with pytest.raises(Exception, match="plugin 'badstart' apphost_startup: OSError: no database"):
        host.startup()
    assert events[-1] == "stop"


def test_every_shutdown_hook_runs(
    apphost_host: HostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []

    def fails() -> None:
        raise RuntimeError("s1 failed")

    plugins = {
        "s1": Plugin(apphost_shutdown=fails),
        "s2": Plugin(apphost_shutdown=lambda: done.append("s2")),
        "s3": Plugin(apphost_shutdown=lambda: done.append("s3")),
    }
    apphost_host(plugins=plugins).shutdown()
    assert sorted(done) == ["s2", "s3"]  # whichever order pluggy calls them in
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "plugin 's1' apphost_shutdown raised" in error.getMessage()


# 11. strict, and switching plugins off --------------------------------------------


def test_strict_lists_every_problem(host_with: Callable[..., Host]) -> None:
    @app_factory
    def gone(config: Mapping[str, Any]) -> App:
        raise ImportError("x gone")

    host = host_with(apps={"x": gone}, plugins={"y": Plugin(apphost_claim_routes=lambda: 7)})
    with pytest.raises(StrictError) as info:
        host.strict()
    text = str(info.value)
    assert "x gone" in text and "plugin 'y'" in text
    # y's hooks failed: x, of the same (in-memory) distribution, is not mounted either.
    assert "app 'x' (in-memory==0): not mounted: the hooks of plugin 'y'" in text
    assert len(info.value.problems) == 3


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
    if value:
        host.strict()
        assert_good_serves(host)
    assert mod not in sys.modules


def test_claim_objects_and_hostview(host_with: Callable[..., Host]) -> None:
    seen: dict[str, object] = {}

    def claims(apphost: HostView) -> Claim:
        seen["apps"] = sorted(apphost.apps)
        seen["server_name"] = apphost.server_name
        seen["status"] = apphost.apps["good"].status
        return Claim(app=text_app("inline"), host="inline.example")

    host = host_with(
        plugins={"view": Plugin(apphost_claim_routes=claims)},
        config=Config(server_name="example.org"),
    )
    assert seen == {"apps": ["good"], "server_name": "example.org", "status": "not loaded"}
    assert get(host, "/", headers={"Host": "inline.example"}) == (200, "inline |/")
    # That host is the claim's: /good there is the inline app's, not good's.
    assert get(host, "/good", headers={"Host": "inline.example"}) == (200, "inline |/good")
    assert_good_serves(host)


def test_parse_config_claims_are_the_operators(host_with: Callable[..., Host]) -> None:
    """A ``Config`` made by parse_config routes like the dict ``apphost_host`` parses."""
    config = parse_config({"claims": [{"app": "good", "path": "/op"}]})
    host = host_with(config=config)
    assert get(host, "/op/x") == (200, "hello /op|/x")
    (route,) = [r for r in host.routes if r.claim.path == "/op"]
    assert str(route.claimant).startswith("config [[claims]] #1")

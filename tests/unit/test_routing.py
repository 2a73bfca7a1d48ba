"""The router on a table of edge cases: every rule of DESIGN.md "Routing", one row each.

Every app, and the dispatcher itself, runs under ``wsgiref.validate.validator``
with its warnings as errors, so an environ that breaks PEP 3333 fails.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit
from wsgiref.validate import validator

import pytest
from apphost.routing.claims import Claim, Claimant, Route, Source, normalize
from apphost.routing.dispatcher import Dispatcher, Match
from apphost.routing.dynamic import DynamicApps
from apphost.routing.explain import explain
from apphost.routing.paths import normalize_path
from apphost.routing.refusals import Refusal
from apphost.routing.table import build_table
from werkzeug.test import Client, create_environ, run_wsgi_app

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

SERVER_NAME = "example.com"


def echo(name: str) -> WSGIApplication:
    """An app answering 200 with its name and the SCRIPT_NAME/PATH_INFO it got, validated."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = json.dumps(
            {"app": name, "script_name": environ["SCRIPT_NAME"], "path_info": environ["PATH_INFO"]}
        ).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return validator(app)


def users(key: str) -> WSGIApplication | None:
    return None if key == "missing" else echo(f"user[{key}]")


def tenants(key: str) -> WSGIApplication | None:
    return echo(f"tenant[{key}]")


def boom(key: str) -> WSGIApplication | None:
    raise RuntimeError(f"no app for {key}")


PLUGIN, CONFIG = 1, 2

# (claim, source): every claim of the table under test
CLAIMS: list[tuple[Claim, int]] = [
    (Claim(app="root", path="/"), PLUGIN),
    (Claim(app="backend", path="/backend"), PLUGIN),
    (Claim(app="deep", path="/backend/v2/deep"), PLUGIN),
    (Claim(app="cafe", path="/café"), PLUGIN),
    (Claim(factory=users, path="/u/*"), PLUGIN),
    (Claim(app="u_admin", path="/u/admin"), PLUGIN),
    (Claim(factory=boom, path="/boom/*"), PLUGIN),
    (Claim(app="c1", path="/conflict"), PLUGIN),
    (Claim(app="c2", path="/conflict"), PLUGIN),
    (Claim(factory=users, path="/fc/*"), PLUGIN),
    (Claim(factory=tenants, path="/fc/*"), PLUGIN),
    (Claim(app="low", path="/prio"), PLUGIN),
    (Claim(app="high", path="/prio", priority=1), PLUGIN),
    (Claim(app="plugin", path="/cfg", priority=5), PLUGIN),
    (Claim(app="config", path="/cfg"), CONFIG),
    (Claim(app="api", host="api.example.com"), PLUGIN),
    (Claim(app="api8080", host="API.example.com:8080"), PLUGIN),
    (Claim(app="secure", host="secure.example.com:443"), PLUGIN),
    (Claim(app="blog", subdomain="blog"), PLUGIN),
    (Claim(app="www_api", subdomain="www", path="/api"), PLUGIN),
    (Claim(factory=tenants, subdomain="*"), PLUGIN),
    (Claim(app="books", host="bücher.example"), PLUGIN),
    (Claim(app="v6", host="[::1]"), PLUGIN),
    (Claim(app="ip4", host="127.0.0.1"), PLUGIN),
    (Claim(app="under", host="a_b.example.org"), PLUGIN),
    (Claim(app="star_org", host="*.example.org"), PLUGIN),
]


def resolve(route: Route) -> WSGIApplication:
    claim = route.claim
    if claim.factory is not None:
        return DynamicApps(claim.factory, str(route.claimant), 8, lambda name, app: app)
    assert isinstance(claim.app, str)
    return echo(claim.app)


def make_dispatcher(claims: list[tuple[Claim, int]] = CLAIMS, **options: Any) -> Dispatcher:
    routes = [
        normalize(
            claim,
            Claimant(Source.PLUGIN, f"p{i}", "d==1")
            if source == PLUGIN
            else Claimant(Source.CONFIG, f"#{i}"),
            SERVER_NAME,
        )
        for i, (claim, source) in enumerate(claims)
    ]
    table, _ = build_table(routes, SERVER_NAME, resolve)
    return Dispatcher(table, own={"/_apphost/health": echo("health")}, **options)


def make_environ(
    host: str | None, raw: str, proto: str = "HTTP/1.1", scheme: str = "http"
) -> dict[str, Any]:
    """The environ a server makes for ``raw`` (a request target): PATH_INFO decoded, raw kept."""
    raw_path, _, query = raw.partition("?")
    if "://" in raw_path:  # absolute-form: waitress keeps the path only (its split_uri)
        raw_path = urlsplit(raw_path).path
    environ = create_environ("/", f"{scheme}://localhost", query_string=query)
    environ["PATH_INFO"] = unquote_to_bytes(raw_path).decode("latin-1")
    environ["REQUEST_URI"] = environ["RAW_URI"] = raw
    environ["SERVER_PROTOCOL"] = proto
    if host is None:
        del environ["HTTP_HOST"]
    else:
        environ["HTTP_HOST"] = host
    return environ


def call(
    app: WSGIApplication, environ: dict[str, Any], check_input: bool = True
) -> tuple[int, bytes]:
    """Run ``app`` (under the validator) to the end; return the status code and body."""
    wrapped = validator(app) if check_input else app
    body, status, _ = run_wsgi_app(wrapped, environ, buffered=True)
    return int(status[:3]), b"".join(body)


def wsgi(text: str) -> str:
    return text.encode().decode("latin-1")


@dataclass(frozen=True)
class Case:
    id: str
    host: str | None
    path: str  # the raw request target
    expect: int | tuple[str, str, str]  # a status, or (app, SCRIPT_NAME, PATH_INFO)
    proto: str = "HTTP/1.1"
    scheme: str = "http"
    options: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # a word of the refusal's body


H = SERVER_NAME
CASES = [
    # -- path: whole segments, longest prefix, PEP 3333 split
    Case("prefix-exact", H, "/backend", ("backend", "/backend", "")),
    Case("prefix-slash", H, "/backend/", ("backend", "/backend", "/")),
    Case("prefix-deeper", H, "/backend/x/y", ("backend", "/backend", "/x/y")),
    Case("segment-boundary", H, "/backendx", ("root", "", "/backendx")),
    Case("longest-wins", H, "/backend/v2/deep/z", ("deep", "/backend/v2/deep", "/z")),
    Case("longest-partial", H, "/backend/v2/deeper", ("backend", "/backend", "/v2/deeper")),
    Case("root-slash", H, "/", ("root", "", "/")),
    Case("root-empty", H, "", ("root", "", "")),
    Case("query-ignored", H, "/backend/q?x=%2F&y=..", ("backend", "/backend", "/q")),
    # -- normalization: dot segments and repeated slashes
    Case("double-slash", H, "/backend//x", ("backend", "/backend", "/x")),
    Case("leading-double-slash", H, "//backend", ("backend", "/backend", "")),
    Case("dotdot-into", H, "/x/../backend/y", ("backend", "/backend", "/y")),
    Case("dotdot-out", H, "/backend/../admin", ("root", "", "/admin")),
    Case("dot-segments", H, "/backend/./x/.", ("backend", "/backend", "/x/")),
    Case("encoded-dots", H, "/backend/%2e%2e/admin", ("root", "", "/admin")),
    Case("dotdot-above-root", H, "/..", 400, reason="above the root"),
    Case("dotdot-above-root-deep", H, "/a/../../b", 400, reason="above the root"),
    Case("dotdot-encoded-above", H, "/%2e%2e/etc", 400, reason="above the root"),
    Case("relative-path", H, "a/b", 400, reason="must start with"),
    Case("dots-long", H, "/backend" + "/." * 10_000 + "//x", ("backend", "/backend", "/x")),
    Case("dotdot-at-limit", H, "/backend" + "/a/.." * 3_200 + "/z", ("backend", "/backend", "/z")),
    Case("dotdot-too-long", H, "/backend" + "/a/.." * 3_300 + "/z", 414, reason="URI Too Long"),
    # -- NUL, encoded slash and backslash (raw REQUEST_URI)
    Case("nul", H, "/backend/a%00b", 400, reason="NUL"),
    Case("encoded-slash", H, "/backend%2Fv2", 400, reason="encoded slash"),
    Case("encoded-slash-lower", H, "/backend%2fv2", 400, reason="encoded slash"),
    Case("encoded-backslash", H, "/a%5Cb", 400, reason="encoded slash"),
    Case("double-encoded-slash", H, "/backend%252Fv2", ("root", "", "/backend%2Fv2")),
    Case(
        "encoded-slash-allowed",
        H,
        "/backend%2Fv2",
        ("backend", "/backend", "/v2"),
        options={"allow_encoded_slashes": True},
    ),
    # -- non-ASCII prefixes as WSGI strings
    Case("utf8-prefix", H, "/caf%C3%A9/x", ("cafe", wsgi("/café"), "/x")),
    Case("utf8-boundary", H, "/caf%C3%A9x", ("root", "", wsgi("/caféx"))),
    Case("latin1-not-utf8", H, "/caf%E9/x", ("root", "", "/caf\xe9/x")),
    # -- /_apphost/ is the host's own
    Case("own-health", H, "/_apphost/health", ("health", "", "/_apphost/health")),
    Case("own-unknown", H, "/_apphost/nope", 404, reason="own"),
    Case("own-bare", H, "/_apphost", 404, reason="own"),
    Case("own-via-dots", H, "/x/../_apphost/health", ("health", "", "/x/../_apphost/health")),
    # -- factory claims: keys, exact beats *, None is 404, raising is 500
    Case("path-key", H, "/u/alice/x", ("user[alice]", "/u/alice", "/x")),
    Case("path-key-utf8", H, "/u/Jos%C3%A9", ("user[José]", wsgi("/u/José"), "")),
    Case("path-key-not-utf8", H, "/u/%FF", 404, reason="key"),
    Case("path-key-none", H, "/u/missing/x", 404, reason="key"),
    Case("exact-beats-star", H, "/u/admin/x", ("u_admin", "/u/admin", "/x")),
    Case("star-needs-segment", H, "/u/", ("root", "", "/u/")),
    Case("factory-raises", H, "/boom/x", 500),
    # -- conflicts, priority, operator beats plugin
    Case("conflict", H, "/conflict/x", 503, reason="claimed twice"),
    Case("conflict-factory", H, "/fc/k", 503, reason="claimed twice"),
    Case("priority", H, "/prio/x", ("high", "/prio", "/x")),
    Case("config-beats-plugin", H, "/cfg", ("config", "/cfg", "")),
    # -- Host normalization and buckets
    Case("host-case-dot", "API.Example.COM.", "/x", ("api", "", "/x")),
    Case("host-port-bucket", "api.example.com:8080", "/x", ("api8080", "", "/x")),
    Case("host-other-port", "api.example.com:8081", "/x", ("api", "", "/x")),
    Case("host-port-default-http", "api.example.com:80", "/", ("api", "", "/")),
    Case(
        "host-port-scheme-default", "secure.example.com", "/", ("secure", "", "/"), scheme="https"
    ),
    Case("host-port-scheme-http", "secure.example.com", "/", ("tenant[secure]", "", "/")),
    Case("subdomain", "blog.example.com", "/p", ("blog", "", "/p")),
    Case("subdomain-case", "BLOG.Example.com.", "/p", ("blog", "", "/p")),
    Case("wildcard-key", "acme.example.com", "/p", ("tenant[acme]", "", "/p")),
    Case("wildcard-one-label", "b.a.example.com", "/p", ("root", "", "/p")),
    Case("label-boundary", "evilexample.com", "/backend", ("backend", "/backend", "")),
    Case("server-name-itself", "example.com", "/p", ("root", "", "/p")),
    Case("subdomain-path", "www.example.com", "/api/v1", ("www_api", "/api", "/v1")),
    Case("no-fallback", "www.example.com", "/backend", 404, reason="no claim"),
    Case("underscore", "a_b.example.org", "/", ("under", "", "/")),
    Case("host-wildcard", "x.example.org", "/", ("star_org", "", "/")),
    Case("idna-claim", "xn--bcher-kva.example", "/", ("books", "", "/")),
    Case("idna-claim-case", "XN--BCHER-KVA.example", "/", ("books", "", "/")),
    Case("non-ascii-host", "bücher.example", "/", 400, reason="Host"),
    Case("ipv4", "127.0.0.1:8080", "/", ("ip4", "", "/")),
    Case("ipv6-port", "[::1]:8080", "/", ("v6", "", "/")),
    Case("ipv6-long-form", "[0:0:0:0:0:0:0:1]", "/", ("v6", "", "/")),
    Case("ipv6-unclosed", "[::1", "/", 400, reason="Host"),
    Case("ipv6-bad", "[::g]", "/", 400, reason="Host"),
    Case("ipv6-unbracketed", "::1", "/", 400, reason="Host"),
    Case("ipv4-bad", "1.2.3.999", "/", 400, reason="Host"),
    Case("folded", "a.example.com, b.example.com", "/", 400, reason="Host"),
    Case("space", "a b", "/", 400, reason="Host"),
    Case("empty-host", "", "/", 400, reason="Host"),
    Case("empty-label", "a..example.com", "/", 400, reason="Host"),
    Case("hyphen-label", "-a.example.com", "/", 400, reason="Host"),
    Case("label-too-long", "a" * 64 + ".com", "/", 400, reason="Host"),
    Case("port-zero", "example.com:0", "/", 400, reason="Host"),
    Case("port-too-big", "example.com:65536", "/", 400, reason="Host"),
    Case("port-empty", "example.com:", "/", 400, reason="Host"),
    Case("userinfo", "user@example.com", "/", 400, reason="Host"),
    Case("oversized", "a." * 50_000 + "com", "/", 400, reason="Host"),
    Case("no-host-1.1", None, "/", 400, reason="requires a Host"),
    Case("no-host-1.0", None, "/backend/x", ("backend", "/backend", "/x"), proto="HTTP/1.0"),
    # -- absolute-form request-target: its authority is the host (RFC 9112 section 3.2.2)
    Case("absolute-form", "blog.example.com", "http://api.example.com/x", ("api", "", "/x")),
    Case("absolute-form-case", "blog.example.com", "HTTP://API.example.com./x", ("api", "", "/x")),
    Case("absolute-form-port", H, "http://api.example.com:8080/x", ("api8080", "", "/x")),
    Case("absolute-form-query", H, "http://blog.example.com/p?h=api", ("blog", "", "/p")),
    Case("absolute-form-no-path", H, "http://blog.example.com", ("blog", "", "")),
    Case("absolute-form-no-host", None, "http://blog.example.com/p", ("blog", "", "/p")),
    Case("absolute-form-userinfo", H, "http://u@blog.example.com/p", 400, reason="Host"),
    Case("absolute-form-empty", "blog.example.com", "http:///p", 400, reason="Host"),
    # -- allowed_hosts: 400 before routing, own pages still answer
    *[
        Case(f"allowed-{i}", host, path, expect, proto=proto, options={"allowed_hosts": allowed})
        for i, (host, path, expect, proto) in enumerate(
            [
                ("blog.example.com", "/", ("blog", "", "/"), "HTTP/1.1"),
                ("Example.COM.:8080", "/", ("root", "", "/"), "HTTP/1.1"),
                ("evil.org", "/", 400, "HTTP/1.1"),
                ("example.com", "http://evil.org/", 400, "HTTP/1.1"),
                ("evil.org", "http://blog.example.com/", ("blog", "", "/"), "HTTP/1.1"),
                ("notexample.com", "/", 400, "HTTP/1.1"),
                ("evil.org", "/_apphost/health", ("health", "", "/_apphost/health"), "HTTP/1.1"),
                ("10.0.0.7", "/_apphost/health", ("health", "", "/_apphost/health"), "HTTP/1.1"),
                (None, "/", 400, "HTTP/1.0"),
            ]
        )
        for allowed in [("example.com", "*.EXAMPLE.com")]
    ],
]


@pytest.fixture(scope="module")
def dispatchers() -> dict[str, Dispatcher]:
    return {}


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, dispatchers: dict[str, Dispatcher]) -> None:
    key = repr(sorted(case.options.items()))
    if key not in dispatchers:
        dispatchers[key] = make_dispatcher(**case.options)
    environ = make_environ(case.host, case.path, case.proto, case.scheme)
    # A relative PATH_INFO is itself a PEP 3333 warning: check the output only.
    status, body = call(dispatchers[key], environ, check_input=case.path.startswith("/"))
    if isinstance(case.expect, int):
        assert status == case.expect, body
        assert case.reason.encode() in body
        assert b"Traceback" not in body
    else:
        assert status == 200, body
        app, script_name, path_info = case.expect
        assert json.loads(body) == {"app": app, "script_name": script_name, "path_info": path_info}


def test_factory_failure_is_logged_with_claimant(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="apphost"):
        status, body = call(make_dispatcher(), make_environ(H, "/boom/k"))
    assert status == 500
    assert b"RuntimeError" not in body
    assert "plugin 'p6' (d==1)" in caplog.text
    assert "no app for k" in caplog.text


def test_script_name_from_the_server_is_kept() -> None:
    environ = make_environ(H, "/backend/x")
    environ["SCRIPT_NAME"] = "/mount"
    _, body = call(make_dispatcher(), environ)
    assert json.loads(body) == {
        "app": "backend",
        "script_name": "/mount/backend",
        "path_info": "/x",
    }


@pytest.mark.parametrize(
    ("host", "path", "name"),
    [
        (H, "/backend/x", "backend"),
        (H, "/u/k", "users(key)"),
        ("acme.example.com", "/", "tenants(key)"),
        (H, "/conflict", "c1"),
        (H, "/..", None),
        (H, "/_apphost/health", None),
    ],
)
def test_environ_names_the_app(host: str, path: str, name: str | None) -> None:
    """``apphost.app`` labels logs and metrics; a factory's keys share one label."""
    environ = make_environ(host, path)
    body = make_dispatcher()(environ, lambda status, headers, exc_info=None: lambda data: None)
    getattr(body, "close", lambda: None)()
    assert environ.get("apphost.app") == name


@pytest.mark.parametrize(
    "claims",
    [
        [(Claim(app="backend", path="/backend"), PLUGIN)],  # no root claim: a miss
        [(Claim(app="any", path="/*"), PLUGIN)],  # "/*" takes any first segment
        [(Claim(app="root", path="/"), PLUGIN)],
    ],
    ids=["no-root", "star", "root"],
)
def test_own_pages_and_relative_paths_whatever_the_claims(
    claims: list[tuple[Claim, int]],
) -> None:
    dispatcher = make_dispatcher(claims)
    assert json.loads(call(dispatcher, make_environ(H, "/_apphost/health"))[1])["app"] == "health"
    status, body = call(dispatcher, make_environ(H, "/_apphost"))
    assert (status, b"own" in body) == (404, True)
    status, body = call(dispatcher, make_environ(H, "a/b"), check_input=False)
    assert (status, b"must start with" in body) == (400, True)


def test_route_reads_environ_only() -> None:
    dispatcher = make_dispatcher()
    for path in ("/backend/x", "/nowhere/../x", "/..", "/u/k", "http://api.example.com/x"):
        environ = make_environ("www.example.com", path)
        before = dict(environ)
        dispatcher.route(environ)
        assert environ == before


def test_absolute_form_authority_is_the_host_apps_see() -> None:
    """Routed on the target's authority, the app must not see another Host (its URLs, its checks)."""
    seen: dict[str, str] = {}

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen["host"] = environ["HTTP_HOST"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    dispatcher = Dispatcher(
        build_table(
            [normalize(Claim(app=app, host="api.example.com"), Claimant(Source.CONFIG, "#1"), H)],
            H,
            lambda route: route.claim.app,  # type: ignore[arg-type,return-value]
        )[0]
    )
    environ = make_environ("blog.example.com", "http://api.example.com:8080/x")
    assert call(dispatcher, environ)[0] == 200
    assert seen == {"host": "api.example.com:8080"}


@pytest.mark.parametrize("path", ["/backend/x", "/_apphost/health", "/nowhere", "*"])
def test_trace_is_405_at_the_host(path: str) -> None:
    """TRACE echoes a request (cookies, credentials) back: no app ever sees one (XST)."""
    environ = make_environ(H, path)
    environ["REQUEST_METHOD"] = "TRACE"
    status, body = call(make_dispatcher(), environ, check_input=path.startswith("/"))
    assert (status, body) == (405, b"405 Method Not Allowed: TRACE is not served here\n")
    assert "apphost.app" not in environ


def test_client_drives_the_dispatcher() -> None:
    client = Client(validator(make_dispatcher()))
    response = client.get("/backend/x", headers={"Host": "api.example.com:8080"})
    assert response.json == {"app": "api8080", "script_name": "", "path_info": "/backend/x"}
    response.close()


def test_table_swap_is_seen_by_the_next_request() -> None:
    dispatcher = make_dispatcher()
    assert call(dispatcher, make_environ(H, "/new"))[1].startswith(b'{"app": "root"')
    routes = [
        normalize(Claim(app="new", path="/new"), Claimant(Source.PLUGIN, "p", "d==1"), SERVER_NAME)
    ]
    dispatcher.table, _ = build_table(routes, SERVER_NAME, resolve)
    assert json.loads(call(dispatcher, make_environ(H, "/new"))[1])["app"] == "new"
    assert call(dispatcher, make_environ(H, "/backend"))[0] == 404


def test_factory_runs_once_per_key_under_concurrency() -> None:
    made: list[str] = []
    gate = threading.Event()

    def slow(key: str) -> WSGIApplication:
        gate.wait(5)
        made.append(key)
        return echo(key)

    dispatcher = make_dispatcher([(Claim(factory=slow, path="/t/*"), PLUGIN)])
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(call(dispatcher, make_environ(H, "/t/k"))[0])
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [200] * 4
    assert made == ["k"]


def test_host_cache_does_not_keep_oversized_hosts() -> None:
    dispatcher = make_dispatcher()
    for i in range(20):
        call(dispatcher, make_environ("x" * 10_000 + str(i), "/"))
    assert not dispatcher._routing.hosts
    call(dispatcher, make_environ("blog.example.com", "/"))
    assert list(dispatcher._routing.hosts) == ["blog.example.com"]


def test_allowed_hosts_are_normalized_and_checked() -> None:
    dispatcher = make_dispatcher(allowed_hosts=["Bücher.Example", "*.Example.COM.", "[0::1]:80"])
    assert dispatcher.allowed_hosts == {"xn--bcher-kva.example", "*.example.com", "[::1]"}
    with pytest.raises(ValueError, match="not a host name"):
        make_dispatcher(allowed_hosts=["bad host"])


def test_long_path_routes() -> None:
    """A 250 KB path routes (its timing is in bench/pathological.py, not here)."""
    dispatcher = make_dispatcher()
    path = "/backend" + "/seg" * 62_500
    status, body = call(dispatcher, make_environ(H, path))
    assert status == 200
    assert json.loads(body)["path_info"] == path[len("/backend") :]
    one_segment = "/" + "x" * 250_000
    assert isinstance(dispatcher.route(make_environ(H, one_segment)), Match)
    dotted = "/backend" + "/a/.." * 40_000 + "/z"  # '..' is resolved in a loop: 16 KiB at most
    assert call(dispatcher, make_environ(H, dotted))[0] == 414
    for repeats in ("/a/." * 62_500, "/a//" * 62_500):  # '.' and '//' collapse at any length
        assert json.loads(call(dispatcher, make_environ(H, "/backend" + repeats))[1]) == {
            "app": "backend",
            "script_name": "/backend",
            "path_info": "/a" * 62_500 + "/",
        }


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("//a///b//", "/a/b/"),
        ("/a/./b/.", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a/..", "/"),
        ("/.", "/"),
        ("/..", None),
        ("/a/../..", None),
        ("/.a/..b/...", "/.a/..b/..."),
        ("/./././", "/"),
        ("/a/./.", "/a/"),
        ("/a//.//b", "/a/b"),
        ("/a/b/../.", "/a/"),
        ("/a/./../b/..", "/"),
        ("/" * 9 + "a" + "/." * 9, "/a/"),
    ],
)
def test_normalize_path(path: str, expect: str | None) -> None:
    assert normalize_path(path) == expect


# -- explain: what `apphost routes --match URL` prints ---------------------------------------


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        (
            "http://api.example.com:8080/v1/x",
            {
                "status": 200,
                "app": "api8080",
                "claimed_by": "plugin 'p16' (d==1)",
                "script_name": "",
                "path_info": "/v1/x",
            },
        ),
        (
            "/backend",
            {
                "status": 200,
                "app": "backend",
                "script_name": "/backend",
                "path_info": "",
                "host": H,
            },
        ),
        (
            "example.com/caf%C3%A9/x",
            {"status": 200, "app": "cafe", "script_name": "/café", "path_info": "/x"},
        ),
        ("http://example.com/café/x", {"status": 200, "app": "cafe", "script_name": "/café"}),
        (
            "http://bücher.example/",
            {"status": 200, "app": "books", "host": "xn--bcher-kva.example"},
        ),
        (
            "https://secure.example.com/",
            {"status": 200, "app": "secure", "route": "secure.example.com:443"},
        ),
        ("/u/bob/x", {"status": 200, "app": "users(key)", "key": "bob", "script_name": "/u/bob"}),
        (
            "http://acme.example.com/",
            {"status": 200, "app": "tenants(key)", "key": "acme", "route": "*.example.com"},
        ),
        ("/prio", {"status": 200, "app": "high", "priority": 1}),
        ("/conflict", {"status": 503, "app": "c1"}),
        ("/backend/../..", {"status": 400, "reason": "'..' above the root"}),
        ("/backend%2Fv2", {"status": 400, "reason": "encoded slash or backslash in path"}),
        ("/u/%FF", {"status": 404, "reason": "no app for this key"}),
        ("http://www.example.com/other", {"status": 404}),
        ("http://a,b/", {"status": 400, "reason": "malformed Host header"}),
        ("/_apphost/health", {"status": 200, "app": "apphost (own page)"}),
    ],
)
def test_explain(url: str, expect: dict[str, Any]) -> None:
    result = explain(make_dispatcher(), url)
    assert result == result | expect
    if result["status"] == 503:
        assert "claimed twice" in result["reason"]


def test_explain_does_not_call_factories() -> None:
    called: list[str] = []
    dispatcher = make_dispatcher(
        [(Claim(factory=lambda key: called.append(key), path="/t/*"), PLUGIN)]
    )
    assert explain(dispatcher, "/t/k")["key"] == "k"
    assert called == []


def test_refusal_is_a_wsgi_app() -> None:
    status, body = call(Refusal("400 Bad Request", "because"), make_environ(H, "/"))
    assert (status, body) == (400, b"400 Bad Request: because\n")

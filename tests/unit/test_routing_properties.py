"""Property tests of the router: random claim sets, hosts and paths against a reference model.

Hypothesis draws the claim sets and a ``random.Random`` it seeds; each example then
checks many requests made from it (cheap to make, so the run stays fast), each
one through the whole dispatcher under ``wsgiref.validate.validator``:

- never an exception, never a 500;
- SCRIPT_NAME + PATH_INFO is the normalized path, PATH_INFO "" or starting with "/";
- the status, app, SCRIPT_NAME and PATH_INFO equal those of ``model``, a
  brute-force reading of DESIGN.md "Routing" that tries every claim;
- on well-formed paths, the same split as werkzeug's DispatcherMiddleware;
- ``PathTable.match`` (by first segment and claim lengths) finds what walking
  the segments finds, and ``normalize_path`` agrees with the model's.

Each test counts the requests it checked and asserts its share of the run's
100k+ generated cases (printed with ``pytest -s``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_from_bytes
from wsgiref.validate import validator

import pytest
from apphost.routing.claims import Claim, Claimant, Route, Source, normalize
from apphost.routing.dispatcher import Dispatcher
from apphost.routing.dynamic import DynamicApps
from apphost.routing.hosts import parse_host
from apphost.routing.paths import normalize_path
from apphost.routing.table import build_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import create_environ

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

SERVER = "example.com"
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)

# -- apps and a cheap WSGI runner -------------------------------------------------------------


def echo(name: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = json.dumps([name, environ["SCRIPT_NAME"], environ["PATH_INFO"]]).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return validator(app)


def factory_for(cid: int) -> Any:
    def make(key: str) -> WSGIApplication | None:
        return None if key == "b" else echo(f"{cid}[{key}]")

    return make


BASE_ENVIRON = create_environ("/", "http://localhost")


def run(app: WSGIApplication, environ: dict[str, Any]) -> tuple[int, Any]:
    """(status, [app, SCRIPT_NAME, PATH_INFO]) for a 200, else (status, None)."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = int(statuses[0][:3])
    return status, (json.loads(body) if status == 200 else None)


# -- claims ----------------------------------------------------------------------------------

CLAIM_SEGMENTS = ["a", "b", "é", "a b", "x.y"]
CLAIM_HOSTS: list[dict[str, str]] = [
    {},
    {},
    {},
    {},
    {"host": "h.org"},
    {"host": "h.org:8080"},
    {"host": "H.org:80"},
    {"host": "a.example.com"},
    {"subdomain": "a"},
    {"subdomain": "b.a"},
    {"subdomain": "*"},
    {"subdomain": "*.a"},
    {"host": "*.h.org"},
]

claim_spec = st.tuples(
    st.integers(0, len(CLAIM_HOSTS) - 1),
    st.lists(st.sampled_from(CLAIM_SEGMENTS), max_size=3),
    st.booleans(),  # path ends with /*
    st.sampled_from([0, 0, 1]),  # priority
    st.sampled_from([1, 1, 2]),  # source: plugin, config
    st.booleans(),  # a factory, when the claim has exactly one '*'
)


def make_routes(specs: list[tuple[int, list[str], bool, int, int, bool]]) -> list[Route]:
    routes = []
    for cid, (h, segs, wild, priority, source, want_factory) in enumerate(specs):
        where = CLAIM_HOSTS[h]
        path = "".join("/" + s for s in segs) + ("/*" if wild else "")
        stars = wild + ("*" in "".join(where.values()))
        if want_factory and stars == 1:
            claim = Claim(factory=factory_for(cid), path=path, priority=priority, **where)  # type: ignore[arg-type]
        else:
            claim = Claim(app=str(cid), path=path, priority=priority, **where)  # type: ignore[arg-type]
        routes.append(normalize(claim, Claimant(Source(source), f"claimant {cid}"), SERVER))
    return routes


def resolve(route: Route) -> WSGIApplication:
    if route.claim.factory is not None:
        return DynamicApps(route.claim.factory, route.claimant.name, 64, lambda n, a: a)
    assert isinstance(route.claim.app, str)
    return echo(route.claim.app)


# -- requests --------------------------------------------------------------------------------

BAD = "bad"
# (Host header, its normalized (name, port) or BAD); None: no Host header
REQUEST_HOSTS: list[tuple[str | None, Any]] = [
    ("h.org", ("h.org", None)),
    ("H.ORG.", ("h.org", None)),
    ("h.org:8080", ("h.org", 8080)),
    ("h.org:80", ("h.org", 80)),
    ("h.org:443", ("h.org", 443)),
    ("k.h.org", ("k.h.org", None)),
    ("b.k.h.org", ("b.k.h.org", None)),
    ("a.example.com", ("a.example.com", None)),
    ("A.Example.COM:8080", ("a.example.com", 8080)),
    ("b.a.example.com", ("b.a.example.com", None)),
    ("c.b.a.example.com", ("c.b.a.example.com", None)),
    ("k.example.com", ("k.example.com", None)),
    ("b.example.com.", ("b.example.com", None)),
    ("example.com", ("example.com", None)),
    ("evilexample.com", ("evilexample.com", None)),
    ("aaexample.com", ("aaexample.com", None)),
    ("b.aaexample.com", ("b.aaexample.com", None)),
    ("xa.example.com", ("xa.example.com", None)),
    ("[::1]:80", ("[::1]", 80)),
    ("other.net", ("other.net", None)),
    (None, None),
]
BAD_HOSTS: list[tuple[str | None, Any]] = [
    ("a.example.com, b.example.com", BAD),
    ("[::1", BAD),
    ("", BAD),
    ("h..org", BAD),
    ("h.org:0", BAD),
    ("é.example.com", BAD),
]

# Request segments as bytes; "ENC" stands for an encoded slash or backslash.
REQUEST_SEGMENTS = [
    b"a", b"b", b"c", "é".encode(), b"\xe9", b"a b", b"x.y", b"a", b"b", b"..", b".", b"",
    b"_apphost", b"%", b"ENC",
]  # fmt: skip
ENCODED = [(b"a%2Fb", b"a/b"), (b"a%2fb", b"a/b"), (b"a%5Cb", b"a\\b"), (b"a%5cb", b"a\\b")]


@dataclass
class Request:
    host: str | None
    proto: str
    scheme: str
    path_info: str  # a WSGI string
    raw: str  # REQUEST_URI

    def environ(self) -> dict[str, Any]:
        environ = dict(BASE_ENVIRON)
        if self.host is not None:
            environ["HTTP_HOST"] = self.host
        else:
            del environ["HTTP_HOST"]
        environ["SERVER_PROTOCOL"] = self.proto
        environ["wsgi.url_scheme"] = self.scheme
        environ["PATH_INFO"] = self.path_info
        environ["REQUEST_URI"] = environ["RAW_URI"] = self.raw
        return environ


def fits(route: Route, name: str) -> bool:
    """Roughly: could a request for ``name`` reach ``route`` (to aim requests at claims)."""
    key = route.host_key.split(":")[0]
    return route.host_kind == "any" or name == key or name.endswith("." + key)


def make_request(rnd: random.Random, routes: list[Route], nul: bool = True) -> Request:
    host = rnd.choice(BAD_HOSTS if rnd.random() < 0.1 else REQUEST_HOSTS)[0]
    segments: list[bytes] = []
    if routes and rnd.random() < 0.7:  # aim at a claim, to hit the edges
        route = rnd.choice(routes)
        base = route.path.encode("latin-1")
        segments = base.split(b"/")[1:] if base else []
        if route.path_wild:
            segments.append(rnd.choice(REQUEST_SEGMENTS[:7]))
        near = [h for h, parsed in REQUEST_HOSTS if parsed and fits(route, parsed[0])]
        if near and rnd.random() < 0.8:
            host = rnd.choice(near)
    for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
        segments.insert(rnd.randint(0, len(segments)), rnd.choice(REQUEST_SEGMENTS))
    if nul and rnd.random() < 0.01:
        segments.append(b"\x00")
    decoded, raw = [], []
    for seg in segments:
        if seg == b"ENC":
            enc, dec = rnd.choice(ENCODED)
            decoded.append(dec)
            raw.append(enc.decode())
        else:
            decoded.append(seg)
            raw.append(quote_from_bytes(seg, safe="._"))
    if not segments and rnd.random() < 0.2:
        path_info, raw_path = "", ""
    else:
        path_info = b"".join(b"/" + s for s in decoded).decode("latin-1") or "/"
        raw_path = "".join("/" + s for s in raw) or "/"
    query = rnd.choice(["", "", "?q=%2F", "?x=/../.."])
    return Request(
        host,
        rnd.choice(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]),
        rnd.choice(["http", "https"]),
        path_info,
        raw_path + query,
    )


# -- the reference model -----------------------------------------------------------------------


def model_normalize(path: str) -> str | None:
    """RFC 3986 remove_dot_segments (section 5.2.4), after collapsing repeated slashes."""
    if not path:
        return ""
    while "//" in path:
        path = path.replace("//", "/")
    out = ""
    while path:
        if path.startswith("/./") or path == "/.":
            path = "/" + path[3:] if path != "/." else "/"
        elif path.startswith("/../") or path == "/..":
            if not out:
                return None
            path = "/" + path[4:] if path != "/.." else "/"
            out = out[: out.rfind("/")]
        else:
            end = path.find("/", 1)
            end = len(path) if end < 0 else end
            out, path = out + path[:end], path[end:]
    return out


def model(routes: list[Route], req: Request, allow_encoded: bool) -> tuple[int, Any, str | None]:
    """(status, [app, SCRIPT_NAME, PATH_INFO] or None, normalized path) by trying every claim."""
    if req.host is None:
        if req.proto == "HTTP/1.1":
            return 400, None, None
        name, port = None, None
    else:
        expected = dict(REQUEST_HOSTS + BAD_HOSTS)[req.host]
        if expected == BAD:
            return 400, None, None
        name, port = expected
    path = req.path_info
    raw = req.raw.split("?")[0].upper()
    if "\x00" in path or (not allow_encoded and ("%2F" in raw or "%5C" in raw)):
        return 400, None, None
    norm = model_normalize(path)
    if norm is None:
        return 400, None, None
    if norm == "/_apphost" or norm.startswith("/_apphost/"):
        return 404, None, norm
    if port is None:
        port = 443 if req.scheme == "https" else 80

    by_key: dict[Any, list[Route]] = {}
    for r in routes:
        by_key.setdefault(r.key, []).append(r)
    winners = []
    for group in by_key.values():
        top = max(r.rank for r in group)
        best = [r for r in group if r.rank == top]
        winners.append((best[0], len(best) > 1))

    def knows(r: Route) -> bool:
        if name is None:
            return r.host_kind == "any"
        return {
            "host_port": r.host_key == f"{name}:{port}",
            "host": r.host_key == name,
            "subdomain": name == f"{r.host_key}.{SERVER}",
            "wildcard": "." in name and name.split(".", 1)[1] == r.host_key,
            "any": True,
        }[r.host_kind]

    for kind in ("host_port", "host", "subdomain", "wildcard", "any"):
        candidates = [(r, c) for r, c in winners if r.host_kind == kind and knows(r)]
        if candidates:
            break
    req_segs = norm[1:].split("/") if norm else []
    best_score, best = (-1, False), None
    for r, conflicted in candidates:
        claim_segs = r.path[1:].split("/") if r.path else []
        d = len(claim_segs)
        if req_segs[:d] != claim_segs:
            continue
        if r.path_wild and not (len(req_segs) > d and req_segs[d]):
            continue
        score = (d + 1, False) if r.path_wild else (d, True)
        if score > best_score:
            best_score, best = score, (r, conflicted)
    if best is None:
        return 404, None, norm
    r, conflicted = best
    depth = best_score[0]
    script_name = "".join("/" + s for s in req_segs[:depth])
    path_info = norm[len(script_name) :]
    if conflicted:
        return 503, None, norm
    if r.claim.factory is None:
        return 200, [str(r.claim.app), script_name, path_info], norm
    if r.path_wild:
        try:
            key = req_segs[depth - 1].encode("latin-1").decode("utf-8")
        except UnicodeError:
            return 404, None, norm
    else:
        assert name is not None
        key = name.split(".", 1)[0]
    if key == "b":  # the factories' "no such app"
        return 404, None, norm
    return 200, [f"{r.claimant.name.split()[-1]}[{key}]", script_name, path_info], norm


# -- the properties ----------------------------------------------------------------------------

MODEL_EXAMPLES, MODEL_REQUESTS = 500, 200
DIFF_EXAMPLES, DIFF_REQUESTS = 150, 100
FUZZ_EXAMPLES, FUZZ_REQUESTS = 300, 20


def test_router_agrees_with_model() -> None:
    checked = [0]

    @settings(SETTINGS, max_examples=MODEL_EXAMPLES)
    @given(
        specs=st.lists(claim_spec, max_size=12),
        allow_encoded=st.booleans(),
        rnd=st.randoms(use_true_random=True),
    )
    def check(specs: list[Any], allow_encoded: bool, rnd: random.Random) -> None:
        routes = make_routes(specs)
        table, _ = build_table(routes, SERVER, resolve)
        dispatcher = validator(Dispatcher(table, allow_encoded_slashes=allow_encoded))
        for _ in range(MODEL_REQUESTS):
            req = make_request(rnd, routes)
            status, got = run(dispatcher, req.environ())
            assert status != 500
            expected, want, norm = model(routes, req, allow_encoded)
            assert (status, got) == (expected, want), req
            if status == 200:
                _, script_name, path_info = got
                assert script_name + path_info == norm
                assert path_info == "" or path_info.startswith("/")
            checked[0] += 1

    check()
    print(f"model: {checked[0]} generated requests")
    assert checked[0] >= MODEL_EXAMPLES * MODEL_REQUESTS


def test_same_split_as_dispatcher_middleware() -> None:
    """Host-less exact claims on well-formed paths: werkzeug's DispatcherMiddleware agrees."""
    checked = [0]
    well_formed = [s for s in REQUEST_SEGMENTS if s not in (b"..", b".", b"", b"ENC", b"_apphost")]

    @settings(SETTINGS, max_examples=DIFF_EXAMPLES)
    @given(
        paths=st.lists(
            st.lists(st.sampled_from(CLAIM_SEGMENTS), min_size=1, max_size=4), max_size=15
        ),
        rnd=st.randoms(use_true_random=True),
    )
    def check(paths: list[list[str]], rnd: random.Random) -> None:
        mounts = {"".join("/" + s for s in segs) for segs in paths}
        claims = [Claim(app="root", path="/")] + [Claim(app=m, path=m) for m in mounts]
        routes = [normalize(c, Claimant(Source.PLUGIN, "p", "d==1"), SERVER) for c in claims]
        table, _ = build_table(routes, SERVER, resolve)
        ours = validator(Dispatcher(table))
        theirs = validator(
            DispatcherMiddleware(
                echo("root"), {m.encode().decode("latin-1"): echo(m) for m in mounts}
            )
        )
        mount_list = sorted(mounts)
        for _ in range(DIFF_REQUESTS):
            segments = []
            if mount_list and rnd.random() < 0.7:
                segments = [s.encode() for s in rnd.choice(mount_list)[1:].split("/")]
            for _ in range(rnd.choice([0, 1, 1, 2])):
                segments.insert(rnd.randint(0, len(segments)), rnd.choice(well_formed))
            path = b"".join(b"/" + s for s in segments).decode("latin-1")
            if rnd.random() < 0.2:
                path += "/"
            req = Request(
                SERVER, "HTTP/1.1", "http", path, quote_from_bytes(path.encode("latin-1"), safe="/")
            )
            assert run(ours, req.environ()) == run(theirs, req.environ())
            checked[0] += 1

    check()
    print(f"DispatcherMiddleware: {checked[0]} generated requests")
    assert checked[0] >= DIFF_EXAMPLES * DIFF_REQUESTS


latin1 = st.characters(max_codepoint=255)


def test_arbitrary_hosts_and_paths_never_fail() -> None:
    """Any Host text and any PATH_INFO: 400, 404 or a consistent match, never an exception."""
    checked = [0]
    specs = [
        (0, [], False, 0, 1, False),
        (4, ["a"], False, 0, 1, False),
        (10, [], False, 0, 1, True),
    ]
    routes = make_routes(specs)
    table, _ = build_table(routes, SERVER, resolve)
    dispatcher = validator(Dispatcher(table))

    @settings(SETTINGS, max_examples=FUZZ_EXAMPLES)
    @given(
        st.lists(
            st.tuples(
                st.one_of(st.text(max_size=30), st.text("abhor.:[]1-_ ,", max_size=30)),
                st.text(latin1, max_size=30).map(lambda s: "/" + s),
            ),
            min_size=FUZZ_REQUESTS,
            max_size=FUZZ_REQUESTS,
        )
    )
    def check(requests: list[tuple[str, str]]) -> None:
        for host, path in requests:
            if not host.isascii():  # a server hands header bytes over as latin-1
                host = host.encode("utf-8").decode("latin-1")
            raw = quote_from_bytes(path.encode("latin-1"), safe="/\\")
            environ = Request(host, "HTTP/1.1", "http", path, raw).environ()
            status, got = run(dispatcher, environ)
            parsed = parse_host(host)
            if parsed is None:
                assert status == 400
            else:
                assert parsed[0] == parsed[0].lower() and parsed[0].isascii()
                assert parse_host(parsed[0]) == (parsed[0], None)
                assert status in (200, 400, 404)
                norm = model_normalize(path)
                if status == 200:
                    assert got[1] + got[2] == norm
                elif status == 400:
                    assert norm is None or "\x00" in path
            checked[0] += 1

    check()
    print(f"fuzz: {checked[0]} generated requests")
    assert checked[0] >= FUZZ_EXAMPLES * FUZZ_REQUESTS


INDEX_EXAMPLES, INDEX_REQUESTS = 300, 50
INDEX_SEGMENTS = ["a", "b", "ab", "a b", "abc"]  # of different lengths, to share a first segment


def test_path_index_agrees_with_segment_walk() -> None:
    """``PathTable.match`` by first segment and claim lengths finds what walking the segments finds."""
    checked = [0]

    @settings(SETTINGS, max_examples=INDEX_EXAMPLES)
    @given(
        claims=st.lists(
            st.tuples(st.lists(st.sampled_from(INDEX_SEGMENTS), max_size=4), st.booleans()),
            max_size=15,
        ),
        rnd=st.randoms(use_true_random=True),
    )
    def check(claims: list[tuple[list[str], bool]], rnd: random.Random) -> None:
        paths = {"".join("/" + s for s in segs) + ("/*" if wild else "") for segs, wild in claims}
        routes = [
            normalize(Claim(app="x", path=p or "/"), Claimant(Source.PLUGIN, "p"), SERVER)
            for p in paths
        ]
        table, _ = build_table(routes, SERVER, resolve)
        for _ in range(INDEX_REQUESTS):
            segs = [rnd.choice([*INDEX_SEGMENTS, "c"]) for _ in range(rnd.randint(0, 6))]
            path = "".join("/" + s for s in segs) + rnd.choice(["", "", "/"])
            assert table.any.match(path) == table.any._walk(path), (sorted(paths), path)
            checked[0] += 1

    check()
    assert checked[0] >= INDEX_EXAMPLES * INDEX_REQUESTS


@settings(SETTINGS, max_examples=2_000)
@given(st.lists(st.sampled_from(["a", ".", "..", "", "...", ".a", "a."]), max_size=12))
def test_normalize_path_agrees_with_model(segments: list[str]) -> None:
    """Repeated slashes and dot segments, however mixed: RFC 3986 after collapsing slashes."""
    path = "".join("/" + s for s in segments) or "/"
    assert normalize_path(path) == model_normalize(path)


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("", ""),
        ("/", "/"),
        ("//a//", "/a/"),
        ("/a/./b/../c/.", "/a/c/"),
        ("/a/..", "/"),
        ("/..", None),
        ("/.../x", "/.../x"),
    ],
)
def test_model_normalize(path: str, expect: str | None) -> None:
    assert model_normalize(path) == expect

"""Claims: validation and normalization into routes."""

from __future__ import annotations

from typing import Any

import pytest
from apphost.errors import ClaimError
from apphost.routing.claims import Claim, Claimant, Route, Source, normalize


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return []


def factory(key: str) -> Any:
    return app


def route(claim: object, server_name: str = "example.com") -> Route:
    return normalize(claim, Claimant(Source.PLUGIN, "test", "t==1"), server_name)


@pytest.mark.parametrize(
    ("claim", "key"),
    [
        (Claim(app="a"), ("any", "", "", False)),
        (Claim(app="a", path="/"), ("any", "", "", False)),
        (Claim(app="a", path="/blog/"), ("any", "", "/blog", False)),
        (Claim(app="a", path="/a/b"), ("any", "", "/a/b", False)),
        (Claim(app="a", path="/café"), ("any", "", "/caf\xc3\xa9", False)),
        (Claim(app="a", path="/_apphostx"), ("any", "", "/_apphostx", False)),
        (Claim(app="a", path="/.well-known"), ("any", "", "/.well-known", False)),
        (Claim(app=app, path="/u/*"), ("any", "", "/u", True)),
        (Claim(factory=factory, path="/*"), ("any", "", "", True)),
        (Claim(factory=factory, path="/u/*/"), ("any", "", "/u", True)),
        (Claim(app="a", subdomain="Blog"), ("subdomain", "blog", "", False)),
        (Claim(app="a", subdomain="a.b_c"), ("subdomain", "a.b_c", "", False)),
        (Claim(app="a", subdomain="Bücher.X"), ("subdomain", "xn--bcher-kva.x", "", False)),
        (Claim(app="a", subdomain="1"), ("subdomain", "1", "", False)),
        (Claim(factory=factory, subdomain="*"), ("wildcard", "example.com", "", False)),
        (Claim(factory=factory, subdomain="*.eu"), ("wildcard", "eu.example.com", "", False)),
        (Claim(app="a", host="*.example.com"), ("wildcard", "example.com", "", False)),
        (Claim(app="a", host="Blog.Example.ORG."), ("host", "blog.example.org", "", False)),
        (Claim(app="a", host="bücher.example"), ("host", "xn--bcher-kva.example", "", False)),
        (Claim(app="a", host="*.bücher.example"), ("wildcard", "xn--bcher-kva.example", "", False)),
        (
            Claim(app="a", host="blog.example.org:8080"),
            ("host_port", "blog.example.org:8080", "", False),
        ),
        (Claim(app="a", host="[0::1]:80"), ("host_port", "[::1]:80", "", False)),
        (Claim(app="a", host="10.0.0.1"), ("host", "10.0.0.1", "", False)),
        (Claim(app="a", subdomain="www", path="/api"), ("subdomain", "www", "/api", False)),
        (Claim(factory=factory, host="*.t.org", path="/x"), ("wildcard", "t.org", "/x", False)),
    ],
)
def test_valid(claim: Claim, key: tuple[str, str, str, bool]) -> None:
    assert route(claim).key == key


def test_subdomain_star_and_host_star_are_one_route() -> None:
    a = route(Claim(factory=factory, subdomain="*"))
    b = route(Claim(app="x", host="*.example.com"))
    assert a.key == b.key


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("not a claim", "expected apphost.Claim"),
        (Claim(), "exactly one of app= and factory="),
        (Claim(app="a", factory=factory), "exactly one of app= and factory="),
        (Claim(app=42), "app name or a WSGI callable"),  # type: ignore[arg-type]
        (Claim(factory=42), "factory= must be callable"),  # type: ignore[arg-type]
        (Claim(app="a", priority=True), "priority= must be an int"),
        (Claim(app="a", priority="1"), "priority= must be an int"),  # type: ignore[arg-type]
        (Claim(app="a", subdomain="x", host="y.org"), "not both"),
        (Claim(app="a", path=None), "path= must be a string"),  # type: ignore[arg-type]
        (Claim(app="a", path="blog"), "must start with '/'"),
        (Claim(app="a", path="//"), "empty"),
        (Claim(app="a", path="/a//b"), "empty"),
        (Claim(app="a", path="/a/./b"), "'.'"),
        (Claim(app="a", path="/a/../b"), "'..'"),
        (Claim(app="a", path="/a/*/b"), "whole last segment"),
        (Claim(app="a", path="/a*"), "whole last segment"),
        (Claim(app="a", path="/a/b?x"), "NUL, '?' or '#'"),
        (Claim(app="a", path="/a#x"), "NUL, '?' or '#'"),
        (Claim(app="a", path="/a\x00"), "NUL, '?' or '#'"),
        (Claim(app="a", path="/_apphost"), "host's own"),
        (Claim(app="a", path="/_apphost/health"), "host's own"),
        (Claim(factory=factory, path="/_apphost/*"), "host's own"),
        (Claim(app="a", subdomain=""), "non-empty string"),
        (Claim(app="a", subdomain=3), "non-empty string"),  # type: ignore[arg-type]
        (Claim(app="a", subdomain="a.*"), "whole leftmost label"),
        (Claim(app="a", subdomain="a*"), "whole leftmost label"),
        (Claim(app="a", subdomain="x.example.com."), "DNS label"),
        (Claim(app="a", subdomain="x:80"), "DNS label"),
        (Claim(app="a", subdomain="[::1]"), "DNS label"),
        (Claim(app="a", subdomain="a b"), "DNS label"),
        (Claim(app="a", host="*"), "leave host= out"),
        (Claim(app="a", host="a, b"), "not a valid host"),
        (Claim(app="a", host="1.2.3.999"), "not a valid host"),
        (Claim(app="a", host="*.example.com:80"), "wildcard host cannot have a port"),
        (Claim(app="a", host="ü" * 70 + ".org"), "internationalized"),
        (Claim(factory=factory), "exactly one '*'"),
        (Claim(factory=factory, path="/u"), "exactly one '*'"),
        (Claim(factory=factory, subdomain="*", path="/u/*"), "exactly one '*'"),
    ],
)
def test_invalid(claim: object, message: str) -> None:
    with pytest.raises(ClaimError) as info:
        route(claim)
    assert message in str(info.value)


def test_route_records_claim_claimant_and_rank() -> None:
    claim = Claim(app="a", path="/x", priority=3)
    claimant = Claimant(Source.CONFIG, "[[claims]] #1 (apphost.toml)")
    r = normalize(claim, claimant, "example.com")
    assert (r.claim, r.claimant, r.rank) == (claim, claimant, (2, claim.priority))
    assert str(r.claimant) == "config [[claims]] #1 (apphost.toml)"


@pytest.mark.parametrize(
    ("claim", "text"),
    [
        (Claim(app="a"), "/"),
        (Claim(app="a", path="/café"), "/café"),
        (Claim(factory=factory, path="/u/*"), "/u/*"),
        (Claim(app="a", subdomain="www", path="/api"), "www.<server_name>/api"),
        (Claim(factory=factory, subdomain="*"), "*.example.com"),
        (Claim(app="a", host="x.org:81"), "x.org:81"),
    ],
)
def test_describe(claim: Claim, text: str) -> None:
    assert route(claim).describe() == text


def test_key_from() -> None:
    assert route(Claim(app="a", path="/u/*")).key_from is None
    assert route(Claim(factory=factory, path="/u/*")).key_from == "path"
    assert route(Claim(factory=factory, subdomain="*")).key_from == "host"

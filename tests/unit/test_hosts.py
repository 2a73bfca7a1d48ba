"""Host names: parse_host, to_ascii, allowed_hosts patterns."""

from __future__ import annotations

import time

import pytest
from apphost.routing.hosts import (
    MAX_HOST_LENGTH,
    host_matches,
    host_pattern,
    is_dns_labels,
    parse_host,
    to_ascii,
)


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("example.com", ("example.com", None)),
        ("API.Example.COM.", ("api.example.com", None)),
        ("API.Example.COM.:8080", ("api.example.com", 8080)),
        ("localhost", ("localhost", None)),
        ("a_b.example.org", ("a_b.example.org", None)),
        ("_dmarc.example.org", ("_dmarc.example.org", None)),
        ("xn--bcher-kva.example", ("xn--bcher-kva.example", None)),
        ("a" * 63 + ".com", ("a" * 63 + ".com", None)),
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("example.com:65535", ("example.com", 65535)),
        ("example.com:00080", ("example.com", 80)),
        ("[::1]", ("[::1]", None)),
        ("[::1]:8080", ("[::1]", 8080)),
        ("[0:0:0:0:0:0:0:1]", ("[::1]", None)),
        ("[2001:DB8::A]:443", ("[2001:db8::a]", 443)),
        ("1.example", ("1.example", None)),
        ("example.123a", ("example.123a", None)),
    ],
)
def test_valid(value: str, expect: tuple[str, int | None]) -> None:
    assert parse_host(value) == expect


def test_ipv6_spellings_are_one_host() -> None:
    # (the text of IPv4-mapped addresses differs between Python versions)
    assert parse_host("[::ffff:1.2.3.4]") == parse_host("[0::FFFF:102:304]") is not None


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "..",
        "example..com",
        ".example.com",
        "example.com..",
        "-a.com",
        "a-.com",
        "a" * 64 + ".com",
        ("a" * 63 + ".") * 4 + "com",  # 259 > 253
        "a b",
        "a\tb",
        "a, b",
        "a,b",
        "bücher.example",
        "example.com\u212a",  # Kelvin sign: IGNORECASE must not fold it to k
        "\u017f.example",  # long s: IGNORECASE must not fold it to s
        "example.com:",
        "example.com:0",
        "example.com:65536",
        "example.com:99999",
        "example.com:123456",
        "example.com:-1",
        "example.com:8o",
        "example.com:80:80",
        "user@example.com",
        "example.com/x",
        "[::1",
        "::1",
        "::1]",
        "[::1]:",
        "[::1]x",
        "[::g]",
        "[1:2:3:4:5:6:7:8:9]",
        "[fe80::1%25eth0]",
        "[]",
        "1.2.3.999",
        "1.2.3",
        "01.2.3.4",
        "0x7f.0.0.1",
        "8080",
        "example.com\x00",
        "x" * (MAX_HOST_LENGTH + 1),
    ],
)
def test_invalid(value: str) -> None:
    assert parse_host(value) is None


def test_oversized_is_rejected_before_matching() -> None:
    start = time.perf_counter()
    for _ in range(100):
        assert parse_host("a." * 50_000 + "com") is None
        assert parse_host("a" * 100_000) is None
    assert time.perf_counter() - start < 1


def test_no_catastrophic_backtracking() -> None:
    start = time.perf_counter()
    for n in range(1, MAX_HOST_LENGTH):
        parse_host("a" * n + "!")
        parse_host("a-" * (n // 2) + "-")
        parse_host("a." * (n // 2) + ".")
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("Example.COM", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Bücher.EXAMPLE", "xn--bcher-kva.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("bücher.example:8080", "xn--bcher-kva.example:8080"),
        ("ÉCOLE.fr", "xn--cole-9oa.fr"),
    ],
)
def test_to_ascii(value: str, expect: str) -> None:
    assert to_ascii(value) == expect


def test_to_ascii_refuses_bad_labels() -> None:
    with pytest.raises(ValueError, match="internationalized"):
        to_ascii("ü" * 70 + ".example")


def test_is_dns_labels() -> None:
    assert is_dns_labels("www")
    assert is_dns_labels("a.b_c")
    assert is_dns_labels("1")
    assert not is_dns_labels("a.")
    assert not is_dns_labels("a:80")
    assert not is_dns_labels("[::1]")
    assert not is_dns_labels("a" * 64)


@pytest.mark.parametrize(
    ("pattern", "expect"),
    [
        ("Example.COM", "example.com"),
        ("example.com:8080", "example.com"),
        ("*.Example.com.", "*.example.com"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("[0::1]", "[::1]"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_host_pattern(pattern: str, expect: str) -> None:
    assert host_pattern(pattern) == expect


@pytest.mark.parametrize("pattern", ["*", "*.", "a b", "**.x", "x.*", ""])
def test_host_pattern_invalid(pattern: str) -> None:
    with pytest.raises(ValueError):
        host_pattern(pattern)


@pytest.mark.parametrize(
    ("host", "expect"),
    [
        ("example.com", True),
        ("a.example.com", False),
        ("a.example.org", True),
        ("a.b.example.org", True),
        ("example.org", False),
        ("evilexample.org", False),
        ("[::1]", True),
        ("other.net", False),
    ],
)
def test_host_matches(host: str, expect: bool) -> None:
    assert host_matches(host, frozenset({"example.com", "*.example.org", "[::1]"})) is expect

"""Every waitress internal that ``apphost.serving._waitress`` lists exists in the installed waitress.

The module's docstring is the list: one bullet per waitress object, naming
each attribute, method and keyword apphost touches. This test reads the
bullets and looks every name up on real objects (a server with one listener
and one with two, a channel, a parser, a task dispatcher, a trigger), so an
upgrade that moves one fails here instead of in a drain; and the installed
version must be inside ``_waitress.TESTED``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import itertools
import re
import socket
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest
import waitress
from apphost.serving import _waitress
from packaging.specifiers import SpecifierSet
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.proxy_headers import proxy_headers_middleware
from waitress.receiver import ChunkedReceiver
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

TOKEN = re.compile(r"``([^`]+)``")
CALL = re.compile(r"^(?P<name>[^(]*)(?:\((?P<args>.*)\))?$")


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return []


@pytest.fixture(scope="module")
def objects() -> Iterator[dict[str, list[object]]]:
    """Where each bullet's names are looked up, by the bullet's subject (its first name)."""
    one = waitress.create_server(
        app, map={}, listen="127.0.0.1:0", _dispatcher=ThreadedTaskDispatcher()
    )
    two = waitress.create_server(
        app, map={}, listen="127.0.0.1:0 127.0.0.1:0", _dispatcher=ThreadedTaskDispatcher()
    )
    adj = Adjustments()
    mine, theirs = socket.socketpair()
    channel = HTTPChannel(one, mine, ("127.0.0.1", 1), adj, map={})
    parser = HTTPRequestParser(adj)
    dispatcher = ThreadedTaskDispatcher()
    roots: dict[str, list[object]] = {
        "waitress": [waitress],
        "wasyncore": [wasyncore],
        "BaseWSGIServer": [one],
        "MultiSocketServer": [two],
        "HTTPChannel": [channel],
        "HTTPRequestParser": [parser],
        "ThreadedTaskDispatcher": [dispatcher],
        "trigger.trigger": [one.trigger],
        "proxy_headers_middleware": [proxy_headers_middleware],
        "ChunkedReceiver": [ChunkedReceiver(io.BytesIO())],
        "ErrorTask": [ErrorTask(channel, parser)],
        "WSGITask": [WSGITask(channel, parser)],
        "utilities": [waitress.utilities],
        # create_server(_dispatcher=) takes a dispatcher, and queues channels as its tasks
        "create_server": [dispatcher, channel],
    }
    yield roots
    for server in (one, two):
        wasyncore.close_all(_waitress.socket_map(server), ignore_all=True)
    channel.close()
    theirs.close()


def bullets() -> list[str]:
    """The docstring's bullets, each joined into one line."""
    found: list[str] = []
    for line in (_waitress.__doc__ or "").splitlines():
        if line.startswith("- ``"):
            found.append(line[2:])
        elif found and line.startswith("  ") and line.strip():
            found[-1] += " " + line.strip()
    return found


def _lookup(path: str, where: list[object], roots: dict[str, list[object]]) -> object:
    """``path`` (dotted) on one of ``where``, or from a root it starts with."""
    for root in sorted(roots, key=len, reverse=True):
        if path == root:
            return roots[root][0]
        if path.startswith(root + "."):
            path, where = path[len(root) + 1 :], roots[root]
            break
    for obj in where:
        target: Any = obj
        try:
            for part in path.split("."):
                target = getattr(target, part)
        except AttributeError:
            continue
        return target
    raise AssertionError(f"{path} is not on {where}")


def _check(token: str, where: list[object], roots: dict[str, list[object]]) -> None:
    if token == 'environ["waitress.client_disconnected"].__self__':
        return _check_client_disconnected(roots)
    if token.isupper():  # a request header, as waitress keys them: read where it answers
        assert f'"{token}"' in inspect.getsource(waitress.task), token
        return None
    if token.endswith("*"):  # ``trusted_proxy*``: the adjustments of that name
        assert [a for a in vars(Adjustments) if a.startswith(token[:-1])], token
        return None
    module, _, attr = token.partition(".")
    if attr and importlib.util.find_spec(f"apphost.serving.{module}"):  # ours, named beside
        assert hasattr(importlib.import_module(f"apphost.serving.{module}"), attr), token
        return None
    m = CALL.match(token)
    assert m, token
    target = _lookup(m.group("name"), where, roots)
    keywords = [
        a.strip()[:-1] for a in (m.group("args") or "").split(",") if a.strip().endswith("=")
    ]
    if m.group("args") is not None:
        assert callable(target), f"{token}: not callable"
    if keywords:
        parameters = inspect.signature(target).parameters  # type: ignore[arg-type]
        assert set(keywords) <= set(parameters), f"{token}: {list(parameters)}"
    return None


def _check_client_disconnected(roots: dict[str, list[object]]) -> None:
    (server,) = roots["BaseWSGIServer"]
    mine, theirs = socket.socketpair()
    try:
        channel = HTTPChannel(server, mine, ("127.0.0.1", 1), Adjustments(), map={})
        request = HTTPRequestParser(Adjustments())
        request.received(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        environ = WSGITask(channel, request).get_environment()
        assert environ["waitress.client_disconnected"].__self__ is channel
        assert _waitress.channel_of(environ) is channel
        channel.close()
    finally:
        theirs.close()


def test_the_docstring_lists_waitress_internals() -> None:
    subjects = [TOKEN.search(b).group(1) for b in bullets()]  # type: ignore[union-attr]
    assert len(subjects) >= 6, subjects
    assert {"HTTPChannel", "HTTPRequestParser", "trigger.trigger"} <= set(subjects)


@pytest.mark.parametrize("bullet", bullets(), ids=lambda b: TOKEN.search(b).group(1))  # type: ignore[union-attr]
def test_every_listed_name_exists(bullet: str, objects: dict[str, list[object]]) -> None:
    subject, *names = TOKEN.findall(bullet)
    m = CALL.match(subject)
    assert m, subject
    base = m.group("name")
    if m.group("args") is not None:  # a call: its keywords are those of waitress's function
        _check(subject, [waitress], {k: v for k, v in objects.items() if k != base})
    where = objects[base] if base in objects else [_lookup(base, [], objects)]
    for name in names:
        _check(name, where, objects)


def test_the_installed_waitress_is_the_tested_one() -> None:
    installed = version("waitress")
    assert installed in SpecifierSet(_waitress.TESTED), (installed, _waitress.TESTED)


def test_channel_asks_what_waitress_asks(objects: dict[str, list[object]]) -> None:
    """``Channel.readable()``/``writable()`` repeat waitress's tests: the same answer every time."""
    (server,) = objects["BaseWSGIServer"]
    socks = socket.socketpair()
    try:
        for lookahead, will_close, when_flushed, queued, outbuf in itertools.product(
            (0, 1), (False, True), (False, True), (0, 1, 2), (0, 7)
        ):
            adj = Adjustments(channel_request_lookahead=lookahead)
            ours = _waitress.Channel(server, socks[0], ("127.0.0.1", 1), adj, map={})
            ours.will_close, ours.close_when_flushed = will_close, when_flushed
            ours.requests, ours.total_outbufs_len = [None] * queued, outbuf
            theirs = HTTPChannel.readable(ours), HTTPChannel.writable(ours)
            assert (ours.readable(), ours.writable()) == (bool(theirs[0]), bool(theirs[1]))
    finally:
        for sock in socks:
            sock.close()

"""``apphost new NAME``: write a plugin distribution that ``pip install -e`` makes live.

    path = create_plugin("blog", "plugins")     # plugins/blog/, or ScaffoldError saying why not
    path = create_plugin("api", ".", asgi=True) # a FastAPI (ASGI) app instead of a WSGI one

writes, for ``NAME`` (its package is ``NAME`` with ``-`` read as ``_``)::

    NAME/pyproject.toml          both entry point groups: NAME = "PACKAGE.app:app", "PACKAGE.hooks"
    NAME/README.md
    NAME/PACKAGE/__init__.py     a docstring only: importing the hooks must not import the app
    NAME/PACKAGE/app.py          the WSGI app (with ``asgi=True``: a FastAPI app, with a lifespan)
    NAME/PACKAGE/hooks.py        claims /NAME for it
    NAME/PACKAGE/py.typed
    NAME/tests/test_PACKAGE.py   mounts it with apphost's pytest fixtures

An existing ``NAME`` directory is never touched.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
import re
import shutil
import sys
from pathlib import Path
from string import Template

from .errors import ApphostError

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class ScaffoldError(ApphostError):
    """A plugin cannot be created under ``name``; ``message`` says why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"cannot create plugin {name!r}: {message}")
        self.name = name
        self.message = message


def package_name(name: str) -> str:
    """The import name for distribution ``name``; ScaffoldError naming the problem if invalid."""
    if not name:
        raise ScaffoldError(name, "give a name, such as 'blog'")
    bad = sorted(set(re.sub(r"[a-z0-9_-]", "", name)))
    if bad:
        raise ScaffoldError(
            name, f"use lowercase letters, digits, '-' and '_' only, not {''.join(bad)!r}"
        )
    if not name[0].isalpha():
        raise ScaffoldError(name, "start with a letter: the name is also a Python package")
    if not _NAME.fullmatch(name):
        raise ScaffoldError(name, "put each '-' or '_' between two letters or digits")
    package = name.replace("-", "_")
    if keyword.iskeyword(package):
        raise ScaffoldError(name, f"{package!r} is a Python keyword, so it cannot be a package")
    if package in sys.stdlib_module_names:
        raise ScaffoldError(name, f"{package!r} would shadow the standard library module")
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:  # not a mere directory (namespace)
        raise ScaffoldError(
            name, f"a module {package!r} is already importable (from {spec.origin})"
        )
    return package


def create_plugin(
    name: str, directory: str | os.PathLike[str] = ".", *, asgi: bool = False
) -> Path:
    """Write the plugin distribution ``directory/name`` and return its path.

    ``asgi``: the app is a FastAPI app (ASGI), which apphost serves through a2wsgi.
    """
    package = package_name(name)
    parent = Path(directory)
    if not parent.is_dir():
        raise ScaffoldError(name, f"directory {str(parent)!r} does not exist")
    root = parent / name
    try:
        root.mkdir()
    except FileExistsError:
        raise ScaffoldError(name, f"{str(root)!r} already exists; not overwriting it") from None
    except OSError as exc:
        raise ScaffoldError(name, f"cannot create {str(root)!r}: {exc}") from None
    names = {"name": name, "package": package}
    try:
        for rel, text in (ASGI_FILES if asgi else FILES).items():
            path = root / Template(rel).substitute(names)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(text).substitute(names), encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise ScaffoldError(name, f"cannot write {str(root)!r}: {exc}") from None
    return root


PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$name"
version = "0.1.0"
description = "An apphost plugin: the $name app, claimed at /$name"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["apphost"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."apphost.apps"]
$name = "$package.app:app"

[project.entry-points."apphost.plugins"]
$name = "$package.hooks"

[tool.setuptools]
packages = ["$package"]

[tool.setuptools.package-data]
$package = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# $name

An apphost plugin: the WSGI app `$package.app:app`, advertised as `$name` in the
`apphost.apps` entry point group, and a hook in `$package.hooks` (entry point
group `apphost.plugins`) claiming `/$name` for it.

    pip install -e .
    apphost routes                 # /$name -> $name
    apphost serve
    curl localhost:8080/$name/

The tests mount the app in a host built in memory, with the fixtures of
apphost's pytest plugin (`apphost_host`, `apphost_client`, `apphost_server`):

    python -m pytest
"""

PACKAGE = '''\
"""$name, an apphost plugin: the app is in ``$package.app``, its hook in ``$package.hooks``.

apphost imports the hooks to build its routes (``apphost routes`` imports
nothing else) and the app on its first request, so keep this module light:
what it imports, every import of the hooks imports too.
"""
'''

APP = '''\
"""$name: an apphost plugin.

``app`` is advertised in ``apphost.apps`` as ``$name``, and ``$package.hooks``
claims ``/$name`` for it::

    $$ curl localhost:8080/$name/x
    Hello from $name!
    script_name=/$name
    path_info=/x
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["app"]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Greet; show the mount (SCRIPT_NAME) and the rest of the path (PATH_INFO)."""
    text = (
        "Hello from $name!\\n"
        f"script_name={environ.get('SCRIPT_NAME', '')}\\n"
        f"path_info={environ.get('PATH_INFO', '')}\\n"
    )
    body = text.encode("latin-1")  # WSGI strings are bytes read as latin-1
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    start_response("200 OK", headers)
    return [body]
'''

HOOKS = '''\
"""$name's hooks: mount the ``$name`` app at ``/$name``."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``/$name`` and everything under it, on any host."""
    return Claim(app="$name", path="/$name")
'''

TEST = '''\
"""$name mounted as ``apphost serve`` mounts it, in a host built in memory."""

from __future__ import annotations

import urllib.request

import pytest
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory, ServerFactory

from $package import hooks
from $package.app import app


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """A host with this plugin's hooks and app, as if both were pip-installed."""
    return apphost_host(
        plugins={"$name": hooks},
        apps={"$name": app},
        strict=True,  # raise if a claim or the app has a problem
    )


def test_mounted_at_its_claim(host: Host, apphost_client: ClientFactory) -> None:
    response = apphost_client(host).get("/$name/x")
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines() == [
        "Hello from $name!",
        "script_name=/$name",
        "path_info=/x",
    ]


def test_serves_live(host: Host, apphost_server: ServerFactory) -> None:
    server = apphost_server(host)
    with urllib.request.urlopen(f"{server.url}/$name/") as response:
        assert response.read().decode().startswith("Hello from $name!")
'''

ASGI_PYPROJECT = PYPROJECT.replace(
    'dependencies = ["apphost"]', 'dependencies = ["apphost", "fastapi"]'
).replace("the $name app, claimed at", "the $name FastAPI app, claimed at")

ASGI_README = """\
# $name

An apphost plugin: the FastAPI (ASGI) app `$package.app:app`, advertised as
`$name` in the `apphost.apps` entry point group, and a hook in
`$package.hooks` (entry point group `apphost.plugins`) claiming `/$name` for
it. apphost serves it through a2wsgi beside WSGI apps: the mount is its
`root_path`, so `url_for` builds links under `/$name`, and apphost runs its
lifespan (startup on its first request, shutdown when the server stops).
WebSocket routes cannot pass through WSGI: `apphost check` reports them.

    pip install -e .
    apphost routes                 # /$name -> $name
    apphost serve
    curl localhost:8080/$name/x

The tests mount the app in a host built in memory, with the fixtures of
apphost's pytest plugin (`apphost_host`, `apphost_client`, `apphost_server`):

    python -m pytest
"""

ASGI_APP = '''\
"""$name: an apphost plugin, a FastAPI app (imported on the first request, not by the hooks).

``app`` is advertised in ``apphost.apps`` as ``$name``, and ``$package.hooks``
claims ``/$name`` for it::

    $$ curl localhost:8080/$name/x
    {"hello":"$name","root_path":"/$name","path":"/x","url":"http://localhost:8080/$name/x"}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

__all__ = ["app"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    """Run by apphost before the first request and when the server stops."""
    yield {"greeting": "hello"}  # each request's request.state


app = FastAPI(title="$name", lifespan=lifespan)


@app.get("/{path:path}")
async def echo(path: str, request: Request) -> dict[str, str]:
    """Greet; show the mount (root_path), the rest of the path, and a link built under it."""
    return {
        request.state.greeting: "$name",
        "root_path": request.scope["root_path"],
        "path": "/" + path,
        "url": str(request.url_for("echo", path=path)),
    }
'''

ASGI_TEST = '''\
"""$name mounted as ``apphost serve`` mounts it, in a host built in memory."""

from __future__ import annotations

import json
import urllib.request

import pytest
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory, ServerFactory

from $package import hooks
from $package.app import app


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """A host with this plugin's hooks and app, as if both were pip-installed."""
    return apphost_host(
        plugins={"$name": hooks},
        apps={"$name": app},
        strict=True,  # raise if a claim, the app or its lifespan startup has a problem
    )


def test_mounted_at_its_claim(host: Host, apphost_client: ClientFactory) -> None:
    response = apphost_client(host).get("/$name/x")
    assert response.status_code == 200
    assert response.get_json() == {
        "hello": "$name",
        "root_path": "/$name",
        "path": "/x",
        "url": "http://localhost/$name/x",
    }
    info = host.view.apps["$name"]
    assert info.interface == "asgi"  # served through a2wsgi


def test_serves_live(host: Host, apphost_server: ServerFactory) -> None:
    server = apphost_server(host)
    with urllib.request.urlopen(f"{server.url}/$name/") as response:
        assert json.load(response)["hello"] == "$name"
'''

# Relative path (a template) -> content (a template): $name and $package.
FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$package/__init__.py": PACKAGE,
    "$package/app.py": APP,
    "$package/hooks.py": HOOKS,
    "$package/py.typed": "",
    "tests/test_$package.py": TEST,
}
ASGI_FILES = {
    **FILES,
    "pyproject.toml": ASGI_PYPROJECT,
    "README.md": ASGI_README,
    "$package/app.py": ASGI_APP,
    "tests/test_$package.py": ASGI_TEST,
}

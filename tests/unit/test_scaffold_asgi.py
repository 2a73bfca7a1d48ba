"""``apphost new NAME --asgi``: a FastAPI plugin distribution, in the same files as a WSGI one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from apphost.scaffold import FILES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Run = Callable[..., tuple[int, str]]


def test_cli_writes_a_fastapi_distribution(run_cli: Run, tmp_path: Path) -> None:
    code, out = run_cli("new", "api-probe", "--asgi", "--directory", str(tmp_path))
    assert code == 0, out
    root = tmp_path / "api-probe"
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert written == {f.replace("$package", "api_probe") for f in FILES}
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["apphost", "fastapi"]
    assert project["entry-points"]["apphost.apps"] == {"api-probe": "api_probe.app:app"}
    source = (root / "api_probe" / "app.py").read_text()
    assert "app = FastAPI(" in source and "lifespan=lifespan" in source
    assert "WebSocket routes cannot pass through WSGI" in (root / "README.md").read_text()


def test_without_asgi_the_app_is_wsgi(run_cli: Run, tmp_path: Path) -> None:
    code, out = run_cli("new", "plain-probe", "-d", str(tmp_path))
    assert code == 0, out
    source = (tmp_path / "plain-probe" / "plain_probe" / "app.py").read_text()
    assert "def app(environ: WSGIEnvironment, start_response: StartResponse)" in source

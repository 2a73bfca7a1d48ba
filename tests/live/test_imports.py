"""What a plugin's ``from apphost import Claim, hookimpl, app_factory`` costs, in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

# Loaded by serving, the CLI, metrics and the own pages: a plugin needs none of them.
HEAVY = ("waitress", "click", "prometheus_client", "apphost.web.pages")
MAX_APPHOST_MODULES = 8  # 7 now: apphost, api, errors, hookspecs, routing, claims, hosts

CODE = """
import json, sys
from apphost import Claim, hookimpl, app_factory
print(json.dumps(sorted(sys.modules)))
"""


def test_the_plugin_imports_load_no_server_cli_metrics_or_pages() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(out.stdout)
    loaded = [m for m in modules if m in HEAVY or m.startswith(tuple(f"{h}." for h in HEAVY))]
    assert loaded == []
    own = [m for m in modules if m == "apphost" or m.startswith("apphost.")]
    print(f"from apphost import Claim, hookimpl, app_factory: {len(own)} apphost modules: {own}")
    assert len(own) <= MAX_APPHOST_MODULES, own

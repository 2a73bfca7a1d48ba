"""The public face: ``apphost`` re-exports what plugin authors use, in a sorted ``__all__``."""

from __future__ import annotations

import apphost
import pytest


def test_all_is_sorted_and_complete() -> None:
    assert apphost.__all__ == sorted(apphost.__all__)
    assert all(hasattr(apphost, name) for name in apphost.__all__)
    public = {name for name in vars(apphost) if not name.startswith("_") and not _is_module(name)}
    assert public - {"annotations"} == set(apphost.__all__) - {"__version__"}


CONTRACT = [
    # what plugins import
    "Claim",
    "app_factory",
    "hookimpl",
    # what hooks see
    "AppInfo",
    "HostView",
    "Status",
    # what the host reports: host.problems, StrictError.problems
    "Problem",
    "ProblemKind",
    # what it raises
    "ApphostError",
    "ConfigError",
    "PluginError",
    "StrictError",
]


@pytest.mark.parametrize("name", CONTRACT)
def test_plugin_contract_names(name: str) -> None:
    assert name in apphost.__all__


def _is_module(name: str) -> bool:
    return type(getattr(apphost, name)).__name__ == "module"

"""The public face: ``apphost`` re-exports what plugin authors use, in a sorted ``__all__``."""

from __future__ import annotations

import apphost


def test_all_is_sorted_and_complete() -> None:
    assert apphost.__all__ == sorted(apphost.__all__)
    public = {name for name in vars(apphost) if not name.startswith("_") and not _is_module(name)}
    assert public - {"annotations"} == set(apphost.__all__) - {"__version__"}


def test_plugin_contract_names() -> None:
    for name in ("Claim", "HostView", "app_factory", "hookimpl", "PluginError", "ConfigError"):
        assert name in apphost.__all__


def _is_module(name: str) -> bool:
    return type(getattr(apphost, name)).__name__ == "module"

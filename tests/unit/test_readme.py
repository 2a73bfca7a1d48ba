"""The README stays true: every config key, command and option in the code appears in it."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest
from apphost import hookspecs
from apphost.cli import main
from apphost.config import SETTINGS, Config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("key", SETTINGS)
def test_config_key_documented_with_default(key: str) -> None:
    assert f"`{key}`" in README, f"config key {key} is missing from the README's table"
    assert f"\n{key} = " in README, f"config key {key} is missing from the README's example file"


def _options() -> list[tuple[str, str]]:
    out = []
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                long = [o for o in param.opts if o.startswith("--")]
                out += [(name, o) for o in long]
    return out


@pytest.mark.parametrize("command", sorted(main.commands))
def test_command_documented(command: str) -> None:
    assert f"apphost {command}" in README


@pytest.mark.parametrize(("command", "option"), _options())
def test_option_documented(command: str, option: str) -> None:
    assert option in README, f"apphost {command} {option} is missing from the README"


def test_table_defaults_match_code() -> None:
    defaults = Config()
    for key in SETTINGS:
        value = getattr(defaults, key)
        shown = {True: "true", False: "false"}.get(value) if isinstance(value, bool) else None
        if shown is None:
            shown = (
                "[" + ", ".join(f'"{v}"' for v in value) + "]"
                if isinstance(value, tuple)
                else f'"{value}"'
                if isinstance(value, str)
                else str(value)
            )
        assert (
            f"| `{key}` |" in README
            and f"`{shown}` |" in README.split(f"| `{key}` |", 1)[1].split("\n", 1)[0]
        )


@pytest.mark.parametrize(
    "name", ["apphost@.socket", "apphost@.service", "nginx.conf", "apphost.toml"]
)
def test_deploy_files_shown_whole(name: str) -> None:
    """The deployment guide shows deploy/ as tested (indented as a code block)."""
    text = (ROOT / "deploy" / name).read_text().rstrip("\n")
    shown = "\n".join(f"    {line}" if line else "" for line in text.splitlines())
    assert shown in README, f"README's copy of deploy/{name} differs from the file"


def _hook_table() -> dict[str, list[str]]:
    """The hooks of the README's table under "The hooks": name -> parameters, in order."""
    section = README.split("The hooks", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `apphost_")]
    table = {}
    for row in rows:
        name, _, params = row.split("`")[1].rstrip(")").partition("(")
        table[name] = [p.strip() for p in params.split(",") if p.strip()]
    return table


def test_hook_table_matches_hookspecs() -> None:
    specs = {
        name: list(inspect.signature(function).parameters)
        for name, function in vars(hookspecs).items()
        if name.startswith("apphost_") and hasattr(function, "apphost_spec")
    }
    assert specs, "no hookspec found in apphost.hookspecs"
    assert _hook_table() == specs

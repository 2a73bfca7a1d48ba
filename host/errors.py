"""The exception tree: every error a user can cause says what is wrong and where.

Errors carry what they are about, as pluggy's ``PluginValidationError(plugin,
message)`` and werkzeug's ``DuplicateRuleError(existing, duplicate)`` do.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Problem


class ApphostError(Exception):
    """Base of every error apphost raises on purpose."""


class ConfigError(ApphostError):
    """A config file, environment variable or flag is wrong; ``key`` names it.

    ``source`` is the file (or ``--config``, a flag) it is in, when known.
    One error raised for a whole file lists every mistake in it:
    ``errors`` holds each (for a single mistake, just this error), and
    ``key`` and ``message`` are the first one's.
    """

    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        where = f" in {source}" if source else ""
        super().__init__(f"config {key}{where}: {message}")
        self.key = key
        self.message = message
        self.source = source
        self.errors: list[ConfigError] = [self]

    @classmethod
    def of(cls, errors: list[ConfigError], source: str | None = None) -> ConfigError:
        """One error listing every one of ``errors`` (not empty), each placed in ``source``."""
        placed = [e if e.source or not source else cls(e.key, e.message, source) for e in errors]
        if len(placed) == 1:
            return placed[0]
        first = placed[0]
        combined = cls(first.key, first.message, first.source)
        combined.args = (
            f"{len(placed)} mistakes in the config:\n" + "\n".join(f"  - {e}" for e in placed),
        )
        combined.errors = placed
        return combined


class PluginError(ApphostError):
    """A plugin, app entry point or hook is broken; ``where`` names which one.

    ``plugin`` is the plugin's entry point name when a plugin's hook is at
    fault, else None (an app's own entry point).
    """

    def __init__(self, where: str, message: str, plugin: str | None = None) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
        self.plugin = plugin


class ClaimError(ApphostError):
    """A claim is malformed: ``claim`` is what was returned, ``message`` what is wrong."""

    def __init__(self, claim: object, message: str) -> None:
        super().__init__(message)
        self.claim = claim
        self.message = message


class StrictError(ApphostError):
    """``--strict`` refused to start; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            "refusing to start (--strict):\n" + "\n".join(f"  - {p}" for p in problems)
        )
        self.problems = problems


def describe(exc: BaseException) -> str:
    """``ExcType: message``, the short form used in reports."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def traceback_of(exc: BaseException) -> str:
    """The formatted traceback (files and lines) ``-v`` prints for a failure.

    When ``exc`` is apphost's own error raised ``from`` the plugin's exception,
    the plugin's exception is what is formatted: its frames are the ones to read.
    """
    if isinstance(exc, ApphostError) and exc.__cause__ is not None:
        exc = exc.__cause__
    return "".join(traceback.format_exception(exc)).rstrip("\n")

"""The exception tree: every error a user can cause says what is wrong and where."""

from __future__ import annotations


class ApphostError(Exception):
    """Base of every error apphost raises on purpose."""


class ConfigError(ApphostError):
    """A config file, environment variable or flag is wrong; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config {key}: {message}")
        self.key = key


class PluginError(ApphostError):
    """A plugin, app entry point or claim is broken; ``where`` names which one."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class ClaimError(PluginError):
    """A claim is malformed; ``where`` names its claimant and the claim."""


class ConflictError(ApphostError):
    """Two claims on one route at equal priority; both claimants are named."""

    def __init__(self, route: str, existing: str, duplicate: str) -> None:
        super().__init__(f"route {route} is claimed twice: {existing} and {duplicate}")
        self.route = route
        self.existing = existing
        self.duplicate = duplicate


class StrictError(ApphostError):
    """``--strict`` refused to start; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "refusing to start (--strict):\n" + "\n".join(f"  - {p}" for p in problems)
        )
        self.problems = problems

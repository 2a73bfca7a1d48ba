"""One frozen ``Config``, read once from flags, a TOML file and defaults.

Precedence: CLI flags, then ``--config FILE``, then ``$APPHOST_CONFIG``, then
``./apphost.toml``, then the defaults below. Only one file is read. An unknown
key or a value of the wrong type is a ``ConfigError`` naming the key.

    [apphost]
    listen = ["127.0.0.1:8080"]
    server_name = "localhost"
    [waitress]                 # any waitress adjustment, passed through
    [[claims]]                 # app, path, subdomain, host, priority
    [apps.blog]                # handed to blog's factory
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_type_hints

from .errors import ConfigError
from .routing.claims import Claim
from .routing.hosts import parse_host, to_ascii

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_CONFIG = "APPHOST_CONFIG"
DEFAULT_FILE = "apphost.toml"
_CLAIM_KEYS = {"app": str, "path": str, "subdomain": str, "host": str, "priority": int}
# Set in [apphost], where they are checked; [waitress] may not set them too.
_OWN_WAITRESS_KEYS = {"listen", "host", "port", "threads", "sockets", "unix_socket"}


@dataclass(frozen=True, slots=True)
class Config:
    """The host's settings; the scalar fields are the keys of ``[apphost]``."""

    listen: tuple[str, ...] = ("127.0.0.1:8080",)
    server_name: str = "localhost"
    threads: int = 16
    workers: int = 1  # serve: processes on the same sockets
    allowed_hosts: tuple[str, ...] = ()
    allow_encoded_slashes: bool = False
    max_dynamic_apps: int = 256
    shutdown_timeout: float = 30.0
    status_page: str = "local"  # "off", "local" (loopback clients only) or "public"
    access_log: bool = True
    debug: bool = False  # werkzeug's debugger; only with loopback listen addresses
    # Tables other than [apphost]:
    waitress: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    claims: tuple[Claim, ...] = ()
    apps: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "defaults"  # the file read, for messages

    def with_flags(self, **flags: Any) -> Config:
        """Return a copy with the flags that were given (not None) applied and checked."""
        given = {k: v for k, v in flags.items() if v is not None and v != ()}
        return _checked(replace(self, **_coerce_table(given, "flag --")))


SETTINGS = tuple(
    f.name for f in fields(Config) if f.name not in ("waitress", "claims", "apps", "source")
)
_HINTS = get_type_hints(Config)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file that applies (see the module doc); defaults if none."""
    where = "--config"
    if path is None and os.environ.get(ENV_CONFIG):
        path, where = os.environ[ENV_CONFIG], f"${ENV_CONFIG}"
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            return Config()
        path = DEFAULT_FILE
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(where, f"file {str(path)!r} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(where, f"cannot read {str(path)!r}: {exc}") from None
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Check a parsed TOML document and build the ``Config``."""
    unknown = set(data) - {"apphost", "waitress", "claims", "apps"}
    if unknown:
        raise ConfigError(
            sorted(unknown)[0],
            f"unknown table in {source}; expected [apphost], [waitress], [[claims]] or [apps.NAME]",
        )
    settings = _coerce_table(_table(data, "apphost"), "apphost.")
    waitress = _table(data, "waitress")
    for key in waitress:
        if key in _OWN_WAITRESS_KEYS:
            raise ConfigError(f"waitress.{key}", "set listen and threads in [apphost] instead")
    _check_waitress(waitress)
    apps = _table(data, "apps")
    for name, table in apps.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"apps.{name}", f"must be a table, not {table!r}")
    raw_claims = data.get("claims", [])
    if not isinstance(raw_claims, list):
        raise ConfigError("claims", "must be an array of tables: [[claims]]")
    claims = tuple(_claim(i, c) for i, c in enumerate(raw_claims))
    return _checked(
        Config(
            **settings,
            waitress=MappingProxyType(dict(waitress)),
            claims=claims,
            apps=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in apps.items()}),
            source=source,
        )
    )


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(name, f"must be a table ([{name}]), not {table!r}")
    return table


def _coerce_table(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if key not in SETTINGS:
            raise ConfigError(f"{prefix}{key}", f"unknown key; known keys: {', '.join(SETTINGS)}")
        out[key] = _coerce(f"{prefix}{key}", value, _HINTS[key])
    return out


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the field's type; accept a list for a tuple, an int for a float."""
    if hint == tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(key, f"must be a list of strings, not {value!r}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(key, f"must be {hint.__name__}, not {value!r}")
    return value


def _checked(config: Config) -> Config:
    """Range and syntax checks that types alone do not catch."""
    for key in ("threads", "workers", "max_dynamic_apps"):
        if getattr(config, key) < 1:
            raise ConfigError(f"apphost.{key}", f"must be at least 1, not {getattr(config, key)}")
    if config.status_page not in ("off", "local", "public"):
        raise ConfigError(
            "apphost.status_page", f"must be 'off', 'local' or 'public', not {config.status_page!r}"
        )
    if config.shutdown_timeout < 0:
        raise ConfigError("apphost.shutdown_timeout", "must not be negative")
    if not config.listen:
        raise ConfigError("apphost.listen", "give at least one HOST:PORT")
    for addr in config.listen:
        host, _ = parse_listen(addr)
        if config.debug and not _is_loopback(host):
            raise ConfigError(
                "apphost.debug",
                f"the debugger runs any code a visitor types: refused while listening on {addr}"
                " (use 127.0.0.1 or [::1])",
            )
    try:
        server_name = to_ascii(config.server_name)
    except ValueError as exc:
        raise ConfigError("apphost.server_name", str(exc)) from None
    parsed = parse_host(server_name)
    if parsed is None or parsed[1] is not None or server_name.endswith("."):
        raise ConfigError(
            "apphost.server_name", f"{config.server_name!r} is not a host name (no port)"
        )
    allowed = []
    for pattern in config.allowed_hosts:
        bare = pattern[2:] if pattern.startswith("*.") else pattern
        try:
            bare = to_ascii(bare)
        except ValueError as exc:
            raise ConfigError("apphost.allowed_hosts", str(exc)) from None
        if parse_host(bare) is None:
            raise ConfigError(
                "apphost.allowed_hosts", f"{pattern!r} is not a host name or *.suffix"
            )
        allowed.append(("*." if pattern.startswith("*.") else "") + parse_host(bare)[0])  # type: ignore[index]
    return replace(config, server_name=parsed[0], allowed_hosts=tuple(allowed))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_listen(addr: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` -> (host, port); ConfigError if malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise ConfigError(
            "apphost.listen", f"{addr!r} is not HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _claim(index: int, table: Any) -> Claim:
    where = f"claims[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(where, "must be a table: [[claims]]")
    for key, value in table.items():
        if key not in _CLAIM_KEYS:
            raise ConfigError(
                f"{where}.{key}", f"unknown key; known keys: {', '.join(_CLAIM_KEYS)}"
            )
        _coerce(f"{where}.{key}", value, _CLAIM_KEYS[key])
    if "app" not in table:
        raise ConfigError(f"{where}.app", "missing: name the app this claim routes to")
    return Claim(**table)


def _check_waitress(table: Mapping[str, Any]) -> None:
    """Let waitress check ``[waitress]`` now, naming the key at fault where one is."""
    from waitress.adjustments import Adjustments

    try:
        Adjustments(**table)
    except (ValueError, TypeError) as whole:
        for key, value in table.items():  # a key wrong on its own
            try:
                Adjustments(**{key: value})
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"waitress.{key}", str(exc)) from None
        named = [k for k in table if k in str(whole)]  # keys wrong together
        raise ConfigError(f"waitress.{named[0]}" if named else "waitress", str(whole)) from None

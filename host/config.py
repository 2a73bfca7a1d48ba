"""One frozen ``Config``, read once from flags, a TOML file and defaults.

Precedence: CLI flags, then ``--config FILE``, then ``$APPHOST_CONFIG``, then
``./apphost.toml``, then the defaults below. Only one file is read. An unknown
key or a value of the wrong type is a ``ConfigError`` naming the key and the
file; every mistake in a file is reported at once, in one ``ConfigError``.

    [apphost]
    listen = ["127.0.0.1:8080"]
    server_name = "localhost"
    [waitress]                 # any waitress adjustment, passed through
    [[claims]]                 # app, path, subdomain, host, priority, scope_cookies
    [apps.blog]                # handed to blog's factory
    [hosting.blog]             # run-time limits of one app: max_in_flight, request_timeout,
                               # max_body_size

Sizes (``max_body_size``) are a number of bytes or a string with a unit:
``"512KB"``, ``"10MB"``, ``"1GB"`` (binary: 1 KB = 1024 bytes).
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
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
_CLAIM_KEYS = {
    "app": str,
    "path": str,
    "subdomain": str,
    "host": str,
    "priority": int,
    "scope_cookies": bool,
}
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
    # HOST:PORT where the own pages (status, routes, plugins, metrics, full health) answer
    # instead of on listen; empty: on listen, under status_page (see apphost.web.pages).
    admin_listen: tuple[str, ...] = ()
    access_log: bool = True
    debug: bool = False  # werkzeug's debugger; only with loopback listen addresses
    # Run-time isolation (see Limits and apphost.web.bulkhead); [hosting.NAME] overrides.
    max_in_flight: int = 0  # per app and worker; 0: automatic (see Config.limits)
    request_timeout: float = 60.0  # seconds; a request running longer is stuck
    max_requests: int = 0  # recycle a worker after about this many requests; 0: never
    max_worker_memory: int = 0  # MiB of RSS; recycle a worker past it; 0: never
    crash_limit: int = 3  # worker deaths with one app in flight ...
    crash_window: float = 60.0  # ... within these seconds quarantine that app
    start_timeout: float = 60.0  # seconds a new worker may take to serve; then it has failed
    # Hostile clients (see apphost.serving.guard): timeouts, connection and size limits.
    header_timeout: float = 10.0  # seconds to receive a whole request head
    body_timeout: float = 30.0  # seconds a request body may make no progress
    send_timeout: float = 60.0  # seconds a client may stop reading a response
    max_connections: int = 10000  # per worker
    max_connections_per_client: int = 200  # per client address; 0: no limit
    max_body_size: int = 10 * 2**20  # bytes ("10MB"); 413 past it; [hosting.NAME] overrides
    # Tables other than [apphost]:
    waitress: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    claims: tuple[Claim, ...] = ()
    apps: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    hosting: Mapping[str, Hosting] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "defaults"  # the file read, for messages

    def limits(self, name: str) -> Limits:
        """The limits of app ``name`` (for a factory claim's made apps, the plugin's name).

        ``max_in_flight = 0`` (the default) is automatic: ``(threads - reserve) // 2``
        with ``reserve = max(2, threads // 4)``, at least 1. So two apps that hang
        with any number of requests hold at most ``threads - reserve`` threads,
        and the other apps and ``/_apphost/health`` keep at least ``reserve``
        (16 threads: 6 per app, 4 kept; 8 threads: 3 per app, 2 kept).
        """
        own = self.hosting.get(name)
        limit = own.max_in_flight if own and own.max_in_flight is not None else self.max_in_flight
        timeout = (
            own.request_timeout if own and own.request_timeout is not None else self.request_timeout
        )
        if limit == 0:
            limit = max(1, (self.threads - max(2, self.threads // 4)) // 2)
        body = own.max_body_size if own and own.max_body_size is not None else self.max_body_size
        return Limits(limit, timeout, body)

    def largest_body(self) -> int:
        """The largest ``max_body_size`` of any app: what the server reads before routing."""
        own = [h.max_body_size for h in self.hosting.values() if h.max_body_size is not None]
        return max([self.max_body_size, *own])

    def pools(self) -> dict[str, int]:
        """App name -> processes, for each app with ``isolation = "process"``."""
        return {n: h.processes for n, h in self.hosting.items() if h.isolation == "process"}

    def with_flags(self, **flags: Any) -> Config:
        """Return a copy with the flags that were given (not None) applied and checked."""
        given = {k: v for k, v in flags.items() if v is not None and v != ()}
        mistakes = _Mistakes()
        config = _checked(replace(self, **_coerce_table(given, "flag --", mistakes)), mistakes)
        mistakes.raise_any()
        return config


class _Mistakes:
    """The ``ConfigError`` of each check that failed, so a file's mistakes are reported together."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        """Record a ``ConfigError`` raised in the block instead of letting it through."""
        try:
            yield
        except ConfigError as exc:
            self.errors.extend(exc.errors)

    def raise_any(self, source: str | None = None) -> None:
        if self.errors:
            raise ConfigError.of(self.errors, source)


@dataclass(frozen=True, slots=True)
class Hosting:
    """One ``[hosting.NAME]`` table: what it sets, None for what it leaves to ``[apphost]``."""

    max_in_flight: int | None = None
    request_timeout: float | None = None
    max_body_size: int | None = None
    isolation: str = "thread"  # "thread": the workers' threads; "process": a pool of its own
    processes: int = 1  # the pool's size, with isolation = "process"


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits one app runs under, resolved: see ``Config.limits``."""

    max_in_flight: int
    request_timeout: float
    max_body_size: int = 10 * 2**20


ISOLATIONS = ("thread", "process")
_TABLES = ("waitress", "claims", "apps", "hosting", "source")
SETTINGS = tuple(f.name for f in fields(Config) if f.name not in _TABLES)
_HOSTING_KEYS = {
    "max_in_flight": int,
    "request_timeout": float,
    "max_body_size": int,
    "isolation": str,
    "processes": int,
}
_SIZE_KEYS = {"max_body_size"}  # bytes, or a string with a unit (see parse_size)
_UNITS = {"": 1, "B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}
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


def parse_config(data: Mapping[str, Any], source: str | None = None) -> Config:
    """Check a parsed TOML document and build the ``Config``; one ``ConfigError`` lists every mistake."""
    mistakes = _Mistakes()
    for name in sorted(set(data) - {"apphost", "waitress", "claims", "apps", "hosting"}):
        with mistakes.check():
            raise ConfigError(
                name,
                "unknown table; expected [apphost], [waitress], [[claims]],"
                " [apps.NAME] or [hosting.NAME]",
            )
    settings = _coerce_table(_table(data, "apphost", mistakes), "apphost.", mistakes)
    waitress = _table(data, "waitress", mistakes)
    for key in waitress:
        if key in _OWN_WAITRESS_KEYS:
            with mistakes.check():
                raise ConfigError(f"waitress.{key}", "set listen and threads in [apphost] instead")
    with mistakes.check():
        _check_waitress({k: v for k, v in waitress.items() if k not in _OWN_WAITRESS_KEYS})
    apps = dict(_table(data, "apps", mistakes))
    for name, table in list(apps.items()):
        if not isinstance(table, Mapping):
            del apps[name]
            with mistakes.check():
                raise ConfigError(f"apps.{name}", f"must be a table, not {table!r}")
    hosting = {}
    for name, table in _table(data, "hosting", mistakes).items():
        with mistakes.check():
            hosting[name] = _hosting(name, table)
    raw_claims = data.get("claims", [])
    claims = []
    if not isinstance(raw_claims, list):
        with mistakes.check():
            raise ConfigError("claims", "must be an array of tables: [[claims]]")
        raw_claims = []
    for i, raw in enumerate(raw_claims):
        with mistakes.check():
            claims.append(_claim(i, raw))
    config = _checked(
        Config(
            **settings,
            waitress=MappingProxyType(dict(waitress)),
            claims=tuple(claims),
            apps=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in apps.items()}),
            hosting=MappingProxyType(hosting),
            source=source or "<config>",
        ),
        mistakes,
    )
    mistakes.raise_any(source)
    return config


def _table(data: Mapping[str, Any], name: str, mistakes: _Mistakes) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        with mistakes.check():
            raise ConfigError(name, f"must be a table ([{name}]), not {table!r}")
        return {}
    return table


def _unknown(key: str, known: Iterable[str]) -> str:
    """The message for an unknown ``key``: the known key it is likely a typo of, then all."""
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    mean = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {mean}known keys: {', '.join(known)}"


def _coerce_table(table: Mapping[str, Any], prefix: str, mistakes: _Mistakes) -> dict[str, Any]:
    """The keys of ``table`` that are right; a mistake in each other key goes to ``mistakes``."""
    out = {}
    for key, value in table.items():
        with mistakes.check():
            if key not in SETTINGS:
                raise ConfigError(f"{prefix}{key}", _unknown(key, SETTINGS))
            out[key] = _coerce(f"{prefix}{key}", value, _HINTS[key])
    return out


def parse_size(key: str, value: Any) -> int:
    """Bytes from ``1048576``, ``"1MB"``, ``"512 KB"`` or ``"1GB"``; ConfigError naming ``key``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", value.upper())
        if m and int(m.group(1)) > 0 and m.group(2) in _UNITS:
            return int(m.group(1)) * _UNITS[m.group(2)]
    raise ConfigError(
        key, f"must be a size in bytes (more than 0) or like '10MB', '512KB', '1GB'; not {value!r}"
    )


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the field's type; accept a list for a tuple, an int for a float."""
    if key.rpartition(".")[2].rpartition("-")[2] in _SIZE_KEYS:
        return parse_size(key, value)
    if hint == tuple[str, ...]:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        example = f" such as [{value!r}]" if isinstance(value, str) else ""
        raise ConfigError(key, f"must be a list of strings{example}, not {value!r}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(key, f"must be {hint.__name__}, not {value!r}")
    return value


def _checked(config: Config, mistakes: _Mistakes) -> Config:
    """Range and syntax checks that types alone do not catch; each mistake goes to ``mistakes``."""

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            mistakes.errors.append(ConfigError(f"apphost.{key}", message))

    for key in ("threads", "workers", "max_dynamic_apps"):
        value = getattr(config, key)
        check(value >= 1, key, f"must be at least 1, not {value}")
    check(
        config.status_page in ("off", "local", "public"),
        "status_page",
        f"must be 'off', 'local' or 'public', not {config.status_page!r}",
    )
    check(config.shutdown_timeout >= 0, "shutdown_timeout", "must not be negative")
    for key in ("max_in_flight", "max_requests", "max_worker_memory"):
        check(getattr(config, key) >= 0, key, "must not be negative (0: off or automatic)")
    check(config.crash_limit >= 1, "crash_limit", f"must be at least 1, not {config.crash_limit}")
    check(config.max_connections >= 1, "max_connections", "must be at least 1")
    check(
        config.max_connections_per_client >= 0,
        "max_connections_per_client",
        "must not be negative (0: off)",
    )
    for key in (
        "request_timeout",
        "crash_window",
        "start_timeout",
        "header_timeout",
        "body_timeout",
        "send_timeout",
    ):
        check(getattr(config, key) > 0, key, "must be more than 0 seconds")
    check(bool(config.listen), "listen", "give at least one HOST:PORT")
    for addr in config.admin_listen:
        with mistakes.check():
            _, port = parse_listen(addr, "apphost.admin_listen")
            if port and addr in config.listen:
                raise ConfigError(
                    "apphost.admin_listen",
                    f"{addr} is in listen too: the own pages need an address of their own",
                )
    for addr in config.listen:
        with mistakes.check():
            host, _ = parse_listen(addr)
            check(
                not config.debug or _is_loopback(host),
                "debug",
                f"the debugger runs any code a visitor types: refused while listening on {addr}"
                " (use 127.0.0.1 or [::1])",
            )
    server_name = config.server_name
    with mistakes.check():
        try:
            ascii_name = to_ascii(config.server_name)
        except ValueError as exc:
            raise ConfigError("apphost.server_name", str(exc)) from None
        parsed = parse_host(ascii_name)
        if parsed is None or parsed[1] is not None or ascii_name.endswith("."):
            raise ConfigError(
                "apphost.server_name", f"{config.server_name!r} is not a host name (no port)"
            )
        server_name = parsed[0]
    allowed = []
    for pattern in config.allowed_hosts:
        with mistakes.check():
            bare = pattern[2:] if pattern.startswith("*.") else pattern
            try:
                bare = to_ascii(bare)
            except ValueError as exc:
                raise ConfigError("apphost.allowed_hosts", str(exc)) from None
            host_port = parse_host(bare)
            if host_port is None:
                raise ConfigError(
                    "apphost.allowed_hosts", f"{pattern!r} is not a host name or *.suffix"
                )
            allowed.append(("*." if pattern.startswith("*.") else "") + host_port[0])
    return replace(config, server_name=server_name, allowed_hosts=tuple(allowed))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_listen(addr: str, key: str = "apphost.listen") -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` -> (host, port); ConfigError naming ``key``."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise ConfigError(key, f"{addr!r} is not HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _hosting(name: str, table: Any) -> Hosting:
    where = f"hosting.{name}"
    if not isinstance(table, Mapping):
        raise ConfigError(where, f"must be a table ([hosting.{name}]), not {table!r}")
    mistakes = _Mistakes()
    values = {}
    for key, value in table.items():
        with mistakes.check():
            if key not in _HOSTING_KEYS:
                raise ConfigError(f"{where}.{key}", _unknown(key, _HOSTING_KEYS))
            values[key] = _coerce(f"{where}.{key}", value, _HOSTING_KEYS[key])
    hosting = Hosting(**values)
    wrong = mistakes.errors.append
    if hosting.max_in_flight is not None and hosting.max_in_flight < 0:
        wrong(ConfigError(f"{where}.max_in_flight", "must not be negative (0: automatic)"))
    if hosting.request_timeout is not None and hosting.request_timeout <= 0:
        wrong(ConfigError(f"{where}.request_timeout", "must be more than 0 seconds"))
    if hosting.isolation not in ISOLATIONS:
        wrong(
            ConfigError(
                f"{where}.isolation",
                f"{hosting.isolation!r}: must be one of {', '.join(map(repr, ISOLATIONS))}",
            )
        )
    if hosting.processes < 1:
        wrong(ConfigError(f"{where}.processes", "must be at least 1"))
    mistakes.raise_any()
    return hosting


def _claim(index: int, table: Any) -> Claim:
    where = f"claims[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(where, "must be a table: [[claims]]")
    mistakes = _Mistakes()
    for key, value in table.items():
        with mistakes.check():
            if key not in _CLAIM_KEYS:
                raise ConfigError(f"{where}.{key}", _unknown(key, _CLAIM_KEYS))
            _coerce(f"{where}.{key}", value, _CLAIM_KEYS[key])
    if "app" not in table:
        mistakes.errors.append(
            ConfigError(f"{where}.app", "missing: name the app this claim routes to")
        )
    mistakes.raise_any()
    return Claim(**table)


def _check_waitress(table: Mapping[str, Any]) -> None:
    """Let waitress check ``[waitress]`` now, naming the key at fault where one is."""
    from waitress.adjustments import Adjustments

    try:
        Adjustments(**table)
    except (ValueError, TypeError) as whole:
        mistakes = _Mistakes()
        for key, value in table.items():  # each key wrong on its own
            try:
                Adjustments(**{key: value})
            except (ValueError, TypeError) as exc:
                mistakes.errors.append(ConfigError(f"waitress.{key}", str(exc)))
        mistakes.raise_any()
        named = [k for k in table if k in str(whole)]  # keys wrong together
        raise ConfigError(f"waitress.{named[0]}" if named else "waitress", str(whole)) from None

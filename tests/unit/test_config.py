"""Config: precedence, every key's type check, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from apphost import Claim, ConfigError
from apphost.config import SETTINGS, Config, load_config, parse_config


def test_defaults() -> None:
    config = Config()
    assert config.listen == ("127.0.0.1:8080",)
    assert config.server_name == "localhost"
    assert (config.threads, config.max_dynamic_apps, config.shutdown_timeout) == (16, 256, 30.0)
    assert config.allowed_hosts == () and config.allow_encoded_slashes is False


def test_full_file(tmp_path: Path) -> None:
    path = tmp_path / "apphost.toml"
    path.write_text(
        """
[apphost]
listen = ["127.0.0.1:9000", "[::1]:9000"]
server_name = "Example.ORG"
threads = 4
allowed_hosts = ["example.org", "*.Example.org"]
allow_encoded_slashes = true
max_dynamic_apps = 10
shutdown_timeout = 5
[waitress]
trusted_proxy = "127.0.0.1"
trusted_proxy_headers = "x-forwarded-proto"
[[claims]]
app = "blog"
subdomain = "blog"
priority = 3
[apps.blog]
title = "My blog"
"""
    )
    config = load_config(path)
    assert config.listen == ("127.0.0.1:9000", "[::1]:9000")
    assert config.server_name == "example.org"
    assert config.allowed_hosts == ("example.org", "*.example.org")
    assert config.shutdown_timeout == 5.0 and isinstance(config.shutdown_timeout, float)
    assert config.waitress["trusted_proxy"] == "127.0.0.1"
    assert config.claims == (Claim(app="blog", subdomain="blog", priority=3),)
    assert config.apps["blog"]["title"] == "My blog"
    assert config.source == str(path)


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config().source == "defaults"
    (tmp_path / "apphost.toml").write_text('[apphost]\nserver_name = "cwd.example"\n')
    assert load_config().server_name == "cwd.example"
    env_file = tmp_path / "env.toml"
    env_file.write_text('[apphost]\nserver_name = "env.example"\n')
    monkeypatch.setenv("APPHOST_CONFIG", str(env_file))
    assert load_config().server_name == "env.example"
    flag_file = tmp_path / "flag.toml"
    flag_file.write_text('[apphost]\nserver_name = "flag.example"\nthreads = 2\n')
    config = load_config(flag_file)
    assert config.server_name == "flag.example"
    config = config.with_flags(server_name="cli.example", threads=None, listen=())
    assert (config.server_name, config.threads, config.listen) == (
        "cli.example",
        2,
        ("127.0.0.1:8080",),
    )


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"apphost": {"thread": 4}}, "apphost.thread", "unknown key; did you mean 'threads'?"),
        ({"apphost": {"zzz": 4}}, "apphost.zzz", "unknown key; known keys: listen, "),
        ({"apphost": {"threads": "4"}}, "apphost.threads", "must be int"),
        ({"apphost": {"threads": True}}, "apphost.threads", "must be int"),
        ({"apphost": {"threads": 0}}, "apphost.threads", "at least 1"),
        ({"apphost": {"workers": 0}}, "apphost.workers", "at least 1"),
        ({"apphost": {"max_dynamic_apps": 0}}, "apphost.max_dynamic_apps", "at least 1"),
        ({"apphost": {"shutdown_timeout": -1}}, "apphost.shutdown_timeout", "negative"),
        ({"apphost": {"shutdown_timeout": "5s"}}, "apphost.shutdown_timeout", "must be float"),
        (
            {"apphost": {"allow_encoded_slashes": "yes"}},
            "apphost.allow_encoded_slashes",
            "must be bool",
        ),
        ({"apphost": {"listen": [8080]}}, "apphost.listen", "list of strings"),
        ({"apphost": {"listen": ["localhost"]}}, "apphost.listen", "is not HOST:PORT"),
        ({"apphost": {"listen": []}}, "apphost.listen", "at least one"),
        ({"apphost": {"admin_listen": ["9000"]}}, "apphost.admin_listen", "is not HOST:PORT"),
        ({"apphost": {"admin_listen": [9000]}}, "apphost.admin_listen", "list of strings"),
        (
            {"apphost": {"listen": ["127.0.0.1:9000"], "admin_listen": ["127.0.0.1:9000"]}},
            "apphost.admin_listen",
            "127.0.0.1:9000 is in listen too",
        ),
        ({"apphost": {"server_name": "a b"}}, "apphost.server_name", "not a host name"),
        ({"apphost": {"server_name": "example.org:80"}}, "apphost.server_name", "no port"),
        ({"apphost": {"allowed_hosts": ["bad host"]}}, "apphost.allowed_hosts", "not a host name"),
        ({"apphost": "x"}, "apphost", "must be a table"),
        ({"apphost": {"status_page": "on"}}, "apphost.status_page", "'off', 'local' or 'public'"),
        ({"apphost": {"access_log": 1}}, "apphost.access_log", "must be bool"),
        (
            {"apphost": {"debug": True, "listen": ["0.0.0.0:8080"]}},
            "apphost.debug",
            "refused while listening on 0.0.0.0:8080",
        ),
        ({"server": {}}, "server", "unknown table"),
        (
            {"waitress": {"no_such_adjustment": 1}},
            "waitress.no_such_adjustment",
            "Unknown adjustment",
        ),
        ({"waitress": {"threads": 4}}, "waitress.threads", "in [apphost]"),
        (
            {"waitress": {"trusted_proxy_headers": "x-forwarded-for"}},
            "waitress.trusted_proxy_headers",
            "without setting trusted_proxy",
        ),
        ({"claims": {"app": "x"}}, "claims", "array of tables"),
        ({"claims": [{"app": "x", "pth": "/"}]}, "claims[0].pth", "did you mean 'path'?"),
        ({"claims": [{"path": "/x"}]}, "claims[0].app", "missing"),
        ({"claims": [{"app": "x", "priority": "high"}]}, "claims[0].priority", "must be int"),
        ({"apps": {"blog": 3}}, "apps.blog", "must be a table"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.key == key
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "size"),
    [("10MB", 10 * 2**20), ("1GB", 2**30), ("512 kb", 512 * 1024), (4096, 4096), ("100", 100)],
)
def test_sizes_take_a_unit(value: object, size: int) -> None:
    config = parse_config(
        {"apphost": {"max_body_size": value}, "hosting": {"x": {"max_body_size": value}}}
    )
    assert config.max_body_size == size
    assert config.limits("x").max_body_size == size
    assert config.limits("other").max_body_size == size  # the [apphost] one


def test_an_app_may_allow_a_larger_body_than_the_rest() -> None:
    config = parse_config(
        {"apphost": {"max_body_size": "1MB"}, "hosting": {"up": {"max_body_size": "1GB"}}}
    )
    assert config.largest_body() == 2**30
    assert config.limits("other").max_body_size == 2**20
    assert Config().max_body_size == 10 * 2**20


@pytest.mark.parametrize("value", ["ten", "10TB", "", 0, -5, True, 1.5, "-1MB"])
def test_bad_sizes_name_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match="must be a size") as info:
        parse_config({"apphost": {"max_body_size": value}})
    assert info.value.key == "apphost.max_body_size"
    with pytest.raises(ConfigError) as info:
        parse_config({"hosting": {"blog": {"max_body_size": value}}})
    assert info.value.key == "hosting.blog.max_body_size"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("header_timeout", 0),
        ("body_timeout", -1.0),
        ("send_timeout", 0),
        ("max_connections", 0),
        ("max_connections_per_client", -1),
    ],
)
def test_hostile_client_limits_are_checked(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"apphost": {key: value}})
    assert info.value.key == f"apphost.{key}"


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"apphost\.listen"):
        Config().with_flags(listen=("nope",))


def test_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"--config: file .*missing\.toml.* not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[apphost\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(bad)
    monkeypatch.setenv("APPHOST_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"\$APPHOST_CONFIG: file"):
        load_config()


def test_settings_are_the_scalar_fields() -> None:
    assert SETTINGS == (
        "listen",
        "server_name",
        "threads",
        "workers",
        "allowed_hosts",
        "allow_encoded_slashes",
        "max_dynamic_apps",
        "shutdown_timeout",
        "status_page",
        "admin_listen",
        "access_log",
        "debug",
        "max_in_flight",
        "request_timeout",
        "max_requests",
        "max_worker_memory",
        "crash_limit",
        "crash_window",
        "start_timeout",
        "header_timeout",
        "body_timeout",
        "send_timeout",
        "max_connections",
        "max_connections_per_client",
        "max_body_size",
    )


def test_every_mistake_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "apphost.toml"
    path.write_text(
        '[apphost]\nthreads = 0\nlisten = "127.0.0.1:8080"\nsrever_name = "x"\n'
        '[hosting.blog]\nmax_in_flight = "four"\n'
        '[[claims]]\npath = "/x"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    keys = [e.key for e in info.value.errors]
    assert sorted(keys) == sorted(
        [
            "apphost.threads",
            "apphost.listen",
            "apphost.srever_name",
            "hosting.blog.max_in_flight",
            "claims[0].app",
        ]
    )
    text = str(info.value)
    assert text.startswith("5 mistakes in the config:")
    for error in info.value.errors:  # each line names the file and the key
        assert error.source == str(path)
        assert f"config {error.key} in {path}: " in text
    assert "must be a list of strings such as ['127.0.0.1:8080']" in text


def test_one_mistake_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "apphost.toml"
    path.write_text("[apphost]\nworkers = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config apphost.workers in {path}: must be at least 1, not 0"
    assert info.value.errors == [info.value]


@pytest.mark.parametrize("key", ["listen", "allowed_hosts"])
def test_a_string_for_a_list_is_an_error(key: str) -> None:
    with pytest.raises(ConfigError, match=f"apphost.{key}.*must be a list of strings"):
        parse_config({"apphost": {key: "127.0.0.1:8080"}})

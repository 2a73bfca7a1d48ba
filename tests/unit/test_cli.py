"""The CLI through click's CliRunner, in this process: the installed examples and throwaway plugins."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..distributions import Dists, unique

Run = Callable[..., tuple[int, str]]


def test_help_names_every_command(run_cli: Run) -> None:
    code, out = run_cli("--help")
    assert code == 0
    for command in ("serve", "routes", "plugins", "check"):
        assert command in out


def test_routes_table(run_cli: Run) -> None:
    code, out = run_cli("routes")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["HOST", "PATH", "APP", "DISTRIBUTION", "CLAIMED", "BY", "STATUS"]
    hello = next(line for line in lines if "/hello" in line)
    assert hello.split()[:4] == ["*", "/hello", "hello", "apphost-hello==0.1.0"]
    assert hello.split()[-1] == "ok"
    # Precedence order: host-specific routes before host-less ones.
    hosts = [line.split()[0] for line in lines]
    assert hosts.index("notes.localhost") < hosts.index("*.localhost") < hosts.index("*")


def test_plugins_json_shows_status_and_hooks(run_cli: Run) -> None:
    code, out = run_cli("plugins", "--json")
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)}
    assert rows[("app", "wiki")]["status"] == "ok"
    assert rows[("plugin", "tenants")]["hooks"] == ["apphost_claim_routes"]
    assert rows[("app", "wiki")]["hooks"] == []
    code, out = run_cli("plugins")
    tenants = next(line for line in out.splitlines() if line.startswith("plugin  tenants"))
    assert " apphost_claim_routes " in tenants  # a list, shown as words


def test_plugins_shows_each_apps_isolation(run_cli: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "apphost.toml"
    cfg.write_text('[hosting.wiki]\nisolation = "process"\nprocesses = 2\n')
    code, out = run_cli("plugins", "--json", "--config", str(cfg))
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)}
    assert rows[("app", "wiki")]["isolation"] == "process x2"
    assert rows[("app", "hello")]["isolation"] == "thread"
    code, out = run_cli("plugins", "--config", str(cfg))
    assert "ISOLATION" in out.splitlines()[0] and "process x2" in out


def test_broken_plugin_is_reported_by_every_command(run_cli: Run, dists: Dists) -> None:
    mod = unique("broken")
    dists.add(
        "broken-dist",
        version="0.9",
        apps={"broken": f"{mod}:app"},
        modules={mod: "raise RuntimeError('kaput')"},
    )
    code, out = run_cli("check")
    assert code == 1
    assert "problem: app 'broken' (broken-dist==0.9)" in out and "kaput" in out
    code, out = run_cli("plugins")
    assert code == 0
    assert "failed: entry point 'broken = " in out and "RuntimeError: kaput" in out
    assert "PluginError" not in out  # our error's name says nothing to the operator
    code, out = run_cli("routes")
    assert code == 0 and "/broken" in out
    # The user can always get past it.
    code, out = run_cli("check", env={"APPHOST_DISABLE_PLUGINS": "broken-dist"})
    assert code == 0, out


def test_config_error_is_a_clean_message(run_cli: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "apphost.toml"
    cfg.write_text("[apphost]\nthreads = 'many'\n")
    code, out = run_cli("check", "--config", str(cfg))
    assert code == 1
    assert out.strip() == f"Error: config apphost.threads in {cfg}: must be int, not 'many'"
    code, out = run_cli("routes", "--config", str(tmp_path / "none.toml"))
    assert code == 1 and "not found" in out


def test_operator_claim_in_config(run_cli: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "apphost.toml"
    cfg.write_text('[[claims]]\napp = "hello"\nhost = "hello.example.org"\n')
    _code, out = run_cli("routes", "--json", "--config", str(cfg))
    rows = json.loads(out)
    hello = [r for r in rows if r["app"] == "hello"]
    assert [(r["host"], r["path"]) for r in hello] == [("hello.example.org", "/"), ("*", "/hello")]
    assert hello[0]["claimed_by"].startswith("config [[claims]] #1")


def test_serve_bad_flag_value(run_cli: Run) -> None:
    code, out = run_cli("serve", "--listen", "nowhere")
    assert code == 1 and "apphost.listen" in out and "'nowhere' is not HOST:PORT" in out
    code, out = run_cli("serve", "--threads", "0")
    assert code == 2 and "--threads" in out
    code, out = run_cli("serve", "--workers", "0")
    assert code == 2 and "--workers" in out


def test_serve_refuses_a_metrics_folder_it_cannot_use(run_cli: Run, tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    code, out = run_cli("serve", "--listen", "127.0.0.1:0", env=env)
    assert code == 1
    assert f"PROMETHEUS_MULTIPROC_DIR='{tmp_path / 'missing'}' is not a folder" in out


def test_routes_match(run_cli: Run) -> None:
    code, out = run_cli("routes", "--match", "http://acme.localhost:8080/x/y", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["status"], result["key"], result["script_name"], result["path_info"]) == (
        200,
        "acme",
        "",
        "/x/y",
    )
    assert result["claimed_by"] == "plugin 'tenants' (apphost-tenants==0.1.0)"
    code, out = run_cli("routes", "--match", "/hello/there")
    lines = dict(
        line.split(None, 1)
        for line in out.splitlines()
        if line.split(None, 1)[0] in ("app", "route")
    )
    assert lines == {"app": "hello", "route": "/hello"}
    assert "script name  /hello" in out and "path info    /there" in out
    assert code == 0
    code, out = run_cli("routes", "--match", "http://localhost/a/../../etc")
    assert code == 1 and "400" in out and "'..' above the root" in out
    code, out = run_cli("routes", "--match", "http://localhost/nothing-here", "--json")
    assert code == 1 and json.loads(out)["status"] == 404


def test_routes_status_column_shows_conflicts_and_losers(run_cli: Run, tmp_path: Path) -> None:
    config = tmp_path / "apphost.toml"
    config.write_text(
        '[[claims]]\napp = "hello"\npath = "/both"\n'
        '[[claims]]\napp = "wiki"\npath = "/both"\n'
        '[[claims]]\napp = "wiki"\npath = "/top"\npriority = 5\n'
        '[[claims]]\napp = "hello"\npath = "/top"\n'
    )
    code, out = run_cli("routes", "--config", str(config), "--json")
    assert code == 0
    rows = [r for r in json.loads(out) if r["path"] in ("/both", "/top")]
    both = [r for r in rows if r["path"] == "/both"]
    # Neither claimant of a conflict is shown as the winner: both rows say conflict.
    assert [(r["app"], r["status"].split(":")[0]) for r in both] == [
        ("hello", "conflict"),
        ("wiki", "conflict"),
    ]
    assert "with config [[claims]] #2" in both[0]["status"] and "answers 503" in both[0]["status"]
    assert "with config [[claims]] #1" in both[1]["status"]
    top = [(r["app"], r["status"]) for r in rows if r["path"] == "/top"]
    assert top[0] == ("wiki", "ok")
    assert top[1][0] == "hello" and top[1][1].startswith("lost to config [[claims]] #3")
    code, out = run_cli("routes", "--config", str(config))
    line = next(line for line in out.splitlines() if " /both " in line)
    assert line.rstrip().endswith("the route answers 503")
    code, out = run_cli("routes", "--config", str(config), "--match", "/both/x", "--json")
    result = json.loads(out)
    assert code == 1 and result["status"] == 503
    assert (
        result["claimed_by"].startswith("config [[claims]] #1")
        and " and config [[claims]] #2" in result["claimed_by"]
    )


def test_debug_refused_off_loopback(run_cli: Run) -> None:
    code, out = run_cli("serve", "--debug", "--listen", "0.0.0.0:0")
    assert code == 1 and "apphost.debug" in out and "refused while listening on 0.0.0.0:0" in out


def test_disable_plugin_flag(run_cli: Run, dists: Dists) -> None:
    mod = unique("broken")
    dists.add(
        "broken-dist", apps={"broken": f"{mod}:app"}, modules={mod: "raise ImportError('no')"}
    )
    assert run_cli("check")[0] == 1
    code, out = run_cli("check", "--disable-plugin", "broken-dist")
    assert code == 0, out
    code, out = run_cli("routes", "--disable-plugin", "broken", "--disable-plugin", "hello")
    assert "/broken" not in out and "/hello" not in out and "/wiki" in out


def test_check_routes_plugins_against_installed_examples(run_cli: Run) -> None:
    code, out = run_cli("check")
    assert code == 0, out
    code, out = run_cli("routes", "--json")
    rows = {(r["host"], r["path"]): r for r in json.loads(out)}
    assert rows[("*", "/hello")]["distribution"] == "apphost-hello==0.1.0"
    assert rows[("*", "/hello")]["claimed_by"] == "plugin 'hello' (apphost-hello==0.1.0)"
    assert rows[("notes.localhost", "/")]["app"] == "notes"
    assert rows[("*.localhost", "/")]["distribution"] == "apphost-tenants==0.1.0"
    assert rows[("*", "/people/*")]["claimed_by"] == "plugin 'people' (apphost-people==0.1.0)"


def test_verbose_prints_the_traceback_of_a_failing_import(run_cli: Run, dists: Dists) -> None:
    hooks, app = unique("failing_hooks"), unique("failing_app")
    dists.add(
        "failing-dist",
        version="0.3",
        apps={"failing": f"{app}:app"},
        plugins={"failing": hooks},
        modules={
            hooks: "import os\n\nraise RuntimeError('hooks kaput')\n",
            app: "\n\n\n\nraise ValueError('app kaput')\n",
        },
    )
    hooks_at = f'{hooks}.py", line 3, in <module>'
    app_at = f'{app}.py", line 5, in <module>'
    for command, wanted in (("check", (hooks_at, app_at)), ("plugins", (hooks_at, app_at))):
        code, out = run_cli(command)
        assert "hooks kaput" in out and "app kaput" in out
        assert hooks_at not in out and app_at not in out and "Traceback" not in out
        code_v, out_v = run_cli(command, "-v")
        assert code_v == code
        for where in wanted:
            assert where in out_v, (command, out_v)
    # The traceback follows its problem line.
    lines = run_cli("check", "--verbose")[1].splitlines()
    problem = next(
        i
        for i, line in enumerate(lines)
        if "problem: app 'failing' (failing-dist==0.3): failed" in line
    )
    assert lines[problem + 1].strip() == "Traceback (most recent call last):"
    assert any(app_at in line for line in lines[problem + 1 :])
    # routes imports hook modules only, so only the hooks' traceback.
    code, out = run_cli("routes", "-v")
    assert code == 0 and hooks_at in out and app_at not in out


def test_verbose_json_stays_json(dists: Dists) -> None:
    from apphost.cli import main
    from click.testing import CliRunner

    hooks = unique("failing_hooks")
    dists.add("failing-dist", plugins={"failing": hooks}, modules={hooks: "1 / 0\n"})
    for command in ("routes", "plugins"):
        result = CliRunner().invoke(main, [command, "--json", "-v"], catch_exceptions=False)
        assert result.exit_code == 0
        json.loads(result.stdout)  # the tracebacks went to stderr
        assert f'{hooks}.py", line 1, in <module>' in result.stderr
        assert "ZeroDivisionError" in result.stderr


def test_distribution_for_another_apphost_in_check_and_plugins(run_cli: Run, dists: Dists) -> None:
    mod = unique("old")
    dists.add(
        "old-dist",
        apps={"old": f"{mod}:app"},
        modules={mod: "raise RuntimeError('must not be imported')"},
        requires=["apphost<0.1"],
    )
    code, out = run_cli("check")
    assert code == 1
    assert (
        "problem: distribution old-dist==1.0 requires apphost<0.1 but this is apphost 0.1.0;"
        " its apps and plugins are not loaded (app 'old')"
    ) in out
    assert "must not be imported" not in out
    code, out = run_cli("plugins")
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith("app") and " old " in line]
    assert "old-dist==1.0" in row and "not loaded: requires apphost<0.1" in row


def test_app_without_a_route_says_why_in_every_command(run_cli: Run, dists: Dists) -> None:
    mod, hooks = unique("scoped"), unique("scoped_hooks")
    source = "from apphost import Claim\ndef apphost_claim_routes():\n    return Claim(app='scoped', subdomain='t', host='t.example')\n"
    dists.add(
        "scoped-dist",
        apps={"scoped": f"{mod}:app"},
        plugins={"scoped": hooks},
        modules={mod: "def app(environ, start_response):\n    return []\n", hooks: source},
    )
    why = "app 'scoped' (scoped-dist==1.0): not mounted: its claim"
    code, out = run_cli("check")
    assert code == 1 and f"problem: {why}" in out
    code, out = run_cli("routes")
    assert code == 0 and why in out and "give subdomain= or host=, not both" in out
    code, out = run_cli("plugins", "--json")
    row = next(r for r in json.loads(out) if (r["kind"], r["name"]) == ("app", "scoped"))
    assert row["status"].startswith("ok; not mounted: its claim Claim(app='scoped'")

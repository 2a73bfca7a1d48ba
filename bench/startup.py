"""3. Start-up: ``apphost routes --json`` with 2,000 plugin distributions vs a bare scan.

    .venv/bin/python bench/startup.py [--rounds 5] [--dists 2000]

The script writes ``--dists`` distributions into a temporary folder put on
PYTHONPATH: each a ``.dist-info`` (METADATA, entry_points.txt advertising one
app in ``apphost.apps``) and the app's module, which records its name in a
file when imported (and prints to stderr). Contenders, timed in turn over
the rounds (wall clock of the whole process, after one warm-up each, with
byte-code caching on in a temporary PYTHONPYCACHEPREFIX):

- bare scan: the venv's interpreter running one
  ``importlib.metadata.entry_points(group="apphost.apps")``;
- apphost routes: ``apphost routes --json`` in the venv as it is (the
  example plugins are installed; ``routes`` imports their hook modules);
- apphost routes, examples disabled: the same with
  ``APPHOST_DISABLE_PLUGINS`` naming the example plugins, so only the
  generated distributions are plugins.

Each is also timed with no generated distribution, to show the fixed cost.
Afterwards the record must be empty: ``routes`` imports no app module.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import fmt_ms, fmt_ratio, median, table, target

BIN = Path(sys.executable).parent
EXAMPLES = "hello,notes,wiki,tenants,people,items"
BARE = "bare scan"
ROUTES = "apphost routes"
ROUTES_ONLY = "apphost routes, examples disabled"
SCAN = "from importlib.metadata import entry_points; entry_points(group='apphost.apps')"

MODULE = """\
import os
import sys

with open(os.environ["BENCH_IMPORT_LOG"], "a") as _f:
    _f.write(__name__ + "\\n")
print("imported", __name__, file=sys.stderr)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def write_dists(root: Path, count: int) -> None:
    root.mkdir(parents=True)
    for i in range(count):
        mod = f"benchplug_{i:04d}"
        info = root / f"{mod}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: benchplug-{i:04d}\nVersion: 1.0\n"
            "Summary: a generated apphost plugin for bench/startup.py\n"
        )
        (info / "entry_points.txt").write_text(f"[apphost.apps]\nbp{i:04d} = {mod}:app\n")
        (info / "top_level.txt").write_text(mod + "\n")
        (root / f"{mod}.py").write_text(MODULE)


def commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    routes = [str(BIN / "apphost"), "routes", "--json"]
    return {
        BARE: ([sys.executable, "-c", SCAN], {}),
        ROUTES: (routes, {}),
        ROUTES_ONLY: (routes, {"APPHOST_DISABLE_PLUGINS": EXAMPLES}),
    }


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dists", type=int, default=2000)
    args = parser.parse_args(argv)

    print("## 3. Start-up with many plugin distributions\n")
    print(
        f"Wall-clock ms of the whole process, median of {args.rounds} rounds, contenders in"
        " turn. See the docstring of `bench/startup.py` for what is generated and run.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        work = Path(tmp)
        record = work / "imported.txt"
        base = {k: v for k, v in os.environ.items() if not k.startswith("APPHOST_")}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        base["BENCH_IMPORT_LOG"] = str(record)
        results: dict[tuple[int, str], list[float]] = {}
        outputs: dict[int, str] = {}
        for count in (0, args.dists):
            site = work / f"site{count}"
            write_dists(site, count)
            env = {
                **base,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(site), base.get("PYTHONPATH")])),
            }
            cmds = commands()
            for name, (cmd, extra) in cmds.items():  # warm-up: byte-code, page cache
                run_once(cmd, {**env, **extra}, work)
                results[(count, name)] = []
            names = list(cmds)
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    cmd, extra = cmds[name]
                    elapsed, out = run_once(cmd, {**env, **extra}, work)
                    results[(count, name)].append(elapsed)
                    if name == ROUTES_ONLY:
                        outputs[count] = out
            print(f"startup: {count} dists done", file=sys.stderr, flush=True)

        imported = record.read_text().split() if record.exists() else []
        rows = json.loads(outputs[args.dists])
        generated = [r for r in rows if str(r.get("app", "")).startswith("bp")]

    rows_out = []
    for count in (0, args.dists):
        bare = results[(count, BARE)]
        for name in (BARE, ROUTES, ROUTES_ONLY):
            times = results[(count, name)]
            ratio = median(t / b for t, b in zip(times, bare, strict=True))
            rows_out.append([f"{count:,}", name, fmt_ms(median(times)), fmt_ratio(ratio)])
    print(table(["generated dists", "command", "ms", "vs bare scan"], rows_out))
    print(
        f"\n`apphost routes --json` listed {len(generated):,} of the {args.dists:,} generated"
        f" apps; app modules imported by all the runs: {len(imported)}"
        + (f" ({', '.join(imported[:5])}...)" if imported else "")
        + ".\n"
    )

    def ratio_of(name: str) -> float:
        bare = results[(args.dists, BARE)]
        return median(t / b for t, b in zip(results[(args.dists, name)], bare, strict=True))

    print("Targets:\n")
    for name in (ROUTES, ROUTES_ONLY):
        slower = ratio_of(name)
        print(
            target(
                slower <= 1.5,
                f"start-up of `{name}` with {args.dists:,} plugins <= 1.5x the bare scan",
                fmt_ratio(slower),
            )
        )
    print(
        target(
            not imported and len(generated) == args.dists,
            f"zero app modules imported by `apphost routes` (and all {args.dists:,} listed)",
            f"{len(imported)} imported, {len(generated):,} listed",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark and write ``bench/RESULTS.md``; what ``make bench`` runs.

    .venv/bin/python bench/run.py                 # all of them, then RESULTS.md
    .venv/bin/python bench/run.py dispatch memory  # some, printed only

Each script prints a markdown section (tables, then PASS/MISS per target) and
runs in its own process, one after the other, so they never compete for the
two cores. RESULTS.md gets the date, the machine, the versions, the commands,
a summary of the targets and every section.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPTS = (
    "dispatch",
    "throughput",
    "startup",
    "pathological",
    "memory",
    "threads",
    "observe",
    "workers",
    "isolation",
    "asgi",
    "pools",
    "slowloris",
    "gil",
)
PACKAGES = (
    "apphost",
    "werkzeug",
    "paste",
    "waitress",
    "pluggy",
    "importlib_metadata",
    "click",
    "prometheus_client",
    "a2wsgi",
    "fastapi",
)


def sh(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- machine: {platform.platform()}; {os.cpu_count()} CPUs ({cpu});"
        f" {mem_kb / 1024 / 1024:.1f} GiB RAM; load average at start {load}",
        f"- Python {sys.version.split()[0]} ({platform.python_implementation()}, {sys.executable})",
    ]


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    wrk = sh("wrk", "-v").splitlines()
    if wrk:
        found.append(wrk[0].split(" [")[0])
    return "- versions: " + ", ".join(found)


def source() -> str:
    commit = sh("git", "rev-parse", "--short", "HEAD") or "?"
    dirty = sh("git", "status", "--porcelain", "--", "host", "pyproject.toml")
    return f"- source: commit {commit}" + (
        " plus uncommitted changes under host/ (measured as they are)" if dirty else ""
    )


def run_script(name: str) -> tuple[str, float]:
    """Run ``bench/<name>.py``, echoing its output; return the output and the seconds."""
    argv = [sys.executable, str(HERE / f"{name}.py")]
    t0 = time.perf_counter()
    lines = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if proc.returncode != 0:
        lines.append(f"\n**{name}.py failed with exit status {proc.returncode}.**\n")
        print(lines[-1], flush=True)
    return "".join(lines).rstrip() + "\n", time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"scripts to run: {', '.join(SCRIPTS)}")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown script(s) {', '.join(sorted(unknown))}; choose from {SCRIPTS}")
    names = args.names or list(SCRIPTS)
    started = datetime.datetime.now(datetime.timezone.utc)
    header = [*machine(), versions(), source()]
    sections = []
    timings = []
    for name in names:
        out, seconds = run_script(name)
        sections.append(out)
        timings.append(f"`{name}.py` {seconds:.0f} s")
        print(flush=True)
    total = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    summary = [
        line for out in sections for line in out.splitlines() if line[:7] in ("- PASS:", "- MISS:")
    ]
    if names != list(SCRIPTS):
        print(f"Ran {', '.join(names)} in {total:.0f} s; RESULTS.md is written by a full run.")
        return 0
    commands = [
        "make bench   # installs paste and py-spy (bench/requirements.txt) and Debian's wrk, then:",
        ".venv/bin/python bench/run.py",
        *(f".venv/bin/python bench/{n}.py   # one section alone" for n in SCRIPTS),
    ]
    text = "\n".join(
        [
            "# apphost benchmarks",
            "",
            "Written by `make bench` (`bench/run.py`); goals from the issues (5, 7, 13"
            " and the ones each script's docstring names). Every figure is a median"
            " of several rounds with the contenders alternating in one run; all"
            " traffic is loopback or in-process.",
            "",
            f"- date: {started:%Y-%m-%d %H:%M} UTC; whole run {total:.0f} s ({', '.join(timings)})",
            *header,
            "",
            "Commands:",
            "",
            "```sh",
            *commands,
            "```",
            "",
            "## Targets",
            "",
            *summary,
            "",
            *sections,
        ]
    )
    # Whole or not at all: a new file renamed over the old one. Rewritten in place,
    # two runs at once (or an editor saving) can leave the end of a longer text
    # after this one: stray lines after the last section.
    tmp = HERE / f".RESULTS.md.{os.getpid()}"
    tmp.write_text(text)
    os.replace(tmp, HERE / "RESULTS.md")
    if (HERE / "RESULTS.md").read_text() != text:
        print("bench/RESULTS.md changed while it was written: run again", file=sys.stderr)
        return 1
    print(f"Wrote bench/RESULTS.md ({total:.0f} s in all).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

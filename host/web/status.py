"""The operator's picture of a running instance: what is wrong first, then apps, workers, reloads.

    view = StatusView(host)
    picture = view.picture()     # a dict: /_apphost/status.json, the page, ``apphost status --json``
    print(as_text(picture))      # what ``apphost status`` prints

Nothing here runs per request: a picture is made when one is asked for. The
per-app numbers come from the metrics every worker already writes
(``apphost.web.observe``), summed over the workers; requests, error rate
and latency percentiles are over about the last minute: each picture keeps
a sample of the totals, and the next one subtracts the newest sample at
least ``WINDOW`` seconds old (until there is one, the window is "since
start", and says so). The workers and the recent reloads come from the file
the supervisor keeps (``apphost.serving.supervisor.STATUS_FILE``); without a
supervisor the one worker is this process.

An app fails to load, is quarantined, saturated or stuck in one worker; so
that whichever worker answers tells the whole story, each worker writes
what is wrong in it to ``WRONG_FILE`` in the metrics folder from its watch
thread (once a second, only when it changed), and a picture, or the health
check, reads the other live workers' files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .report import plugin_rows, route_rows

if TYPE_CHECKING:
    from ..host import Host

WINDOW = 60.0  # seconds the per-app numbers cover
SAMPLE_EVERY = 5.0  # at most one sample of the totals per this many seconds
LINKS = {
    "status": "/_apphost/",
    "status_json": "/_apphost/status.json",
    "health": "/_apphost/health",
    "metrics": "/_apphost/metrics",
    "routes": "/_apphost/routes",
    "plugins": "/_apphost/plugins",
}
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
SHARED_KINDS = ("failed", "quarantined", "saturated", "stuck")  # what differs between workers
_ORDER = {"failed": 0, "conflict": 1, "quarantined": 2, "saturated": 3, "stuck": 4}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Totals:
    """One app's counters, summed over the workers, since the metrics began."""

    codes: dict[str, float] = field(default_factory=dict)  # "2xx" -> requests
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    rejected: float = 0.0
    in_flight: float = 0.0  # a gauge: now, not a total

    @property
    def requests(self) -> float:
        return sum(self.codes.values())

    def minus(self, before: Totals | None) -> Totals:
        if before is None:
            return self
        return Totals(
            {c: n - before.codes.get(c, 0.0) for c, n in self.codes.items()},
            {b: n - before.buckets.get(b, 0.0) for b, n in self.buckets.items()},
            self.rejected - before.rejected,
            self.in_flight,
        )

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile in seconds, interpolated in its bucket as Prometheus does."""
        bounds = sorted(self.buckets)
        total = self.buckets.get(float("inf"), 0.0)
        if total <= 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for bound in bounds:
            count = self.buckets[bound]
            if count >= rank:
                if bound == float("inf"):
                    return lower  # past the largest bound: at least that
                share = (rank - below) / (count - below) if count > below else 1.0
                return lower + (bound - lower) * share
            lower, below = bound, count
        return lower


class StatusView:
    """Makes pictures of one host; keeps the samples that give the last minute's numbers."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.started = time.time()  # about when this worker built its host
        self._samples: list[tuple[float, dict[str, Totals]]] = []
        self._lock = threading.Lock()
        self._shared = ""  # what this worker last wrote to its WRONG_FILE
        host.bulkheads.watchers.append(self.share)

    def share(self) -> None:
        """Write what is wrong in this worker where the others read it (the watch thread)."""
        folder = os.environ.get(METRICS_DIR)
        if not folder:
            return
        mine = [w for w in self._wrong(time.time()) if w["kind"] in SHARED_KINDS]
        text = json.dumps(mine)
        if text != self._shared:
            from ..serving.supervisor import WRONG_FILE

            _write(os.path.join(folder, WRONG_FILE.format(pid=os.getpid())), text)
            self._shared = text

    def picture(self) -> dict[str, Any]:
        host = self.host
        now = time.time()
        supervisor = read_supervisor()
        totals = self._totals()
        seconds, before = self._window(now, totals, supervisor)
        wrong = _merge(self._wrong(now), wrong_elsewhere(supervisor))
        workers = self._workers(now, supervisor)
        serving = sum(1 for w in workers if w["state"] == "serving") or 1
        state = "draining" if host.draining else "degraded" if wrong else "ok"
        return {
            "status": state,
            "apphost": {
                "version": _version(),
                "server_name": host.config.server_name,
                "listen": supervisor.get("listen") or list(host.config.listen),
                "admin_listen": supervisor.get("admin_listen", list(host.config.admin_listen)),
                "pid": supervisor.get("pid", os.getpid()),
                "started": supervisor.get("started", self.started),
                "uptime": round(now - supervisor.get("started", self.started), 1),
                "answered_by": os.getpid(),
                "at": now,
            },
            "wrong": wrong,
            "window": {"seconds": round(seconds, 1), "since_start": before is None},
            "apps": self._apps(totals, before or {}, serving, wrong),
            "workers": workers,
            "recycled": supervisor.get("recycled", {}),
            "reloads": list(reversed(supervisor.get("reloads", []))),  # newest first
            "pools": self._pools(),  # [hosting.NAME] isolation = "process": one row each
            "routes": _route_states(route_rows(host), wrong),
            "plugins": plugin_rows(host),
            "links": LINKS,
        }

    # -- what is wrong ----------------------------------------------------------

    def _wrong(self, now: float) -> list[dict[str, Any]]:
        """Failed, conflicted, quarantined, saturated and stuck, in that order; then other problems."""
        host, bulkheads = self.host, self.host.bulkheads
        wall = now - time.monotonic()  # add to a time.monotonic() for a time.time()
        wrong: list[dict[str, Any]] = []
        for name, lazy in sorted(host.apps.items()):
            if lazy.info.failed:
                wrong.append(
                    _item("failed", name, lazy.info.why, lazy.failed_at or self.started, lazy.info)
                )
        for name, plugin in sorted(host.plugins.items()):
            if plugin.state != "ok":
                why = f"plugin {name!r} ({plugin.dist}=={plugin.version}): {plugin.state}"
                wrong.append(_item("failed", f"plugin {name}", why, self.started))
        for entry in host.dispatcher.table.entries:
            if entry.conflict is not None:
                c = entry.conflict
                apps = sorted({_app_of(c.existing.claim), _app_of(c.duplicate.claim)})
                item = _item("conflict", " and ".join(apps), str(c), self.started)
                wrong.append(item | {"route": c.route})
        since = bulkheads.quarantined_at
        for name, why in sorted(bulkheads.quarantined.items()):
            wrong.append(_item("quarantined", name, why, since.get(name, self.started)))
        for b in sorted(bulkheads.each(), key=lambda b: b.name):
            if b.saturated:
                why = (
                    f"at its max_in_flight ({b.limit}) in this worker: {b.rejected} requests"
                    f" turned away with 503, the last {time.monotonic() - b.last_rejected:.0f}s ago"
                )
                wrong.append(_item("saturated", b.name, why, wall + b.saturated_since))
        for s in sorted(bulkheads.stuck.values(), key=lambda s: s.started):
            why = f"stuck request {s.method} {s.path} running for {s.age():.0f}s, past its request_timeout"
            wrong.append(_item("stuck", s.app, why, wall + s.started))
        failed = {w["app"] for w in wrong if w["kind"] == "failed"}
        for problem in host.problems:  # what is not listed above already
            kind = problem.kind.value
            if kind == "conflict" or (kind == "app" and problem.subject in failed):
                continue
            if kind == "plugin" and problem.plugin in host.plugins:
                continue
            if kind == "app" and ": not mounted: " in problem.message:
                kind = "unmounted"
            wrong.append(_item(kind, problem.subject, str(problem), self.started))
        return wrong

    # -- per app ----------------------------------------------------------------

    def _totals(self) -> dict[str, Totals]:
        metrics = self.host.metrics
        metrics.fold()
        families: Iterable[Any]
        if metrics.multiprocess:
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            try:
                families = list(registry.collect())
            except FileNotFoundError:  # a dead worker's file was folded away meanwhile
                families = list(registry.collect())
        else:
            families = metrics.registry.collect()
        totals: dict[str, Totals] = {}
        for family in families:
            for sample in family.samples:
                app = sample.labels.get("app")
                if app is None or app == "-":
                    continue
                t = totals.get(app)
                if t is None:
                    t = totals[app] = Totals()
                name = sample.name
                if name == "apphost_requests_total":
                    code = sample.labels["code"]
                    t.codes[code] = t.codes.get(code, 0.0) + sample.value
                elif name == "apphost_request_duration_seconds_bucket":
                    bound = float(sample.labels["le"])
                    t.buckets[bound] = t.buckets.get(bound, 0.0) + sample.value
                elif name == "apphost_requests_rejected_total":
                    t.rejected += sample.value
                elif name == "apphost_app_requests_in_flight":
                    t.in_flight += sample.value
        if not metrics.multiprocess:  # the gauge is set once a second; this is now
            for b in self.host.bulkheads.each():
                totals.setdefault(b.name, Totals()).in_flight = 0.0
            for b in self.host.bulkheads.each():
                totals[b.name].in_flight += len(b.active)
        return totals

    def _window(
        self, now: float, totals: dict[str, Totals], supervisor: dict[str, Any]
    ) -> tuple[float, dict[str, Totals] | None]:
        """(seconds covered, the totals at its start, None if that is the start)."""
        with self._lock:
            samples = self._samples
            old = [s for s in samples if s[0] <= now - WINDOW]
            if old:  # keep the newest that is old enough, drop older ones
                samples[:] = [old[-1], *(s for s in samples if s[0] > now - WINDOW)]
            if not samples or now - samples[-1][0] >= SAMPLE_EVERY:
                samples.append((now, totals))
            if old:
                return now - old[-1][0], old[-1][1]
        return now - supervisor.get("started", self.started), None

    def _apps(
        self,
        totals: dict[str, Totals],
        before: dict[str, Totals],
        serving: int,
        wrong: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        host = self.host
        limits = {b.name: b.limit for b in host.bulkheads.each()}
        quarantined = {w["app"]: w["why"] for w in wrong if w["kind"] == "quarantined"}
        failed = {w["app"]: w["why"] for w in wrong if w["kind"] == "failed"}
        saturated = {w["app"] for w in wrong if w["kind"] == "saturated"}
        rows: list[dict[str, Any]] = []
        for name in sorted(set(host.apps) | set(totals)):
            lazy = host.apps.get(name)
            now = totals.get(name, Totals())
            t = now.minus(before.get(name))
            requests = t.requests
            errors = t.codes.get("5xx", 0.0)
            p50, p99 = t.quantile(0.5), t.quantile(0.99)
            if name in quarantined:
                state = f"quarantined: {quarantined[name]}"
            elif name in failed:
                state = f"failed: {failed[name]}"
            elif name in saturated:
                state = "saturated"
            elif lazy is None or now.requests:  # loaded in whichever worker answered them
                state = "ok"
            else:
                state = lazy.info.state
            limit = limits.get(name)
            rows.append(
                {
                    "name": name,
                    "distribution": (
                        f"{lazy.info.dist}=={lazy.info.version}" if lazy is not None else ""
                    ),
                    "status": state,
                    "requests": int(requests),
                    "errors": int(errors),
                    "error_rate": round(errors / requests, 4) if requests else 0.0,
                    "p50_ms": None if p50 is None else round(p50 * 1000, 1),
                    "p99_ms": None if p99 is None else round(p99 * 1000, 1),
                    "rejected": int(t.rejected),
                    "in_flight": int(now.in_flight),
                    "limit": None if limit is None else limit * serving,
                }
            )
        order = {"quarantined": 0, "failed": 0, "saturated": 1}
        rows.sort(key=lambda r: order.get(r["status"].split(":")[0], 2))
        return rows

    # -- workers ------------------------------------------------------------------

    def _workers(self, now: float, supervisor: dict[str, Any]) -> list[dict[str, Any]]:
        known = supervisor.get("workers")
        if known is None:  # no supervisor: this process is the one worker
            known = [
                {"pid": os.getpid(), "generation": 1, "state": "serving", "started": self.started}
            ]
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        rows = []
        for w in known:
            if w.get("pool"):  # a pool's process: in "pools"
                continue
            pid = w["pid"]
            served = _served(folder, pid) if folder else self.host.bulkheads.served()
            rows.append(
                {
                    "pid": pid,
                    "state": w["state"],
                    "generation": w["generation"],
                    "why": w.get("why", "start"),
                    "uptime": round(now - w["started"], 1),
                    "rss_mib": _rss_mib(pid),
                    "requests": served,
                    "connections": self._connections(w),
                }
            )
        return rows

    def _connections(self, worker: dict[str, Any]) -> int | None:
        """The connections ``worker`` holds now: from the balance, or this worker's own."""
        slot = worker.get("slot")
        if slot is None and worker["pid"] != os.getpid():
            return None  # no balance (one worker): only this one's are known
        return self.host.connections(slot)

    def _pools(self) -> list[dict[str, Any]]:
        """Each process pool: processes, PIDs, RSS, restarts, and this worker's requests in it."""
        host = self.host
        if not host.pools:
            return []
        from .report import pool_rows

        return [{"name": name, **row} for name, row in sorted(pool_rows(host).items())]


def _merge(here: list[dict[str, Any]], elsewhere: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This worker's list and the others': one failed or quarantined item per app, kinds in order."""
    seen = {(w["kind"], w["app"]) for w in here if w["kind"] in ("failed", "quarantined")}
    merged = list(here)
    for w in elsewhere:
        key = (w["kind"], w["app"])
        if key in seen:
            continue
        if w["kind"] in ("failed", "quarantined"):
            seen.add(key)
        merged.append(w)
    merged.sort(key=lambda w: _ORDER.get(w["kind"], len(_ORDER)))  # stable: each kind's order
    return merged


def _route_states(rows: list[dict[str, Any]], wrong: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes whose app failed or is quarantined in another worker do not say ok either."""
    states = {
        w["app"]: f"{w['kind']}: {w['why']}"
        for w in wrong
        if w["kind"] in ("failed", "quarantined")
    }
    for row in rows:
        if row["status"] == "ok" and row["app"] in states:
            row["status"] = states[row["app"]]
    return rows


def wrong_elsewhere(supervisor: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """What the other live workers said is wrong in them, each item naming its ``worker``."""
    folder = os.environ.get(METRICS_DIR)
    if not folder:
        return []
    if supervisor is None:
        supervisor = read_supervisor()
    from ..serving.supervisor import WRONG_FILE

    found = []
    for w in supervisor.get("workers", ()):
        pid = w["pid"]
        if pid == os.getpid() or w["state"] == "starting":
            continue
        try:
            with open(os.path.join(folder, WRONG_FILE.format(pid=pid))) as f:
                items = json.load(f)
        except (OSError, ValueError):
            continue
        found += [item | {"worker": pid} for item in items if isinstance(item, dict)]
    return found


def _write(path: str, text: str) -> None:
    """Replace ``path`` whole (readers never see half of it); never raises."""
    try:
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)
    except OSError:
        pass


def _item(kind: str, app: str, why: str, since: float, info: Any = None) -> dict[str, Any]:
    item = {"kind": kind, "app": app, "why": why, "since": round(since, 3)}
    if info is not None:
        item["distribution"] = f"{info.dist}=={info.version}"
    return item


def _app_of(claim: Any) -> str:
    app = claim.app if claim.factory is None else claim.factory
    return app if isinstance(app, str) else getattr(app, "__qualname__", repr(app))


def read_supervisor() -> dict[str, Any]:
    """What the supervisor last wrote to its status file; {} when there is none."""
    from ..serving.supervisor import STATUS_FILE

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return {}
    try:
        with open(os.path.join(folder, STATUS_FILE)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _served(folder: str, pid: int) -> int:
    """Requests worker ``pid`` has answered, from its counter file (at most a second old)."""
    from prometheus_client.mmap_dict import MmapedDict

    path = os.path.join(folder, f"counter_{pid}.db")
    if not os.path.exists(path):
        return 0
    try:
        values = MmapedDict(path, read_mode=True)  # type: ignore[no-untyped-call]
    except (OSError, ValueError):
        return 0
    try:
        return int(
            sum(
                value
                for key, value, _ in values.read_all_values()  # type: ignore[no-untyped-call]
                if json.loads(key)[1] == "apphost_requests_total"
            )
        )
    finally:
        values.close()  # type: ignore[no-untyped-call]


def _rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return round(int(f.read().split()[1]) * _PAGE / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apphost")
    except PackageNotFoundError:
        return "unknown"


# -- ``apphost status``: another instance's picture, as text ------------------------


def status_url(base: str) -> str:
    """The status JSON's URL for ``base``: ``HOST:PORT``, ``http://HOST:PORT[/prefix]``, or itself."""
    if "://" not in base:
        base = "http://" + base
    base = base.rstrip("/")
    if base.endswith(LINKS["status_json"]):
        return base
    if base.endswith("/_apphost"):
        base = base[: -len("/_apphost")]
    return base + LINKS["status_json"]


def fetch_picture(base: str, timeout: float = 10.0) -> dict[str, Any]:
    """The picture a running instance at ``base`` gives; ``ApphostError`` saying why if none."""
    import urllib.error
    import urllib.request

    from ..errors import ApphostError

    url = status_url(base)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        hint = {
            403: 'its status pages answer loopback clients only (status_page = "local"):'
            " run apphost status on that machine",
            404: 'no apphost status page there (status_page = "off", or not apphost)',
        }.get(exc.code, "")
        raise ApphostError(
            f"{url} answered {exc.code} {exc.reason}" + (f": {hint}" if hint else "")
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApphostError(
            f"nothing answers at {url}: {reason}. Is apphost serve running there?"
            " Give its address: apphost status http://HOST:PORT"
        ) from None
    try:
        picture = json.loads(body)
        if not isinstance(picture, dict) or "apphost" not in picture:
            raise ValueError("not a picture")
    except ValueError:
        raise ApphostError(f"{url} did not answer with apphost's status JSON") from None
    return dict(picture)


# -- text, for ``apphost status`` ---------------------------------------------------


def as_text(picture: dict[str, Any]) -> str:
    """The picture as ``apphost status`` prints it: what is wrong first."""
    a = picture["apphost"]
    lines = [
        f"apphost {a['version']}: {picture['status'].upper()}; pid {a['pid']},"
        f" up {duration(a['uptime'])}, listening on {', '.join(a['listen'])}"
        + (f" (own pages on {', '.join(a['admin_listen'])})" if a.get("admin_listen") else "")
    ]
    wrong = picture["wrong"]
    if wrong:
        lines.append(f"\nWrong now ({len(wrong)}):")
        at = a["at"]
        lines += [
            f"  {w['kind'].upper()} {w['app']}: {w['why']}{where(w)}"
            f" (since {duration(at - w['since'])} ago)"
            for w in wrong
        ]
    else:
        lines.append("\nNothing is wrong right now.")
    window = picture["window"]
    span = "since start" if window["since_start"] else "last"
    lines.append(f"\nApps ({span} {duration(window['seconds'])}):")
    lines += _columns(
        ["APP", "STATUS", "REQUESTS", "ERRORS", "P50", "P99", "IN FLIGHT"],
        [
            [
                r["name"],
                short_state(r["status"]),
                str(r["requests"]),
                f"{r['error_rate']:.1%}",
                _ms(r["p50_ms"]),
                _ms(r["p99_ms"]),
                f"{r['in_flight']}/{r['limit'] if r['limit'] is not None else '-'}",
            ]
            for r in picture["apps"]
        ],
    )
    lines.append("\nWorkers:")
    lines += _columns(
        ["PID", "STATE", "UPTIME", "RSS", "REQUESTS", "CONNECTIONS", "STARTED FOR"],
        [
            [
                str(w["pid"]),
                w["state"],
                duration(w["uptime"]),
                f"{w['rss_mib']:.0f} MiB" if w["rss_mib"] is not None else "-",
                str(w["requests"]),
                "-" if w.get("connections") is None else str(w["connections"]),
                w["why"],
            ]
            for w in picture["workers"]
        ],
    )
    if picture["recycled"]:
        recycled = ", ".join(f"{k} {n}" for k, n in sorted(picture["recycled"].items()))
        lines.append(f"  recycled: {recycled}")
    if picture.get("pools"):
        lines.append("\nProcess pools:")
        lines += _columns(
            ["APP", "PROCESSES", "PIDS", "RSS", "RESTARTS", "IN FLIGHT"],
            [[str(c) for c in pool_cells(p)] for p in picture["pools"]],
        )
    lines.append("\nLast reloads:" if picture["reloads"] else "\nNo reload since start.")
    for r in picture["reloads"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"]))
        lines.append(f"  {when} ({r['why']}): {r['summary']}")
    return "\n".join(lines)


def pool_cells(pool: dict[str, Any]) -> list[Any]:
    """A pool's row: app, serving/configured processes, PIDs, RSS, restarts, in flight here."""
    return [
        pool["name"],
        f"{len(pool['pids'])}/{pool['processes']}",
        " ".join(map(str, pool["pids"])) or "-",
        " ".join(f"{r:.0f}" for r in pool["rss_mib"]) + " MiB" if pool["rss_mib"] else "-",
        pool["restarts"],
        pool["in_flight"],
    ]


def short_state(status: str) -> str:
    """``failed`` for ``failed: why`` (the why is listed under what is wrong), else as it is."""
    head = status.split(":", 1)[0]
    return head if head in ("failed", "quarantined") else status


def where(item: dict[str, Any]) -> str:
    """`` (in worker 123)`` for what another worker said, else nothing."""
    return f" (in worker {item['worker']})" if "worker" in item else ""


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    cells = [header, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g}ms"


def duration(seconds: float) -> str:
    """``42s``, ``5m12s``, ``3h04m``, ``2d03h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"

"""The process the operator starts: it holds the listening sockets and runs workers on them.

    code = supervise(config, argv=[sys.executable, "-m", "apphost", "serve"])

Each worker is a fresh interpreter (``argv``) serving on the inherited
sockets (see ``apphost.serving.worker``); the supervisor imports no plugin, so it
never holds stale code. Its PID is the one to signal (systemd's MainPID):

- SIGHUP: start a new generation of workers, which see every distribution
  installed, upgraded or removed since; once all of them serve, SIGTERM the
  previous generation, which drains (``apphost.serving.drain``). Both generations
  accept on the same sockets in between, so no connection is refused. If a
  new worker fails before it serves (``--strict`` and a new problem, a
  startup hook raising, a broken config file), the previous generation keeps
  serving and the reason is logged.
- SIGTERM, SIGINT: close this process's copy of the sockets, SIGTERM every
  worker, wait while they drain (``shutdown_timeout``), exit 0. A second one
  kills them.
- A worker that dies while serving is replaced (after a back-off while
  workers keep dying), and the log names the requests it had in flight, read
  from its scoreboard (``apphost.serving.scoreboard``). An app in flight in
  ``crash_limit`` deaths within ``crash_window`` is quarantined in every
  worker until the next reload (``apphost.serving.crashes``).
- A worker that asks to be replaced (``max_requests``, ``max_worker_memory``,
  too many stuck requests; see ``apphost.web.bulkhead``) is, the way SIGHUP
  replaces workers: the new one serves first, then the old one drains. One
  at a time, so workers never recycle together.

Startup and shutdown hooks run in every worker process. The workers share
their metrics through a ``PROMETHEUS_MULTIPROC_DIR`` made here (unless the
operator set one) and removed at exit; see ``apphost.web.observe``. With
two workers or more, each writes how many connections it holds to a slot of
a ``Balance`` made here, so new ones go to the worker holding fewest
(``apphost.serving.balance``); a worker's slot is vacated when it exits.

Every reload logs one line saying what it changed (apps and routes added,
upgraded, removed, and new problems), from the manifests the old and new
workers sent (``apphost.serving.changes``). What the supervisor knows (its
workers, the recent reloads, the recycles) is written to ``STATUS_FILE`` in
that folder on every change, for the status page a worker renders.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import ApphostError
from .balance import Balance
from .changes import compare, describe_changes
from .crashes import Crashes
from .pools import Pools, pool_threads
from .scoreboard import Scoreboard
from .signals import receive, signal_socket
from .sockets import DEFAULT_BACKLOG, bind, close, describe, systemd_sockets
from .worker import ENV_POOL, FAILED, MANIFEST, POOL, QUARANTINE, READY, RECYCLE, Worker

log = logging.getLogger("apphost")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
KILL_MARGIN = 5.0  # a worker still draining this long after shutdown_timeout is killed
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode
STATUS_FILE = "apphost-supervisor.json"  # in METRICS_DIR: what the supervisor knows, as JSON
WRONG_FILE = "apphost-wrong-{pid}.json"  # in METRICS_DIR: what is wrong in a worker (web.status)
KEEP_RELOADS = 10  # reloads the status file remembers


def supervise(config: Config, argv: Sequence[str]) -> int:
    """Take systemd's sockets (else bind ``config.listen``), run workers; the exit status.

    Raises ApphostError saying why if the first workers could not start.
    """
    own_metrics_dir = METRICS_DIR not in os.environ
    if not own_metrics_dir:
        _check_metrics_dir(os.environ[METRICS_DIR])
    backlog = int(config.waitress.get("backlog", DEFAULT_BACKLOG))
    sockets = systemd_sockets()
    if sockets:
        where = ", ".join(describe(s) for s in sockets)
        log.info("using %d socket(s) passed by systemd: %s", len(sockets), where)
    else:
        sockets = bind(config.listen, backlog)
    try:  # held here like listen's, so workers (and their successors on reload) share them
        admin = bind(config.admin_listen, backlog)
    except BaseException:
        close(sockets)
        raise
    if own_metrics_dir:  # before prometheus_client is imported, here and in the workers
        os.environ[METRICS_DIR] = tempfile.mkdtemp(prefix="apphost-metrics-")
    try:
        pools = Pools.bind(config)
    except ApphostError:
        close(sockets + admin)
        raise
    supervisor = Supervisor(sockets, argv, config, admin, pools)
    try:
        code = supervisor.run()
    finally:
        close(sockets)
        close(admin)
        pools.close()
        if own_metrics_dir:
            shutil.rmtree(os.environ.pop(METRICS_DIR), ignore_errors=True)
    if supervisor.failure is not None:
        raise ApphostError(supervisor.failure)
    return code


def _check_metrics_dir(path: str) -> None:
    """The operator's PROMETHEUS_MULTIPROC_DIR must be a folder the workers can write."""
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise ApphostError(
            f"{METRICS_DIR}={path!r} is not a folder this user can write; the workers share"
            " their metrics there (unset it and apphost serve makes a fresh one)"
        )
    if os.listdir(path):
        log.warning(
            "%s=%s is not empty: what earlier processes counted there is counted in",
            METRICS_DIR,
            path,
        )


@dataclass(eq=False)
class _Child:
    proc: subprocess.Popen[bytes]
    control: socket.socket
    board: Scoreboard
    generation: int
    deadline: float | None
    state: str = "starting"  # -> "serving" -> "stopping"
    said: bytes = b""  # what it wrote on the control socket, not yet handled
    replaces: _Child | None = None  # the worker this one takes over from, once serving
    why: str = "start"  # why it was started: "start", "reload", "crash", a recycle reason
    manifest: dict[str, Any] | None = None  # what it serves, as it said before "ready"
    started: float = field(default_factory=time.time)
    pool: str | None = None  # the isolated app it serves, if a pool process
    slot: int | None = None  # its slot of the supervisor's Balance, if it has one

    def __str__(self) -> str:
        if self.pool is None:
            return f"worker {self.proc.pid}"
        return f"pool process {self.proc.pid} of app {self.pool!r}"


class Supervisor:
    """Keeps ``workers`` processes serving on ``sockets``; see the module doc for signals."""

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        argv: Sequence[str],
        config: Config,
        admin: Sequence[socket.socket] = (),
        pools: Pools | None = None,
    ) -> None:
        self.sockets = list(sockets)
        self.admin = list(admin)  # admin_listen's: the own pages answer only there
        self.admin_listen = [describe(s) for s in self.admin]  # described now: they close
        self.pools = pools or Pools("", {}, {})
        self.config = config
        self.restarts = dict.fromkeys(self.pools.sizes, 0)  # pool -> processes replaced
        self.argv = list(argv)
        self.workers = config.workers
        self.threads = config.threads
        # Connections per worker, for new ones to go to the fewest; room for a reload's
        # two generations and their replacements.
        self.balance = Balance.create(4 * self.workers) if self.workers > 1 else None
        self.shutdown_timeout = config.shutdown_timeout
        self.start_timeout = config.start_timeout  # a worker not serving by then has failed
        self.crashes = Crashes(config.crash_limit, config.crash_window)
        self.children: list[_Child] = []
        self.recycles: list[tuple[_Child, str]] = []  # workers waiting to be replaced, and why
        # (when, generation, pool) of backed-off spawns
        self._respawns: list[tuple[float, int, str | None]] = []
        self.generation = 0  # the generation serving; 0 until the first one serves
        self.reload_pending = False
        self.stopping = False
        self.exit_code = 0
        self.failure: str | None = None  # why the first generation could not start
        self.started = time.time()
        self.listen = [describe(s) for s in self.sockets]
        self.reloads: list[dict[str, Any]] = []  # the last KEEP_RELOADS, newest last
        self.recycled: dict[str, int] = {}  # reason -> workers replaced for it
        self._reload_why = ""  # why the generation starting was started
        self._selector = selectors.DefaultSelector()
        self._reloads: Any = None  # apphost_reloads_total, if the workers share metrics
        self._recycled: Any = None  # apphost_worker_recycles_total{reason}
        self._pool_processes: Any = None  # apphost_pool_processes{app}: serving now
        self._pool_restarts: Any = None  # apphost_pool_restarts_total{app}
        if METRICS_DIR in os.environ:
            from prometheus_client import Counter, Gauge

            self._reloads = Counter(
                "apphost_reloads", "Reloads (SIGHUP, --reload) that took effect", registry=None
            )
            self._recycled = Counter(
                "apphost_worker_recycles",
                "Workers replaced while serving, by reason (max_requests, max_worker_memory,"
                " stuck, crash)",
                ["reason"],
                registry=None,
            )
            if self.pools.sizes:
                self._pool_processes = Gauge(
                    "apphost_pool_processes",
                    "Processes serving an app's pool (isolation = process)",
                    ["app"],
                    multiprocess_mode="livemax",
                    registry=None,
                )
                self._pool_restarts = Counter(
                    "apphost_pool_restarts",
                    "Pool processes replaced while serving (crash, max_requests,"
                    " max_worker_memory, stuck)",
                    ["app"],
                    registry=None,
                )

    def run(self) -> int:
        """Start the workers and supervise them until stopped; the exit status."""
        with signal_socket(SIGNALS) as (reader, _), self._selector:
            self._selector.register(reader, selectors.EVENT_READ, None)
            pid, workers = os.getpid(), self.workers
            log.info("supervisor pid %d: %d worker(s); SIGHUP reloads, SIGTERM stops", pid, workers)
            try:
                self._start_generation()
                while self.children or not self.stopping:
                    for key, _ in self._selector.select(self._timeout()):
                        if key.data is None:
                            self._on_signals(receive(reader) or b"")
                        else:
                            self._on_message(key.data)
                    self._reap()
                    self._enforce_deadlines()
                    self._respawn_due()
            finally:
                for child in self.children:  # only if supervising itself failed
                    child.proc.kill()
                if self.balance is not None:
                    self.balance.close()
                    self.balance = None
        return self.exit_code

    def reload(self, why: str = "received SIGHUP") -> None:
        """Start a new generation; it replaces the serving one once all of it serves."""
        if self.stopping:
            return
        if any(c.generation > self.generation for c in self.children):
            self.reload_pending = True
            log.info("%s: a reload is starting; another will follow it", why)
            return
        log.info("%s: starting %d new worker(s) to reload plugins", why, self.workers)
        if self.crashes.quarantined:
            log.info("the reload lifts the quarantine of %s", ", ".join(self.crashes.quarantined))
        self.crashes.reset()
        self.recycles.clear()
        self._reload_why = why
        self._start_generation("reload")

    def stop(self, why: str) -> None:
        """Stop every worker (they drain); a second call kills them."""
        if self.stopping:
            log.warning("%s again: killing the workers", why)
            for child in self.children:
                child.proc.kill()
            self.exit_code = self.exit_code or 1
            return
        self.stopping = True
        log.info("%s: stopping %d worker(s)", why, len(self.children))
        close(self.sockets + self.admin)  # the workers keep theirs until they have drained
        for child in self.children:
            if child.pool is None:  # pools serve the workers' last requests, then stop
                self._terminate(child)
        self._stop_pools()

    def _stop_pools(self) -> None:
        """Once stopping and no worker is left to hand them requests, stop the pools."""
        if self.stopping and not any(c.pool is None for c in self.children):
            for child in self.children:
                self._terminate(child)

    def _on_signals(self, data: bytes) -> None:
        for signum in data:
            if signum == signal.SIGHUP:
                self.reload()
            elif signum in (signal.SIGTERM, signal.SIGINT):
                self.stop(f"received {signal.Signals(signum).name}")
            # SIGCHLD: _reap() runs after every wakeup

    def _on_message(self, child: _Child) -> None:
        data = receive(child.control)
        if data is None:
            return
        if not data:  # the worker is exiting; _reap() will say how
            self._selector.unregister(child.control)
            return
        child.said += data
        # "failed\n" is followed by a reason of any length, read once the worker exits.
        while b"\n" in child.said and not child.said.startswith(FAILED):
            line, _, child.said = child.said.partition(b"\n")
            if line.startswith(MANIFEST) and child.state == "starting":
                with contextlib.suppress(ValueError):
                    child.manifest = json.loads(line[len(MANIFEST) :])
            elif line + b"\n" == READY and child.state == "starting":
                child.state, child.deadline = "serving", None
                self._promote(child)
            elif line.startswith(RECYCLE) and child.state != "starting":
                self._ask_recycle(child, line[len(RECYCLE) :].decode(errors="replace"))

    def _ask_recycle(self, child: _Child, reason: str) -> None:
        """Replace ``child``, new first; one replacement at a time."""
        if self.stopping or child.state != "serving" or child.generation < self.generation:
            return
        if any(c is child for c, _ in self.recycles):
            return
        self.recycles.append((child, reason))
        self._next_recycle()

    def _next_recycle(self) -> None:
        if any(c.replaces is not None for c in self.children) or self.stopping:
            return  # one at a time: the next starts when this one has taken over
        while self.recycles:
            old, reason = self.recycles.pop(0)
            if old in self.children and old.state == "serving":
                log.info("replacing %s (%s): starting its successor", old, reason)
                kind = reason.split(":", 1)[0]
                self.recycled[kind] = self.recycled.get(kind, 0) + 1
                if self._recycled is not None:
                    self._recycled.labels(kind).inc()
                if old.pool is not None:
                    self._restarted(old.pool)
                self._spawn(old.generation, replaces=old, why=reason, pool=old.pool)
                return

    def _promote(self, child: _Child) -> None:
        self._promote_one(child)
        self._publish()

    def _promote_one(self, child: _Child) -> None:
        generation = child.generation
        for app, why in self.crashes.quarantined.items():  # it started before they were
            self._tell(child, QUARANTINE + f"{app}\t{why}".encode())
        self._announce_pools(child)
        if generation <= self.generation:  # a replacement joined the generation serving
            previous, child.replaces = child.replaces, None
            if previous is not None and previous in self.children:
                log.info("%s serves; %s drains", child, previous)
                self._terminate(previous)
            elif child.pool is None:
                log.info("worker(s) %d serve", child.proc.pid)
            else:
                log.info("%s serves", child)
            self._next_recycle()
            return
        new = [c for c in self.children if c.generation == generation]
        if any(c.state != "serving" for c in new):
            return
        old = [c for c in self.children if c.generation < generation and c.state != "stopping"]
        self.generation = generation
        for stale in old:
            self._terminate(stale)
        if old:
            said = [[c for c in g if c.pool is None] or g for g in (old, new)]  # workers'
            changes = compare(said[0][0].manifest, said[1][0].manifest)
            summary = describe_changes(changes)
            log.info(
                "reloaded: worker(s) %s serve, %s draining; %s", _pids(new), _pids(old), summary
            )
            self._remember_reload(True, summary, changes)
            if self._reloads is not None:
                self._reloads.inc()
        else:
            log.info("worker(s) %s serve", _pids(new))
        if self.reload_pending:
            self.reload_pending = False
            self.reload("SIGHUP received during the last reload")

    def _reap(self) -> None:
        for child in list(self.children):
            code = child.proc.poll()
            if code is None:
                continue
            self.children.remove(child)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(child.control)
            child.control.close()
            self._exited(child, code)
            if child.pool is not None:
                self._announce_pools()
        self._stop_pools()

    def _exited(self, child: _Child, code: int) -> None:
        pid, how = child.proc.pid, _status(code)
        in_flight = child.board.in_flight()
        status = child.board.status()
        child.board.close()
        if self.balance is not None and child.slot is not None:
            self.balance.vacate(child.slot)  # a worker that died holds no connections
        if self._reloads is not None:  # its gauges (requests in flight...) no longer count
            from prometheus_client.multiprocess import mark_process_dead

            from .metrics_files import fold_dead

            mark_process_dead(pid)  # type: ignore[no-untyped-call]
            fold_dead(os.environ[METRICS_DIR], pid)
            with contextlib.suppress(OSError):
                os.remove(os.path.join(os.environ[METRICS_DIR], WRONG_FILE.format(pid=pid)))
        if child.replaces is not None:  # a successor that died: its predecessor stays
            child.replaces = None
            self._next_recycle()
        if child.state == "stopping":
            log.log(logging.INFO if code == 0 else logging.WARNING, "%s %s", child, how)
            if code != 0 and in_flight:
                log.warning("%s had in flight: %s", child, _requests(in_flight))
        elif child.state == "serving":
            self._died(child, how, in_flight)
        elif child.said.startswith(FAILED):
            self._start_failed(child, code, child.said[len(FAILED) :].decode(errors="replace"))
        elif status:
            self._start_failed(child, code, f"{child} {how} before serving, while {status}")
        else:
            self._start_failed(child, code, f"{child} {how} before serving (see above)")
        self._publish()

    def _died(self, child: _Child, how: str, in_flight: list[tuple[str, str, str]]) -> None:
        """A serving worker died: say what it had in flight, quarantine, replace (backed off)."""
        had = _requests(in_flight) if in_flight else "no request"
        log.error("%s %s while serving, with in flight: %s", child, how, had)
        for app, why in self.crashes.died(in_flight).items():
            log.error("quarantining app %r in every worker until the next reload: %s", app, why)
            for other in self.children:
                if other.state == "serving":
                    self._tell(other, QUARANTINE + f"{app}\t{why}".encode())
        if self.stopping:
            return
        self.recycled["crash"] = self.recycled.get("crash", 0) + 1
        if self._recycled is not None:
            self._recycled.labels("crash").inc()
        delay = self.crashes.backoff()
        if delay:
            log.warning("workers keep dying: starting the replacement in %.1fs", delay)
        self._respawns.append((time.monotonic() + delay, child.generation, child.pool))

    def _respawn_due(self) -> None:
        now = time.monotonic()
        due = [r for r in self._respawns if r[0] <= now]
        self._respawns = [r for r in self._respawns if r[0] > now]
        for _, generation, pool in due:
            if not self.stopping:
                if pool is not None:
                    self._restarted(pool)
                self._spawn(generation, why="crash", pool=pool)

    def _restarted(self, pool: str) -> None:
        self.restarts[pool] += 1
        if self._pool_restarts is not None:
            self._pool_restarts.labels(pool).inc()

    def _announce_pools(self, changed: _Child | None = None) -> None:
        """Tell the serving workers each pool's serving PIDs and restarts (status pages)."""
        if not self.pools.sizes:
            return
        if changed is not None and changed.pool is None:  # a worker that just serves
            workers = [changed]
        else:
            workers = [c for c in self.children if c.pool is None and c.state == "serving"]
        for name in self.pools.sizes:
            serving = [c for c in self.children if c.pool == name and c.state == "serving"]
            if self._pool_processes is not None:
                self._pool_processes.labels(name).set(len(serving))
            pids = ",".join(str(c.proc.pid) for c in serving)
            for worker in workers:
                self._tell(worker, POOL + f"{name}\t{pids}\t{self.restarts[name]}".encode())

    def _tell(self, child: _Child, message: bytes) -> None:
        with contextlib.suppress(OSError):  # it is exiting: _reap() will see to it
            child.control.send(message + b"\n")

    def _start_failed(self, child: _Child, code: int, reason: str) -> None:
        if child.generation <= self.generation:
            log.error("replacement %s could not start: %s", child, reason)
            if not any(c.state == "serving" for c in self.children):
                self.exit_code = 1
                self.stop("no worker left serving")
            return
        for other in self.children:
            if other.generation == child.generation:
                self._terminate(other)
        self.reload_pending = False
        if self.generation == 0:
            self.failure = reason  # supervise() raises it
            self.exit_code = code if code > 0 else 1
            self.stop(f"{child} could not start")
        else:
            serving = _pids(c for c in self.children if c.state == "serving")
            log.error(
                "reload failed; worker(s) %s keep serving the previous plugins."
                " New %s could not start: %s",
                serving,
                child,
                reason,
            )
            self._remember_reload(False, f"failed: {reason}", {"failed": [reason]})

    def _remember_reload(self, ok: bool, summary: str, changes: dict[str, list[str]]) -> None:
        reload = {"at": time.time(), "why": self._reload_why, "ok": ok, "summary": summary}
        self.reloads = [*self.reloads, reload | changes][-KEEP_RELOADS:]

    def _publish(self) -> None:
        """Write what the supervisor knows to ``STATUS_FILE`` (replaced whole, never half-written)."""
        folder = os.environ.get(METRICS_DIR)
        if not folder:
            return
        status = {
            "pid": os.getpid(),
            "started": self.started,
            "listen": self.listen,
            "admin_listen": self.admin_listen,
            "workers": [
                {
                    "pid": c.proc.pid,
                    "generation": c.generation,
                    "state": c.state,
                    "started": c.started,
                    "why": c.why,
                    "pool": c.pool,  # the isolated app it serves; None: a worker
                    "slot": c.slot,  # its slot of the balance (connections), if any
                }
                for c in self.children
            ],
            "recycled": self.recycled,
            "reloads": self.reloads,
        }
        path = os.path.join(folder, STATUS_FILE)
        try:
            with open(path + ".new", "w") as f:
                json.dump(status, f)
            os.replace(path + ".new", path)
        except OSError as exc:  # the folder went away: the status page shows less
            log.debug("cannot write %s: %s", path, exc)

    def _start_generation(self, why: str = "start") -> None:
        generation = max([self.generation, *(c.generation for c in self.children)]) + 1
        for _ in range(self.workers):
            self._spawn(generation, why=why)
        for name, processes in self.pools.sizes.items():
            for _ in range(processes):
                self._spawn(generation, why=why, pool=name)

    def _spawn(
        self,
        generation: int,
        replaces: _Child | None = None,
        why: str = "start",
        pool: str | None = None,
    ) -> None:
        mine, theirs = socket.socketpair()
        if pool is None:  # a worker: the listening sockets, admin_listen's, where pools are
            sockets, admin = self.sockets, self.admin
            threads, env = self.threads, self.pools.environ()
        else:  # a pool process: its pool's socket
            sockets, admin = [self.pools.sockets[pool]], []
            threads, env = pool_threads(self.config, pool), {ENV_POOL: pool}
        board = Scoreboard.create(threads)
        fds = [theirs.fileno(), board.fd, *(s.fileno() for s in sockets + admin)]
        slot = self._free_slot() if pool is None else None
        if slot is not None:
            assert self.balance is not None
            env = {**env, **self.balance.environ(slot)}
            fds.append(self.balance.fd)
        try:
            proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **Worker.environ(theirs, sockets, board, admin), **env},
                pass_fds=fds,
            )
        except OSError as exc:
            mine.close()
            board.close()
            if not self.children:
                raise ApphostError(f"cannot start a worker ({self.argv[0]}): {exc}") from None
            log.error("cannot start a worker (%s): %s", self.argv[0], exc)
            return
        finally:
            theirs.close()
        mine.setblocking(False)
        deadline = time.monotonic() + self.start_timeout
        child = _Child(
            proc,
            mine,
            board,
            generation,
            deadline,
            replaces=replaces,
            why=why,
            pool=pool,
            slot=slot,
        )
        self.children.append(child)
        self._selector.register(mine, selectors.EVENT_READ, child)
        log.info("started %s", child)
        self._publish()

    def _free_slot(self) -> int | None:
        """A slot of the Balance no worker holds, or None (no Balance, or all held)."""
        if self.balance is None:
            return None
        held = {c.slot for c in self.children}
        return next((i for i in range(self.balance.slots) if i not in held), None)

    def _terminate(self, child: _Child) -> None:
        if child.state != "stopping":
            child.state = "stopping"
            child.deadline = time.monotonic() + self.shutdown_timeout + KILL_MARGIN
            child.proc.send_signal(signal.SIGTERM)

    def _timeout(self) -> float | None:
        deadlines = [c.deadline for c in self.children if c.deadline is not None]
        deadlines += [when for when, _, _ in self._respawns]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.deadline is None or now < child.deadline:
                continue
            child.deadline = None
            if child.state == "starting":
                doing = child.board.status()
                while_ = f", still {doing}" if doing else ""
                child.said = FAILED + f"not serving after {self.start_timeout:g}s{while_}".encode()
            else:
                log.warning("%s still running after SIGTERM: killing it", child)
                if self.stopping:
                    self.exit_code = self.exit_code or 1
            child.proc.kill()


def _status(code: int) -> str:
    return (
        f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    )


def _requests(in_flight: list[tuple[str, str, str]]) -> str:
    return "; ".join(f"app {app!r} {method} {path}" for app, method, path in in_flight)


def _pids(children: Iterable[_Child]) -> str:
    return ", ".join(str(c.proc.pid) for c in children) or "none"

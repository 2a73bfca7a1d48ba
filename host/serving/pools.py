"""Process pools: an app with ``isolation = "process"`` served by processes of its own.

    pools = Pools.bind(config)        # supervisor: one Unix socket per isolated app, in a 0700 dir
    pools.environ()                   # ... handed to each worker: APPHOST_POOLS={"name": path}
    serve_pool(config, worker, disable, strict)   # a pool process (worker.pool names its app)

The supervisor listens on the pool's socket and starts ``processes`` pool
processes on it the way it starts workers (same command line, same control
socket, scoreboard, readiness, respawn with back-off, crash attribution,
recycling new first, reload by generation, drain on SIGTERM; see
``apphost.serving.supervisor``). A pool process builds the host as a worker does
(so every plugin's ``apphost_wrap_app`` and hooks are there), loads only its
app (an ASGI app's lifespan starts here, before it serves) and serves it with
waitress on the inherited socket, behind a bulkhead that writes the requests
in flight to its scoreboard, so a pool process that dies is named with them
and ``crash_limit`` quarantines the app in every worker. Its watch thread
recycles it past ``max_requests`` or ``max_worker_memory``.

The workers route, limit (``max_in_flight``), log and count the app's requests
as for any app, and hand each to the pool (``apphost.web.relay``); the app is
never imported in a worker. Because every pool process accepts on the same
socket, a replacement starts accepting before its predecessor drains.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..config import Hosting
from ..errors import ApphostError, StrictError
from ..routing.refusals import NOT_FOUND
from ..web.relay import CLAIM_KEY, MADE_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ..config import Config
    from ..routing.dynamic import DynamicApps
    from .worker import Worker

log = logging.getLogger("apphost")

ENV_POOLS = "APPHOST_POOLS"  # to workers: {"name": "socket path", ...} in JSON
BACKLOG = 1024


def pool_threads(config: Config, name: str) -> int:
    """Threads per pool process: room for every request the workers may hand over at once."""
    processes = config.pools().get(name, 1)
    return max(2, math.ceil(config.workers * config.limits(name).max_in_flight / processes))


def parse_pools(value: str | None) -> dict[str, str]:
    """``APPHOST_POOLS``'s value (JSON) as app name -> socket path."""
    return dict(json.loads(value)) if value else {}


@dataclass(frozen=True, slots=True)
class Pools:
    """The supervisor's listening socket for each isolated app, in a private folder."""

    folder: str
    sockets: Mapping[str, socket.socket]  # app name -> listening Unix socket
    sizes: Mapping[str, int]  # app name -> processes

    @classmethod
    def bind(cls, config: Config) -> Pools:
        sizes = config.pools()
        folder = tempfile.mkdtemp(prefix="apphost-pools-") if sizes else ""
        sockets: dict[str, socket.socket] = {}
        try:
            for i, name in enumerate(sizes):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sockets[name] = sock
                sock.bind(os.path.join(folder, f"{i}.sock"))  # an app name may be any string
                sock.listen(BACKLOG)
        except OSError as exc:
            for sock in sockets.values():
                sock.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise ApphostError(
                f"cannot make the process pools' sockets in {folder}: {exc}"
            ) from None
        return cls(folder, sockets, sizes)

    def environ(self) -> dict[str, str]:
        """What tells a worker where each pool listens."""
        if not self.sockets:
            return {}
        return {ENV_POOLS: json.dumps({n: s.getsockname() for n, s in self.sockets.items()})}

    def close(self) -> None:
        for sock in self.sockets.values():
            with contextlib.suppress(OSError):
                sock.close()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def serve_pool(config: Config, worker: Worker, disable: tuple[str, ...], strict: bool) -> None:
    """Be one process of the pool of app ``worker.pool`` until told to stop."""
    from ..host import Host
    from ..routing.refusals import UNAVAILABLE
    from ..web.bulkhead import Bulkheads
    from ..web.relay import unrelay
    from ._waitress import create
    from .pressure import QueueWatch, quiet_waitress_queue
    from .server import DEFAULT_ADJUSTMENTS, run

    name = worker.pool
    if name is None:
        raise ApphostError("serve_pool: this process was not started as a pool process")
    threads = pool_threads(config, name)
    # Every request the workers hand over runs: they limited the app already.
    own = replace(config.hosting.get(name) or Hosting(), max_in_flight=threads)
    config = replace(
        config, threads=threads, hosting=MappingProxyType({**config.hosting, name: own})
    )
    board = worker.board
    bulkheads = Bulkheads(config, board, on_recycle=worker.recycle)
    on_step = board.doing if board is not None else None
    host = Host.build(config, disable=disable, bulkheads=bulkheads, on_step=on_step)
    lazy = host.apps.get(name)
    made = {
        e.route.describe(): e.dynamic
        for e in host.dispatcher.table.entries
        if e.dynamic is not None and e.route.claimant.name == name
    }
    app: WSGIApplication
    if lazy is not None:
        if on_step is not None:
            on_step(f"loading app {name!r}")
        lazy.load()
        if strict and lazy.info.failed:
            raise StrictError(host.all_problems())
        app = bulkheads.wrap(lazy, name, name, f"{lazy.info.dist}=={lazy.info.version}")
    elif made:
        app = _made_apps(made)  # each made app has its bulkhead, named "plugin[key]"
    else:
        log.warning(
            "[hosting.%s] isolation = 'process': no installed app and no factory claim of"
            " a plugin is named %r; its pool serves nothing",
            name,
            name,
        )
        app = UNAVAILABLE
    kw = {
        **DEFAULT_ADJUSTMENTS,
        **config.waitress,
        "threads": threads,
        "sockets": worker.sockets,
        "ident": "",  # the worker's waitress names the server
        "max_request_header_size": 4 * 262144,  # the relayed environ rides in one header
        "max_request_body_size": 2**62,  # the worker enforced the limit
    }
    quiet_waitress_queue()
    log.info("pool process %d of app %r: %d threads", os.getpid(), name, threads)
    server = create(lambda adj: unrelay(app), QueueWatch(threads), kw)
    run(host, server, worker)


def _made_apps(made: Mapping[str, DynamicApps | None]) -> WSGIApplication:
    """The apps a plugin's factory claims make, by the claim and key the worker relayed."""

    def serve_made(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        dynamic, key = made.get(environ.get(CLAIM_KEY, "")), environ.get(MADE_KEY)
        if dynamic is None or key is None:
            return NOT_FOUND(environ, start_response)
        return dynamic.serve(key, environ, start_response)

    return serve_made

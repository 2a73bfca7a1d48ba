"""A worker process's side of the supervisor: inherited sockets, readiness reported back.

    argv = command_line(click.get_current_context())   # apphost.cli: how to start one
    worker = Worker.from_environ()        # None unless the supervisor started this process
    server = make_server(host, worker.sockets)
    run(host, server, worker)             # calls worker.ready() once serving
    worker.failed("why")                  # or says why it could not start

The supervisor (``apphost.serving.supervisor``) starts each worker as
``python -m apphost serve ...`` with the options it was given, plus two
variables naming inherited descriptors: ``APPHOST_LISTEN_FDS`` (the
listening sockets; a pool process, ``APPHOST_POOL`` naming its app, gets
its pool's Unix socket; see ``apphost.serving.pools``), ``APPHOST_ADMIN_FDS``
(those of ``admin_listen``, if any) and ``APPHOST_SUPERVISOR_FD`` (one end of
a socket pair).
On that control socket the worker writes its manifest (what it serves, one
JSON line, see ``apphost.serving.changes``) and ``ready\\n`` once it serves, or
``failed\\n`` and the reason before exiting; the supervisor closing its end
(it exited) makes the worker drain and exit. Both variables are removed from
the environment once read, so processes the apps start never see them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApphostError
from .balance import ENV_BALANCE, Balance
from .pools import ENV_POOLS, parse_pools
from .scoreboard import ENV_FD, Scoreboard
from .sockets import adopt

ENV_CONTROL = "APPHOST_SUPERVISOR_FD"
ENV_LISTEN = "APPHOST_LISTEN_FDS"
ENV_POOL = "APPHOST_POOL"  # set in a pool process: the isolated app it serves
ENV_ADMIN = "APPHOST_ADMIN_FDS"
READY = b"ready\n"  # worker -> supervisor: serving
MANIFEST = b"manifest "  # worker -> supervisor, before READY: JSON of what it serves, "\n"
FAILED = b"failed\n"  # worker -> supervisor, then the reason: could not start
RECYCLE = b"recycle "  # worker -> supervisor, a reason and "\n": replace me
QUARANTINE = b"quarantine "  # supervisor -> worker, "app\twhy\n": answer 503 for app
POOL = b"pool "  # supervisor -> worker, "app\tpid,pid\trestarts\n": a process pool's state


@dataclass(frozen=True, slots=True)
class Worker:
    """The control socket to the supervisor and the listening sockets it handed over."""

    control: socket.socket
    sockets: list[socket.socket]
    board: Scoreboard | None = None  # where this worker writes what it serves
    admin: list[socket.socket] = field(default_factory=list)  # admin_listen's sockets
    pool: str | None = None  # the app this process serves alone, if a pool process
    pools: Mapping[str, str] = field(default_factory=dict)  # isolated app -> its pool's socket
    balance: Balance | None = None  # the connections of every worker, and this one's slot

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Worker | None:
        """The worker this process is, from (and removing) the supervisor's variables."""
        env = os.environ if environ is None else environ
        control_fd, listen_fds = env.pop(ENV_CONTROL, None), env.pop(ENV_LISTEN, None)
        admin_fds = env.pop(ENV_ADMIN, "")
        board_fd = env.pop(ENV_FD, None)
        balance_var = env.pop(ENV_BALANCE, None)
        pool, pools = env.pop(ENV_POOL, None), parse_pools(env.pop(ENV_POOLS, None))
        if control_fd is None:
            return None
        # A terminal's hangup and Ctrl-C reach the whole process group: the
        # supervisor turns them into a reload, or SIGTERM for each worker.
        # (``run`` handles SIGINT again while serving.)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            control = socket.socket(fileno=int(control_fd))
            fds = [int(fd) for fd in (listen_fds or "").split(",") if fd]
            admin = [int(fd) for fd in admin_fds.split(",") if fd]
        except (ValueError, OSError) as exc:
            raise ApphostError(
                f"{ENV_CONTROL}/{ENV_LISTEN}/{ENV_ADMIN}: not inherited fds: {exc}"
            ) from None
        control.set_inheritable(False)
        sockets = [adopt(fd, "the supervisor") for fd in fds]
        board = Scoreboard.from_fd(int(board_fd)) if board_fd else None
        balance = Balance.adopt(balance_var) if balance_var else None
        admin_sockets = [adopt(fd, "the supervisor") for fd in admin]
        return cls(control, sockets, board, admin_sockets, pool, pools, balance)

    @staticmethod
    def environ(
        control: socket.socket,
        sockets: Sequence[socket.socket],
        board: Scoreboard,
        admin: Sequence[socket.socket] = (),
    ) -> dict[str, str]:
        """The variables that hand ``control``, ``sockets``, ``board`` and ``admin`` to a worker.

        Pass their fds too (``pass_fds``).
        """
        return {
            ENV_CONTROL: str(control.fileno()),
            ENV_LISTEN: ",".join(str(s.fileno()) for s in sockets),
            ENV_ADMIN: ",".join(str(s.fileno()) for s in admin),
            **board.environ(),
        }

    def ready(self, manifest: Mapping[str, Any] | None = None) -> None:
        """Tell the supervisor this worker serves ``manifest``: it may now stop the previous ones."""
        said = json.dumps(manifest).encode() + b"\n" if manifest is not None else b""
        self._send(MANIFEST + said + READY if said else READY)

    def recycle(self, reason: str) -> None:
        """Ask the supervisor to replace this worker (it starts the successor first)."""
        # From the watch thread, while the loop thread reads this socket: a plain send of a
        # few bytes (the buffer is never full), leaving its blocking mode alone.
        with contextlib.suppress(OSError):
            self.control.send(
                RECYCLE + reason.replace("\n", " ").encode("utf-8", "replace") + b"\n"
            )

    def failed(self, reason: str) -> bool:
        """Tell the supervisor why this worker could not start; False if it cannot hear."""
        return self._send(FAILED + reason.encode("utf-8", "replace"))

    def _send(self, data: bytes) -> bool:
        timeout = self.control.gettimeout()
        try:
            self.control.settimeout(5.0)
            self.control.sendall(data)
        except OSError:  # the supervisor is gone: nobody to tell
            return False
        finally:
            with contextlib.suppress(OSError):
                self.control.settimeout(timeout)
        return True

"""The supervisor's bookkeeping when a worker exits, with a real exited process."""

from __future__ import annotations

import socket
import subprocess
import sys

from apphost.config import Config
from apphost.serving.balance import Balance
from apphost.serving.scoreboard import Scoreboard
from apphost.serving.supervisor import Supervisor, _Child


def test_an_exited_workers_slot_counts_for_no_one() -> None:
    """Its last count would otherwise stand until a replacement took the slot (after a
    crash backoff, perhaps): the others would keep deferring to a worker that is gone."""
    supervisor = Supervisor([], [sys.executable], Config(workers=2))
    balance = supervisor.balance
    assert balance is not None
    mine, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    child = _Child(proc, mine, Scoreboard.create(1), 1, None, slot=0)
    child.state = "stopping"
    try:
        balance.environ(0)  # handed to the worker, which then held no connection
        view = Balance(balance.fd, 0)  # ... the worker's own view: it took one
        view.count(1)
        assert balance.held(0) == 1
        supervisor._exited(child, 0)
        assert balance.held(0) is None  # vacant: no worker defers to it
        assert supervisor._free_slot() == 0  # the next worker may take it
    finally:
        view._counts.release()
        view._map.close()
        theirs.close()
        mine.close()
        balance.close()

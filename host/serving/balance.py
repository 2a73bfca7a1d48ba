"""Connections open per worker, in memory every worker reads: a new one goes to the fewest.

    board = Balance.create(slots=8)        # supervisor, with --workers 2 or more (a memfd)
    env = board.environ(slot)              # handed to the worker in ``slot`` (pass board.fd)
    board.vacate(slot)                     # supervisor: that worker exited
    mine = Balance.adopt(env[ENV_BALANCE]) # worker: its slot of the same map
    mine.count(open)                       # worker, as a connection opens or closes
    mine.behind()                          # True while another accepting worker holds fewer
    mine.vacate()                          # worker: draining, it accepts no more

Every worker accepts on the same sockets, and a connection stays with the
worker that accepted it (keep-alive), so a burst of connections (a load
balancer's pool, wrk's 32) went by which worker woke first: 27 to one and 5
to the other was usual, and the busier worker then served most requests
while the other idled. Now a worker holding more connections than another
leaves a new one to it (``_waitress._accept_many``, for at most
``_waitress.DEFER``), as nginx's workers leave connections to the less loaded
(``ngx_accept_disabled``). A connection is never refused, only left a moment
to a worker with fewer. Each worker writes its own slot (one aligned 4-byte
store, no lock); a read of the others may be a connection out of date, which
only shifts one connection.
"""

from __future__ import annotations

import mmap
import os

ENV_BALANCE = "APPHOST_BALANCE"  # "fd,slot": the board, and the slot of this worker
VACANT = 2**31 - 1  # a slot with no accepting worker: never fewer than anyone's
_SIZE = 4  # bytes a slot


class Balance:
    """``slots`` connection counts in one shared map; ``slot`` is this process's, if a worker's."""

    def __init__(self, fd: int, slot: int | None = None) -> None:
        self.fd = fd
        self.slot = slot
        self._map = mmap.mmap(fd, os.fstat(fd).st_size)
        self._counts = memoryview(self._map).cast("i")
        self._vacated = False

    @classmethod
    def create(cls, slots: int) -> Balance:
        fd = os.memfd_create("apphost-balance", 0)  # inheritable: passed with pass_fds
        os.ftruncate(fd, _SIZE * slots)
        board = cls(fd)
        for slot in range(slots):
            board._counts[slot] = VACANT
        return board

    @classmethod
    def adopt(cls, value: str) -> Balance:
        """The worker's side, from the ``ENV_BALANCE`` value ``environ`` made."""
        fd, slot = (int(part) for part in value.split(","))
        os.set_inheritable(fd, False)  # the worker's own processes never see it
        return cls(fd, slot)

    @property
    def slots(self) -> int:
        return len(self._counts)

    def environ(self, slot: int) -> dict[str, str]:
        """What hands ``slot`` to a worker; it counts 0 connections until it writes its own."""
        self._counts[slot] = 0
        return {ENV_BALANCE: f"{self.fd},{slot}"}

    def count(self, connections: int) -> None:
        if self.slot is not None and not self._vacated:
            self._counts[self.slot] = connections

    def behind(self) -> bool:
        """True if another accepting worker holds fewer connections than this one."""
        counts = self._counts
        return self.slot is not None and min(counts) < counts[self.slot]

    def held(self, slot: int) -> int | None:
        """The connections the worker in ``slot`` holds; None if it accepts none (vacant)."""
        count = self._counts[slot]
        return None if count == VACANT else count

    def vacate(self, slot: int | None = None) -> None:
        """Mark ``slot`` (default: this worker's, from now on) as taking no connections."""
        if slot is None:
            slot, self._vacated = self.slot, True
        if slot is not None:
            self._counts[slot] = VACANT

    def close(self) -> None:
        self._counts.release()
        self._map.close()
        os.close(self.fd)

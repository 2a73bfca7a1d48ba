"""Crash attribution: which apps were in flight when workers died, and when that is enough.

    crashes = Crashes(limit=3, window=60.0)
    crashes.died([("blog", "GET", "/blog/x")])   # -> {"blog": "in flight in 3 worker deaths ..."}
    crashes.backoff()                            # seconds to wait before the next respawn

An app in flight in ``limit`` worker deaths within ``window`` seconds is to be
quarantined: the supervisor tells every worker, and its routes answer 503
until the next reload (IIS calls this rapid-fail protection). Deaths with no
request in flight name nobody. Respawns back off while workers keep dying: a
death within ``window`` of the previous one doubles the wait, from 0.1 s up
to 10 s; a quiet ``window`` resets it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

FIRST_BACKOFF = 0.1
MAX_BACKOFF = 10.0


class Crashes:
    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.deaths: dict[str, deque[float]] = {}  # app -> times of deaths it was in flight in
        self.quarantined: dict[str, str] = {}  # app -> why
        self._last_death = -float("inf")
        self._backoff = 0.0

    def died(self, in_flight: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        """Note one worker death; the apps to quarantine now, with why."""
        now = self.clock()
        self._backoff = (
            min(MAX_BACKOFF, max(FIRST_BACKOFF, self._backoff * 2))
            if now - self._last_death < self.window
            else 0.0
        )
        self._last_death = now
        newly: dict[str, str] = {}
        for app in sorted({app for app, _, _ in in_flight}):
            times = self.deaths.setdefault(app, deque())
            times.append(now)
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.limit and app not in self.quarantined:
                why = (
                    f"in flight in {len(times)} worker deaths within {self.window:g}s"
                    f" (crash_limit {self.limit})"
                )
                self.quarantined[app] = newly[app] = why
        return newly

    def backoff(self) -> float:
        """Seconds to wait before starting a replacement for the worker that just died."""
        return self._backoff

    def reset(self) -> None:
        """A reload: every app gets a fresh start."""
        self.deaths.clear()
        self.quarantined.clear()

"""The handler the ``apphost`` command logs through: stderr, written by one thread.

    logging.basicConfig(level=logging.INFO, handlers=[stderr_handler()])

Every logger propagates to it: apphost's own (``apphost``, ``apphost.access``)
and waitress's (``waitress``, and ``waitress.queue`` if an operator turns it
on), in one format::

    2026-11-24 21:00:00,123 INFO apphost.access: 127.0.0.1 - - [...] "GET / HTTP/1.1" 200 ...

The access log writes a line per request from every worker thread. Written
where they are made, each line is a ``write()`` that gives up the GIL while the
handler's lock is held, and under load the threads queue on that lock (wrk
against ``apphost serve`` saw throughput fall to a third at times). So the
request thread only queues the record (an access line comes already made,
see ``put_access``); one writer thread formats what has queued up and writes
it in few ``write()`` calls, each of whole lines and at most ``PIPE_BUF``
bytes (so lines of several workers on one pipe never mix). After a write it
lets ``BATCH`` seconds of records gather, so a busy server's request threads
wake no thread to log and the writer runs about 20 times a second.
A record whose arguments are not plain str/int/float/None is formatted
before it is queued, so it says what was true when it was logged. If the
writer falls more than ``MAX_QUEUED`` records behind, the threads logging
wait for it, as they would for a slow stream. ``flush()`` waits for the
writer; ``close()`` (``logging.shutdown`` calls it at exit) stops it, and
records logged after that are written directly.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from typing import Any, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_QUEUED = 10_000  # records; beyond this, logging waits for the writer
BATCH = 0.05  # seconds the writer lets records gather after a write (flush() cuts it short)
PIPE_BUF = 4096  # bytes a write() to a pipe puts in whole (POSIX: at least 512; Linux: 4096)
_PLAIN = frozenset({str, int, float, type(None)})


class Formatter(logging.Formatter):
    """``logging.Formatter`` whose ``asctime`` is formatted once a second, not once a record."""

    _second = (-1, "")  # (second, its date and time), replaced whole

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        now = int(record.created)
        second = self._second
        if second[0] != now:
            date = time.strftime(self.default_time_format, self.converter(now))
            second = self._second = (now, date)
        msec_format = self.default_msec_format
        return msec_format % (second[1], record.msecs) if msec_format else second[1]


def stderr_handler() -> logging.Handler:
    """A handler writing to stderr in ``FORMAT``, from its own thread."""
    handler = QueuedStreamHandler(sys.stderr)
    handler.setFormatter(Formatter(FORMAT))
    return handler


class QueuedStreamHandler(logging.Handler):
    """Writes records to ``stream`` from one writer thread, many lines per ``write()``."""

    def __init__(self, stream: TextIO) -> None:
        self.takes_access = False  # whether put_access writes what a record would; see _update
        super().__init__()
        self.stream = stream
        # Records, access lines (str), and an Event for flush() or None for close().
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._nudge = threading.Event()  # ends the writer's pause (flush, close, a full queue)
        self._writer: threading.Thread | None = threading.Thread(
            target=self._write_queued, name="apphost-log-writer", daemon=True
        )
        self._writer.start()
        self._update()

    def put_access(self, line: str) -> None:
        """Queue a whole access line (``access_line(..., logged=True)``), in order with records.

        What ``Observer.done`` calls instead of logging a record, while
        ``takes_access`` says the line is what this handler would write for it.
        """
        if self._queue.qsize() >= MAX_QUEUED:
            self._wait_for_room()
        self._queue.put(line)

    def _update(self) -> None:
        """Work out ``takes_access`` again: what the handler filters or formats changed."""
        formatter = self.formatter
        self.takes_access = (
            self._writer is not None
            and not self.filters
            and self.level <= logging.INFO
            and formatter.__class__ is Formatter
            and formatter._fmt == FORMAT
        )

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._update()

    def setLevel(self, level: int | str) -> None:
        super().setLevel(level)
        self._update()

    def addFilter(self, filter: Any) -> None:
        super().addFilter(filter)
        self._update()

    def removeFilter(self, filter: Any) -> None:
        super().removeFilter(filter)
        self._update()

    def _wait_for_room(self) -> None:
        self._nudge.set()
        while self._queue.qsize() >= MAX_QUEUED:
            time.sleep(0.001)

    def emit(self, record: logging.LogRecord) -> None:
        if self._writer is None:  # closed: write it here
            self._write([record])
            return
        args = record.args
        if args and (not isinstance(args, tuple) or not _PLAIN.issuperset(map(type, args))):
            try:
                record.msg, record.args = record.getMessage(), None
            except Exception:
                self.handleError(record)
                return
        if self._queue.qsize() >= MAX_QUEUED:
            self._wait_for_room()
        self._queue.put(record)

    def flush(self) -> None:
        """Return once every record queued so far is written."""
        if self._writer is not None and self._writer.is_alive():
            written = threading.Event()
            self._queue.put(written)
            self._nudge.set()
            written.wait(5)

    def close(self) -> None:
        writer, self._writer = self._writer, None
        self._update()
        if writer is not None and writer.is_alive():
            self._queue.put(None)
            self._nudge.set()
            writer.join(5)
        super().close()

    def _write_queued(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            records: list[logging.LogRecord | str] = []
            item = get()
            while isinstance(item, (logging.LogRecord, str)):
                records.append(item)
                if len(records) == 1000:
                    break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            self._write(records)
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif len(records) < 1000:  # the queue is empty: let the next lines gather
                # A request thread's put() then wakes no thread, and the writer takes
                # the GIL about 1/BATCH times a second, not once a line.
                self._nudge.wait(BATCH)
                self._nudge.clear()

    def _write(self, records: list[logging.LogRecord | str]) -> None:
        chunks: list[str] = []
        lines: list[str] = []
        size = 0
        for record in records:
            try:
                # An access line (put_access) comes made whole.
                line = record if isinstance(record, str) else self.format(record) + "\n"
            except Exception:
                if isinstance(record, logging.LogRecord):
                    self.handleError(record)
                continue
            # At most PIPE_BUF bytes a write(), as a line a write() would be: a pipe
            # (journald's, several workers') never mixes them with other writers'.
            # 6 bytes a character bounds UTF-8 with backslash escapes.
            length = len(line) if line.isascii() else 6 * len(line)
            if size + length > PIPE_BUF and lines:
                chunks.append("".join(lines))
                lines, size = [], 0
            lines.append(line)
            size += length
        if lines:
            chunks.append("".join(lines))
        try:
            for chunk in chunks:
                self.stream.write(chunk)
            self.stream.flush()
        except Exception:
            last = next((r for r in reversed(records) if isinstance(r, logging.LogRecord)), None)
            if last is not None:
                self.handleError(last)

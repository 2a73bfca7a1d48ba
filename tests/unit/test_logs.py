"""logs.py: the CLI's stderr handler, written from one thread; and what the CLI routes to it."""

from __future__ import annotations

import io
import logging
import threading

import pytest
from apphost.serving.logs import FORMAT, PIPE_BUF, Formatter, QueuedStreamHandler
from apphost.web.access import access_line


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.Logger("test.logs", logging.DEBUG)  # not in the hierarchy: no propagation
    logger.addHandler(handler)
    return logger


def _handler(stream: io.StringIO) -> QueuedStreamHandler:
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler


def test_lines_are_written_in_order_by_the_writer_thread() -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    writers: set[str] = set()
    write = stream.write
    stream.write = lambda text: writers.add(threading.current_thread().name) or write(text)  # type: ignore[method-assign]
    logger = _logger(handler)
    for i in range(2000):
        logger.info("line %d of %s", i, "many")
    logger.warning("last")
    handler.flush()  # waits for the writer
    assert stream.getvalue().splitlines() == [
        *(f"INFO line {i} of many" for i in range(2000)),
        "WARNING last",
    ]
    assert writers == {"apphost-log-writer"}
    handler.close()


def test_mutable_arguments_are_formatted_when_logged() -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    logger = _logger(handler)
    items = [1]
    logger.info("items %s", items)
    logger.info("mapping %(a)s", {"a": 1})
    items.append(2)
    handler.close()  # stops the writer after what is queued
    assert stream.getvalue().splitlines() == ["INFO items [1]", "INFO mapping 1"]


def test_after_close_records_are_written_directly() -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    logger = _logger(handler)
    handler.close()
    logger.info("late %s", "line")
    assert stream.getvalue() == "INFO late line\n"


def test_exceptions_are_formatted() -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    logger = _logger(handler)
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    handler.close()
    assert stream.getvalue().startswith("ERROR failed\nTraceback (most recent call last):")
    assert "ValueError: bad" in stream.getvalue()


def test_formatter_dates_match_the_standard_formatter() -> None:
    ours, standard = Formatter(FORMAT), logging.Formatter(FORMAT)
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
    record.created = 5.0
    assert ours.formatTime(record, "%Y") == standard.formatTime(record, "%Y")


def test_a_whole_access_line_is_what_the_record_would_be() -> None:
    """``access_line(..., logged=True)`` is the line the handler writes for the record."""
    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "GET", "PATH_INFO": "/a"}
    environ["SERVER_PROTOCOL"] = "HTTP/1.1"
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_003_601.5):
        line = access_line(created, environ, "200", "5", "a", 1.5)
        record = logging.LogRecord("apphost.access", logging.INFO, __file__, 1, line, None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        expected = Formatter(FORMAT).format(record) + "\n"
        assert access_line(created, environ, "200", "5", "a", 1.5, logged=True) == expected


def test_put_access_is_taken_only_while_it_writes_what_a_record_would() -> None:
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    assert not handler.takes_access  # no formatter: not apphost's FORMAT
    handler.setFormatter(Formatter(FORMAT))
    assert handler.takes_access
    handler.setLevel(logging.WARNING)
    assert not handler.takes_access
    handler.setLevel(logging.INFO)
    handler.addFilter(lambda record: True)
    assert not handler.takes_access
    handler.removeFilter(handler.filters[0])
    assert handler.takes_access
    handler.setFormatter(logging.Formatter(FORMAT))  # another class may format otherwise
    assert not handler.takes_access
    handler.setFormatter(Formatter(FORMAT))
    handler.put_access("a whole line\n")
    handler.close()
    assert not handler.takes_access  # closed: records are written directly
    assert stream.getvalue() == "a whole line\n"


def test_writes_are_whole_lines_of_at_most_pipe_buf_bytes() -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    writes: list[str] = []
    logged = threading.Event()

    def write(text: str) -> int:
        logged.wait(5)  # the writer waits until everything is queued
        writes.append(text)
        return io.StringIO.write(stream, text)

    stream.write = write  # type: ignore[method-assign]
    logger = _logger(handler)
    for i in range(300):
        logger.info("%d %s", i, "x" * 100)
    logger.info("%s", "é" * 1000)  # 1,000 characters, more bytes
    logger.info("%s", "y" * 5000)  # longer than PIPE_BUF: a write of its own
    logged.set()
    handler.close()
    assert all(w.endswith("\n") for w in writes)
    assert all(len(w.encode()) <= PIPE_BUF for w in writes if len(w) < 5000)
    assert sum(1 for w in writes if "y" * 5000 in w) == 1
    assert len(writes) < 50  # batched, not a write per line
    assert "".join(writes) == stream.getvalue()
    assert len(stream.getvalue().splitlines()) == 302


def test_a_record_that_cannot_be_formatted_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    handler = _handler(stream)
    logger = _logger(handler)
    logger.info("%d", [1])  # formatted when logged: fails in the logging thread
    logger.info("%s %s", "one")  # formatted by the writer: fails there
    logger.info("fine")
    handler.close()
    assert stream.getvalue() == "INFO fine\n"
    assert capsys.readouterr().err.count("--- Logging error ---") == 2

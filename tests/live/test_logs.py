"""logs.py as the CLI sets it up, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_cli_logging_takes_waitress_and_access_lines() -> None:
    """Waitress's loggers go through the same handler and format as apphost's."""
    code = textwrap.dedent(
        """
        import logging
        from apphost.cli import _setup_logging
        _setup_logging(False)
        logging.getLogger("waitress").warning("waitress says %s", "hi")
        logging.getLogger("apphost.access").info("127.0.0.1 - - [...] %s", "line")
        logging.getLogger("apphost").debug("not at INFO")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    lines = done.stderr.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING waitress: waitress says hi",
        "INFO apphost.access: 127.0.0.1 - - [...] line",
    ]

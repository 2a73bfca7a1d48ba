"""Fold a dead worker's metric files into one, so the multiprocess folder stays bounded.

    fold_dead(directory, pid)     # after prometheus_client.multiprocess.mark_process_dead(pid)

prometheus-client's multiprocess mode writes one file per process and metric
type (``counter_<pid>.db``, ``histogram_<pid>.db``...) and sums them at each
scrape. Counters and histograms must keep what a dead worker counted, so
their files cannot just be removed; a crash loop would leave thousands. Each
dead worker's counter and histogram values are added into one
``<type>_archive.db`` per type and its file removed, which the collector sums
like any other. (Live gauges' files are removed by ``mark_process_dead``.)
Runs in the supervisor, which is the only writer of the archive files. A
scrape that globbed the folder just before a file was removed reads again
(``Metrics.exposition``).
"""

# prometheus_client's mmap_dict is untyped.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import contextlib
import os

from prometheus_client.mmap_dict import MmapedDict

FOLDED = ("counter", "histogram")


def fold_dead(directory: str, pid: int) -> None:
    for kind in FOLDED:
        path = os.path.join(directory, f"{kind}_{pid}.db")
        if not os.path.exists(path):
            continue
        dead = MmapedDict(path)
        archive = MmapedDict(os.path.join(directory, f"{kind}_archive.db"))
        try:
            for key, value, timestamp in dead.read_all_values():
                total, _ = archive.read_value(key)
                archive.write_value(key, total + value, timestamp)
        finally:
            dead.close()
            archive.close()
        with contextlib.suppress(OSError):
            os.remove(path)

"""The pytest plugin for plugin authors (entry point ``pytest11``), and the types its fixtures give.

    from apphost.testing import ClientFactory, HostFactory, ServerFactory

    def test_mounted(apphost_host: HostFactory, apphost_client: ClientFactory) -> None:
        host = apphost_host(apps={"mine": app}, strict=True)
        assert apphost_client(host).get("/mine/").status_code == 200

Tests and the scaffold import from here, never from apphost's internals.
"""

from .plugin import (
    ClientFactory,
    HostFactory,
    LiveServer,
    ServerFactory,
    apphost_client,
    apphost_host,
    apphost_server,
)

__all__ = [
    "ClientFactory",
    "HostFactory",
    "LiveServer",
    "ServerFactory",
    "apphost_client",
    "apphost_host",
    "apphost_server",
]

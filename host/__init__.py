"""apphost: host pluggable WSGI and ASGI apps. Plugins import ``hookimpl``, ``Claim``, ``app_factory``.

Importing this package loads neither waitress, click, prometheus_client nor the
status pages: a plugin's ``from apphost import Claim`` stays cheap.
"""

from .api import AppInfo, HostView, Problem, ProblemKind, Status, app_factory, asgi_app
from .errors import ApphostError, ClaimError, ConfigError, PluginError, StrictError
from .hookspecs import hookimpl
from .routing.claims import Claim

__version__ = "0.1.0"

__all__ = [
    "AppInfo",
    "ApphostError",
    "Claim",
    "ClaimError",
    "ConfigError",
    "HostView",
    "PluginError",
    "Problem",
    "ProblemKind",
    "Status",
    "StrictError",
    "__version__",
    "app_factory",
    "asgi_app",
    "hookimpl",
]

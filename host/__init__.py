"""apphost: host pluggable WSGI apps. Plugins import ``hookimpl``, ``Claim`` and ``app_factory``."""

from .apps import AppInfo, app_factory
from .claims import Claim
from .errors import ApphostError, ClaimError, ConfigError, ConflictError, PluginError, StrictError
from .hookspecs import hookimpl
from .host import HostView

__version__ = "0.1.0"

__all__ = [
    "AppInfo",
    "ApphostError",
    "Claim",
    "ClaimError",
    "ConfigError",
    "ConflictError",
    "HostView",
    "PluginError",
    "StrictError",
    "__version__",
    "app_factory",
    "hookimpl",
]

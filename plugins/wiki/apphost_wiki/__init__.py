"""apphost-wiki: a Django project served in apphost's process, claimed at ``/wiki``.

Django is configured in the factory, that is on the app's first request, never
at import: importing this package (as ``apphost routes`` does for the hooks)
imports no Django at all. The factory gets the ``[apps.wiki]`` table::

    [apps.wiki]
    secret_key = "..."      # a fixed development key if left out

Django's settings are global to the process, so one Django project per
apphost process: if something else configured Django first, the factory
refuses (and apphost answers 503 for the wiki) rather than serve with
someone else's URLconf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from apphost import app_factory

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["create_app"]

URLCONF = "apphost_wiki.urls"
DEV_SECRET_KEY = "apphost-wiki-insecure-development-key"


@app_factory
def create_app(config: Mapping[str, Any]) -> WSGIApplication:
    """Configure Django for the wiki (once per process) and return its WSGI handler."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],  # apphost validates Host (its allowed_hosts) before routing
            SECRET_KEY=str(config.get("secret_key", DEV_SECRET_KEY)),
            ROOT_URLCONF=URLCONF,
            DATABASES={},
            INSTALLED_APPS=[],
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],  # APPEND_SLASH
            USE_TZ=True,
        )
    elif settings.ROOT_URLCONF != URLCONF:
        raise RuntimeError(
            f"Django is already configured in this process for {settings.ROOT_URLCONF}"
        )
    # get_wsgi_application() runs django.setup(); the handler then sets the
    # script prefix from each request's SCRIPT_NAME, which is what reverse() uses.
    handler: WSGIApplication = get_wsgi_application()
    return handler

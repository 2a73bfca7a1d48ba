"""apphost-items: a FastAPI app (ASGI) in ``apphost_items.app``, its hook in ``apphost_items.hooks``.

Nothing is imported here: apphost imports the hooks to build its routes
(``apphost routes`` imports nothing else), and FastAPI only with the app, on
its first request.
"""

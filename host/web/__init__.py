"""The request stack around the dispatcher: the middleware order, own pages, metrics, logs.

    app = request_stack(host)      # apphost.web.stack: what a server runs

May import ``routing``, ``api`` and ``config``; never ``serving``.
"""

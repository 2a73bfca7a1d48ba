"""Serving: waitress, draining, signals, sockets, the supervisor and its workers.

    server = make_server(host)     # apphost.serving.server
    run(host, server)              # serve until SIGTERM, drain, shut down

Every waitress internal apphost touches is in ``_waitress`` with the range it
was tested with. May import anything but ``cli``; the supervisor imports no
plugin code and neither waitress nor the web stack.
"""

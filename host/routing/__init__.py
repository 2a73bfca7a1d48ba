"""Routing, pure: claims, hosts, paths, the route table and the dispatcher that reads it.

    route = normalize(Claim(app="blog", path="/blog"), claimant, server_name="example.com")
    table, conflicts = build_table([route], "example.com", resolve)   # resolve(route) -> app
    dispatcher = Dispatcher(table)          # a WSGI app; a rebuild assigns dispatcher.table

Imports nothing from ``serving``, ``web`` or ``plugins``, and neither waitress nor
pluggy: everything here can be tested with ``werkzeug.test`` alone. Modules:
``claims`` (Claim, Route, normalize), ``hosts``, ``paths``, ``refusals``, ``table``
(RouteTable, build_table), ``dispatcher`` (Dispatcher, Match), ``dynamic``
(DynamicApps), ``explain``. Nothing is imported here, so ``from apphost import
Claim`` loads only what a claim needs.
"""

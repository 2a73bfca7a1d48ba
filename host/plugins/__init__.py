"""Plugins: entry point discovery, the pluggy manager, and loading (and wrapping) apps.

    found = scan()                                   # metadata only, nothing imported
    pm = make_plugin_manager()
    plugins, problems = register_plugins(pm, found.plugins)

May import ``api``, ``hookspecs``, ``errors`` and ``routing`` (for ``Claim``); never
``serving`` or ``web``.
"""

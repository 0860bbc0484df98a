"""The web console: a fourth door, under /console, server-rendered.

It turns forms into calls of the core services, each one authorized by the same `Authorizer`
as the API and git with the signed-in principal, and renders the results. It holds no rule of
its own. `console.app.build` makes the ASGI app; `emulator.server` mounts it, importing it on
the first request so the console adds nothing to start-up.
"""

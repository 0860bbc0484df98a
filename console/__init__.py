"""The web console: a fourth door, under /console, server-rendered.

It turns forms into AWS operations run as the signed-in principal through
`emulator.api.invoke` (the API's own validation, access declaration and handler, so the same
`Authorizer` decides as for the API and git) and renders the results. It holds no rule of its
own. `console.app.build` makes the ASGI app; `emulator.server` mounts it, importing it on
the first request so the console adds nothing to start-up.
"""

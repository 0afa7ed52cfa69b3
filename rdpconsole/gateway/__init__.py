"""The console gateway: the service behind the console URLs that the Compute API hands out.

It serves the HTML5 console page (IronRDP's web client) and relays each
browser WebSocket to the RDP server of the console token, speaking
RDCleanPath. Modules, from the outside in:

- ``app``: the ASGI application (``create_app``) and its uvicorn settings.
- ``server``: uvicorn options and the HTTP handshake timeout.
- ``pages``: the page, static files and health check routes.
- ``session``: one console session, from the WebSocket handshake to the end of the relay.
- ``tokens`` and ``compute_api``: where the token comes from and how it is validated.
- ``origins``: the WebSocket Origin allowlist and trusted reverse proxies.
- ``limits``: the cap on sessions per token.
- ``upstream`` and ``rdp_tls``: the connection to the RDP server and its TLS.
- ``errors``: failures before the relay and their RDCleanPath error PDUs.
- ``audit``: the session start and end log lines.
- ``settings``: ``[gateway]`` options, parsed and cross-checked.
"""

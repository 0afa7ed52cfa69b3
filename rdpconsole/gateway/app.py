"""The console gateway's ASGI application.

``create_app(conf, database=None)`` builds the application and
``uvicorn_options(conf)`` returns the uvicorn settings it needs (WebSocket
implementation, message size limit, pings, handshake timeout). A process
serves it with::

    config = uvicorn.Config(create_app(conf, database), **uvicorn_options(conf), ...)

``run(conf)`` does that on ``[gateway] listen`` and ``port`` for tests and
standalone use.
"""

import asyncio
import logging

import uvicorn

from rdpconsole.gateway import limits
from rdpconsole.gateway import origins
from rdpconsole.gateway import pages
from rdpconsole.gateway import rdp_tls
from rdpconsole.gateway import server
from rdpconsole.gateway import session as session_module
from rdpconsole.gateway import tokens
from rdpconsole.gateway.settings import GatewaySettings

LOG = logging.getLogger(__name__)

uvicorn_options = server.uvicorn_options


def create_validator(conf, settings, database=None):
    """Return the token validator of ``[gateway] token_backend``."""
    if settings.token_backend == "compute_api":
        # Imported here so that the database backend does not load keystoneauth1's plugins.
        from rdpconsole.gateway import compute_api

        LOG.info("Console tokens are validated by the Compute API at %s",
                 conf.gateway.compute_api_endpoint or "the catalog's compute endpoint")
        return compute_api.ComputeApiTokenValidator.from_conf(conf)

    if database is None:
        from rdpconsole.db import api as db_api

        database = db_api.Database.from_conf(conf)
    return tokens.DatabaseTokenValidator(database)


class GatewayApp:
    """The ASGI application: HTTP routes, the WebSocket endpoint and lifespan events."""

    def __init__(self, context, routes):
        self.context = context
        self.routes = routes

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            await self.routes(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _websocket(self, scope, receive, send):
        if not scope.get("path", "").endswith("/ws"):
            message = await receive()
            if message["type"] == "websocket.connect":
                await session_module.reject_handshake(scope, send, 404, pages.NOT_FOUND_TEXT)
            return
        await session_module.ConsoleSession(self.context, scope, receive, send).run()

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                open_sessions = len(self.context.registry)
                if open_sessions:
                    LOG.info("Console gateway stopping with %d open sessions", open_sessions)
                close = getattr(self.context.validator, "close", None)
                if close is not None:
                    close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(conf, database=None):
    """Build the gateway's ASGI application from ``conf``.

    ``database`` is an ``rdpconsole.db.api.Database`` to share with the
    Compute API in the same process; without it, the gateway opens
    ``[database] connection`` itself when ``token_backend = database``.
    Raises ``rdpconsole.conf.loading.ConfigurationError`` for inconsistent options.
    """
    settings = GatewaySettings.from_conf(conf)
    server.install_log_filters()
    context = session_module.GatewayContext(
        settings=settings,
        validator=create_validator(conf, settings, database),
        tls_policy=rdp_tls.RdpTlsPolicy.from_settings(settings),
        registry=limits.SessionRegistry(settings.max_sessions_per_token),
        origin_policy=origins.OriginPolicy(settings.allowed_origins, settings.allow_same_origin),
    )
    routes = pages.HttpRoutes(
        pages.AssetManifest.load(settings.web_client_path),
        settings.frame_ancestors,
        settings.trusted_proxies,
    )
    LOG.info(
        "Console gateway ready: token backend %s, allowed WebSocket origins %s, RDP "
        "certificate verification %s, at most %d sessions per token",
        settings.token_backend, ", ".join(sorted(settings.allowed_origins)),
        settings.rdp_verify, settings.max_sessions_per_token,
    )
    return GatewayApp(context, routes)


def run(conf, database=None, sockets=None):
    """Serve the gateway under uvicorn until SIGINT or SIGTERM.

    Binds ``[gateway] listen`` and ``port`` unless ``sockets`` are given.
    The caller sets up logging.
    """
    config = uvicorn.Config(
        create_app(conf, database),
        host=conf.gateway.listen,
        port=conf.gateway.port,
        log_config=None,
        **uvicorn_options(conf),
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=sockets))

"""The Compute API ASGI application.

URL map, as Nova 28.0.0's api-paste.ini lays it out:

- ``/``: the version list, and any path not below /v2 or /v2.1: 300 choices;
- ``/v2.1`` and ``/v2.1/``: the v2.1 version document, without authentication;
- ``/v2.1/<anything>``: the authenticated API;
- ``/v2`` and below: 404, because the legacy v2.0-compatible API is not served.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid as uuid_lib

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from rdpconsole import policy
from rdpconsole.api import auth
from rdpconsole.api import dispatch
from rdpconsole.api import faults
from rdpconsole.api import microversion
from rdpconsole.api import versions
from rdpconsole.api.controllers import Services
from rdpconsole.api.controllers import console_auth_tokens
from rdpconsole.api.controllers import remote_consoles
from rdpconsole.api.controllers import servers
from rdpconsole.db import api as db_api
from rdpconsole.domain import consoles as consoles_module
from rdpconsole.domain import servers as servers_module

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger("rdpconsole.api.access")

# oslo.middleware's default [oslo_middleware] max_request_body_size, in bytes.
MAX_REQUEST_BODY_BYTES = 114688

API_PREFIX = "/v2.1"
LEGACY_PREFIX = "/v2"


def create_app(conf, database=None, clock=time.time):
    """Build the Compute API application.

    ``conf`` is a loaded oslo.config ConfigOpts. Without ``database`` the
    application opens ``[database] connection`` and checks its schema.
    ``clock`` returns Unix seconds and decides token expiry.
    """
    owns_database = database is None
    if owns_database:
        database = db_api.Database.from_conf(conf)
        database.ensure_ready()

    enforcer = policy.create_enforcer(conf)
    console_service = consoles_module.ConsoleService(
        database.sessionmaker,
        base_url=conf.rdp.html5_proxy_base_url,
        token_ttl=conf.consoleauth.token_ttl,
        clock=clock,
    )
    services = Services(
        servers=servers_module.ServerRepository(database.sessionmaker),
        consoles=console_service,
        enforcer=enforcer,
        max_limit=conf.api.max_limit,
    )
    front_end = FrontEnd(services, auth.create_authenticator(conf, enforcer))
    purge_interval = conf.consoleauth.purge_interval

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = None
        if purge_interval > 0:
            task = asyncio.create_task(_purge_periodically(console_service, purge_interval))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if owns_database:
                database.dispose()

    app = Starlette(routes=[Mount("", app=front_end)], lifespan=lifespan)
    app.add_middleware(RequestLogMiddleware)
    app.state.database = database
    app.state.console_service = console_service
    return app


async def _purge_periodically(console_service, interval):
    """Delete expired console tokens every ``interval`` seconds."""
    LOG.info("Purging expired console tokens every %d seconds", interval)
    while True:
        await asyncio.sleep(interval)
        try:
            count = await run_in_threadpool(console_service.purge_expired)
        except Exception:
            LOG.exception("Purging expired console tokens failed; retrying in %d seconds", interval)
            continue
        if count:
            LOG.info("Purged %d expired console tokens", count)


def create_router(services):
    """Return the v2.1 router with every route and server action."""
    server_controller = servers.ServersController(services)
    console_controller = remote_consoles.RemoteConsolesController(services)
    token_controller = console_auth_tokens.ConsoleAuthTokensController(services)
    routes = [
        dispatch.Route("/servers", {"GET": server_controller.index}),
        dispatch.Route("/servers/detail", {"GET": server_controller.detail}),
        dispatch.Route("/servers/{id}", {"GET": server_controller.show}),
        dispatch.Route("/servers/{id}/action", {"POST": dispatch.ACTION}),
        dispatch.Route("/servers/{server_id}/remote-consoles", {"POST": console_controller.create}),
        dispatch.Route("/os-console-auth-tokens/{id}", {"GET": token_controller.show}),
    ]
    return dispatch.Router(routes, console_controller.actions())


def relative_path(scope):
    """Return the request path below the application's mount point."""
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path):]
    return path or "/"


def json_document(document, status_code=200):
    response = Response(json.dumps(document).encode("utf-8"), status_code=status_code)
    response.headers["Content-Type"] = "application/json"
    return response


class FrontEnd:
    """Route a request to the version documents or the authenticated v2.1 API."""

    def __init__(self, services, authenticator):
        self._router = create_router(services)
        self._authenticator = authenticator

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            # The Compute API has no WebSocket endpoint; 1008 is "policy violation".
            await send({"type": "websocket.close", "code": 1008})
            return

        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except Exception as error:  # noqa: BLE001 - mapped to a 500 computeFault
            response = faults.exception_response(error)
        await response(scope, receive, send)

    async def _respond(self, request):
        path = relative_path(request.scope)
        root_url = str(request.base_url).rstrip("/")

        if path == "/":
            return json_document(versions.version_list(root_url))
        if path in (API_PREFIX, API_PREFIX + "/"):
            return self._version_document(request, root_url)
        if path.startswith(API_PREFIX + "/"):
            return await self._api(request, path[len(API_PREFIX):])
        if path == LEGACY_PREFIX or path.startswith(LEGACY_PREFIX + "/"):
            return faults.fault_response(404, versions.LEGACY_V2_MESSAGE)
        return json_document(versions.choices(root_url, path), status_code=300)

    @staticmethod
    def _version_document(request, root_url):
        # Nova serves this document through its API resource class, so it
        # parses the microversion headers and echoes the version.
        try:
            version = microversion.resolve(request.headers)
        except microversion.VersionNotAcceptable as error:
            response = faults.exception_response(error)
            version = error.version
        except faults.ApiError as error:
            return faults.exception_response(error)
        else:
            response = json_document(versions.version_v21(root_url))
        for name, value in microversion.response_headers(version).items():
            response.headers[name] = value
        return response

    async def _api(self, request, path):
        declared_length = request.headers.get("content-length", "")
        if declared_length.isdigit() and int(declared_length) > MAX_REQUEST_BODY_BYTES:
            return faults.fault_response(413, "Request is too large.")
        body = await request.body()
        if len(body) > MAX_REQUEST_BODY_BYTES:
            return faults.fault_response(413, "Request is too large.")
        return await run_in_threadpool(self._api_sync, request, path, body)

    def _api_sync(self, request, path, body):
        request_id = request.scope.get("state", {}).get("request_id") or new_request_id()
        result = self._authenticator.authenticate(request, request_id)
        if isinstance(result, Response):
            return result

        response = self._router.handle(request, path, body, result)
        if response.status_code == 401:
            self._authenticator.add_unauthorized_headers(response)
        return response


def new_request_id():
    return "req-" + str(uuid_lib.uuid4())


def loggable_path(path):
    """Return ``path`` with any console token in it replaced by its hash prefix."""
    marker = "/os-console-auth-tokens/"
    index = path.find(marker)
    if index < 0:
        return path
    start = index + len(marker)
    end = path.find("/", start)
    end = len(path) if end < 0 else end
    token = path[start:end]
    if not token:
        return path
    return f"{path[:start]}<token {consoles_module.token_log_id(token=token)}>{path[end:]}"


class RequestLogMiddleware:
    """Give each request an id, send it in the request-id headers and log one access line.

    Like Nova, the root version documents carry no request-id headers; every
    response under /v2 and /v2.1 does.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        path = relative_path(scope)
        add_headers = path in (LEGACY_PREFIX, API_PREFIX) or path.startswith(
            (LEGACY_PREFIX + "/", API_PREFIX + "/")
        )
        started = time.monotonic()
        outcome = {"status": 500, "length": 0, "version": "-"}

        async def send_with_request_id(message):
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name.lower() == b"x-openstack-nova-api-version":
                        outcome["version"] = value.decode("latin-1")
                if add_headers:
                    encoded = request_id.encode("ascii")
                    headers.append((b"x-openstack-request-id", encoded))
                    headers.append((b"x-compute-request-id", encoded))
                message = dict(message, headers=headers)
            elif message["type"] == "http.response.body":
                outcome["length"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            client = scope.get("client")
            ACCESS_LOG.info(
                '[%s] %s "%s %s" status: %d len: %d microversion: %s time: %.1f ms',
                request_id,
                client[0] if client else "-",
                scope["method"],
                loggable_path(scope["path"]),
                outcome["status"],
                outcome["length"],
                outcome["version"],
                (time.monotonic() - started) * 1000,
            )

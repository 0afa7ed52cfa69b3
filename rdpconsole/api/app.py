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
from rdpconsole.db import engine as db_engine
from rdpconsole.domain import consoles as consoles_module
from rdpconsole.domain import servers as servers_module

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger("rdpconsole.api.access")

# oslo.middleware's default [oslo_middleware] max_request_body_size, in bytes.
MAX_REQUEST_BODY_BYTES = 114688

API_PREFIX = "/v2.1"
LEGACY_PREFIX = "/v2"

# Seconds between WAL checkpoints of an SQLite database when requests run in
# the event loop. A console token adds about 6.6 pages to the WAL, so even at
# 5,000 tokens per second the WAL stays below
# engine.DEFERRED_WAL_AUTOCHECKPOINT_PAGES between two checkpoints.
CHECKPOINT_INTERVAL_SECONDS = 0.25


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
    authenticator = auth.create_authenticator(conf, enforcer)
    # SQLite calls take well under a millisecond and are made from one thread
    # then; the no-wait mode (see _api) keeps a held lock from stalling the loop.
    run_in_event_loop = database.is_sqlite and not authenticator.may_block
    front_end = FrontEnd(services, authenticator, run_in_event_loop)
    purge_interval = conf.consoleauth.purge_interval
    checkpoint_in_thread = run_in_event_loop and database.is_sqlite_file
    if checkpoint_in_thread:
        database.defer_checkpoints()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        tasks = []
        if purge_interval > 0:
            tasks.append(asyncio.create_task(_purge_periodically(console_service, purge_interval)))
        if checkpoint_in_thread:
            tasks.append(asyncio.create_task(_checkpoint_periodically(database)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if owns_database:
                database.dispose()

    # Starlette runs the lifespan and rejects WebSocket connections; HTTP
    # requests skip its middleware and routing layers.
    starlette_app = Starlette(routes=[Mount("", app=reject_websocket)], lifespan=lifespan)
    app = ComputeApi(front_end, starlette_app)
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


async def _checkpoint_periodically(database, interval=CHECKPOINT_INTERVAL_SECONDS):
    """Checkpoint the SQLite WAL in a worker thread every ``interval`` seconds.

    Requests commit in the event loop, so the checkpoints, with their disk
    syncs, run here instead of in the commit that crosses SQLite's threshold.
    """
    failures = 0
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(database.checkpoint)
        except Exception:
            failures += 1
            # The first failure and then one in every 100 are logged; each round retries.
            if failures % 100 == 1:
                LOG.exception("Checkpointing the SQLite WAL failed %d times in a row; retrying "
                              "every %.1f s", failures, interval)
            continue
        failures = 0


def create_router(services):
    """Return the v2.1 router with every route and server action."""
    server_controller = servers.ServersController(services)
    console_controller = remote_consoles.RemoteConsolesController(services)
    token_controller = console_auth_tokens.ConsoleAuthTokensController(services)
    routes = [
        # A list reads every server of the project and filters them in Python.
        dispatch.Route("/servers", {"GET": server_controller.index}, bounded=False),
        dispatch.Route("/servers/detail", {"GET": server_controller.detail}, bounded=False),
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
    return Response(json.dumps(document).encode("utf-8"), status_code=status_code,
                    media_type="application/json")


async def reject_websocket(scope, receive, send):
    """Close a WebSocket connection: the Compute API has no WebSocket endpoint."""
    # 1008 is "policy violation".
    await send({"type": "websocket.close", "code": 1008})


def is_api_path(path):
    """Return whether ``path`` is below /v2 or /v2.1, whose responses carry request-id headers.

    Like Nova, the root version documents carry no request-id headers.
    """
    return path in (LEGACY_PREFIX, API_PREFIX) or path.startswith(
        (LEGACY_PREFIX + "/", API_PREFIX + "/")
    )


class ComputeApi:
    """The ASGI application: HTTP requests go to FrontEnd, other scopes to Starlette."""

    def __init__(self, front_end, starlette_app):
        self._front_end = front_end
        self._starlette_app = starlette_app
        self.state = starlette_app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self._front_end.handle(scope, receive, send)
        else:
            await self._starlette_app(scope, receive, send)


class FrontEnd:
    """Route a request to the version documents or the authenticated v2.1 API.

    Gives each request an id, sends it in the request-id headers and logs
    one access line per request.
    """

    def __init__(self, services, authenticator, run_in_event_loop=False):
        self._router = create_router(services)
        self._authenticator = authenticator
        self._run_in_event_loop = run_in_event_loop

    async def handle(self, scope, receive, send):
        request_id = new_request_id()
        started = time.monotonic()
        path = relative_path(scope)
        outcome = {"status": 500, "length": 0, "version": "-"}
        try:
            request = Request(scope, receive)
            try:
                response = await self._respond(request, path, request_id)
            except Exception as error:  # noqa: BLE001 - mapped to a 500 computeFault
                response = faults.exception_response(error)
            await self._send(send, response, request_id if is_api_path(path) else None, outcome)
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

    @staticmethod
    async def _send(send, response, request_id, outcome):
        headers = response.raw_headers
        for name, value in headers:
            if name == b"x-openstack-nova-api-version":
                outcome["version"] = value.decode("latin-1")
        if request_id is not None:
            encoded = request_id.encode("ascii")
            headers = [*headers, (b"x-openstack-request-id", encoded),
                       (b"x-compute-request-id", encoded)]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": headers})
        outcome["status"] = response.status_code
        await send({"type": "http.response.body", "body": response.body})
        outcome["length"] = len(response.body)

    async def _respond(self, request, path, request_id):
        if path.startswith(API_PREFIX + "/") and path != API_PREFIX + "/":
            return await self._api(request, path[len(API_PREFIX):], request_id)

        root_url = str(request.base_url).rstrip("/")
        if path == "/":
            return json_document(versions.version_list(root_url))
        if path in (API_PREFIX, API_PREFIX + "/"):
            return self._version_document(request, root_url)
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

    async def _api(self, request, path, request_id):
        declared_length = request.headers.get("content-length", "")
        if declared_length.isdigit() and int(declared_length) > MAX_REQUEST_BODY_BYTES:
            return faults.fault_response(413, "Request is too large.")
        body = await request.body()
        if len(body) > MAX_REQUEST_BODY_BYTES:
            return faults.fault_response(413, "Request is too large.")

        if self._run_in_event_loop and self._router.is_bounded(path):
            try:
                with db_engine.no_lock_wait():
                    return self._api_sync(request, path, body, request_id)
            except db_engine.LockNotAvailable:
                # The API's only write is the token insert, in a transaction
                # of its own, so running the request again repeats nothing.
                LOG.debug("Request %s found the SQLite database locked by another "
                          "connection; running it again in a worker thread", request_id)
        return await run_in_threadpool(self._api_sync, request, path, body, request_id)

    def _api_sync(self, request, path, body, request_id):
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
    """Return ``path`` safe for a log line.

    A path segment that follows one containing "token" (any case, so that a
    mistyped os-console-auth-tokens URL is covered too) is replaced by its
    hash prefix, and control and non-ASCII characters are escaped, so that a
    request cannot forge log lines.
    """
    segments = path.split("/")
    for index in range(1, len(segments)):
        if segments[index] and "token" in segments[index - 1].lower():
            segments[index] = f"<token {consoles_module.token_log_id(token=segments[index])}>"
    return "/".join(segments).encode("ascii", "backslashreplace").decode("ascii").translate(
        _CONTROL_CHARACTER_ESCAPES
    )


# Escapes for C0 control characters and DEL, which a log line must not contain raw.
_CONTROL_CHARACTER_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}

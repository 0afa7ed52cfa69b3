"""Authentication of v2.1 requests: ``[api] auth_strategy`` noauth2 or keystone.

Both strategies return a RequestContext or a 401 response with
keystonemiddleware's body and ``WWW-Authenticate`` header, which is what
Nova's clients expect from a Compute API without a valid token.
"""

import io
import json
import logging
import re

from keystonemiddleware import auth_token
from starlette.responses import Response

from rdpconsole import context as context_module
from rdpconsole import policy

LOG = logging.getLogger(__name__)

NOAUTH2 = "noauth2"
KEYSTONE = "keystone"

# noauth2 roles: Keystone's default role chain admin > member > reader, so
# that the project-scoped Nova defaults apply as with a real token.
ADMIN_USER = "admin"
ADMIN_ROLES = ["admin", "member", "reader"]
USER_ROLES = ["member", "reader"]

UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."

# The inbound global request id that oslo.middleware accepts.
_GLOBAL_REQUEST_ID = re.compile(
    r"^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$"
)


def unauthorized_response(www_authenticate_uri):
    """Return keystonemiddleware's 401 response, with the same body and headers."""
    body = {"error": {"code": 401, "title": "Unauthorized", "message": UNAUTHORIZED_MESSAGE}}
    response = Response(json.dumps(body).encode("utf-8"), status_code=401)
    response.headers["Content-Type"] = "application/json"
    response.headers["WWW-Authenticate"] = f'Keystone uri="{www_authenticate_uri}"'
    return response


def global_request_id(http_request):
    value = http_request.headers.get("x-openstack-request-id")
    if value and _GLOBAL_REQUEST_ID.match(value):
        return value
    return None


def _remote_address(http_request):
    return http_request.client.host if http_request.client else None


class NoAuth2:
    """Development authentication: ``X-Auth-Token: user:project``, never checked.

    A token without a colon names a user whose project has the same name.
    The user ``admin`` gets the roles admin, member and reader, any other
    user member and reader; an ``X-Roles: a,b`` header replaces the roles.
    """

    # Authentication makes no network or database calls.
    may_block = False

    def __init__(self, enforcer):
        self._enforcer = enforcer

    def authenticate(self, http_request, request_id):
        token = http_request.headers.get("x-auth-token")
        if not token:
            return unauthorized_response(str(http_request.base_url))

        user_id, _separator, project_id = token.partition(":")
        project_id = project_id or user_id
        roles = ADMIN_ROLES if user_id == ADMIN_USER else USER_ROLES
        roles_header = http_request.headers.get("x-roles")
        if roles_header is not None:
            roles = expand_implied_roles(
                role.strip() for role in roles_header.split(",") if role.strip()
            )

        context = context_module.RequestContext(
            user_id=user_id,
            project_id=project_id,
            roles=list(roles),
            request_id=request_id,
            global_request_id=global_request_id(http_request),
        )
        context.is_admin = policy.is_admin(self._enforcer, context)
        return context

    def add_unauthorized_headers(self, response):
        """Nova's noauth2 pipeline has no keystonemiddleware to add WWW-Authenticate."""


class Keystone:
    """Keystone tokens, validated by keystonemiddleware's auth_token (``[keystone_authtoken]``).

    auth_token is WSGI middleware, so it runs here around a WSGI application
    that only records that the request got through. The identity headers
    that auth_token sets on the WSGI environ then become the request context.
    """

    AUTHENTICATED_KEY = "rdpconsole.authenticated"

    # auth_token sends Keystone a request for each token that is not in its cache.
    may_block = True

    def __init__(self, conf, enforcer):
        self._enforcer = enforcer
        self._protocol = auth_token.AuthProtocol(
            self._authenticated_app, {"oslo_config_config": conf}
        )

    @classmethod
    def _authenticated_app(cls, environ, start_response):
        environ[cls.AUTHENTICATED_KEY] = True
        start_response("204 No Content", [])
        return [b""]

    def authenticate(self, http_request, request_id):
        environ = wsgi_environ(http_request)
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers

        body = b"".join(self._protocol(environ, start_response))
        if not environ.get(self.AUTHENTICATED_KEY):
            response = Response(body, status_code=captured.get("status", 401))
            for name, value in captured.get("headers", []):
                if name.lower() != "content-length":
                    response.headers.append(name, value)
            return response

        if environ.get("HTTP_X_IDENTITY_STATUS", "Confirmed") != "Confirmed":
            return self._unauthorized()

        context = context_module.RequestContext.from_environ(
            environ,
            request_id=request_id,
            global_request_id=global_request_id(http_request),
        )
        if context.user_id is None:
            LOG.debug("Neither X_USER_ID nor X_USER found in request %s", request_id)
            return self._unauthorized()
        context.is_admin = policy.is_admin(self._enforcer, context)
        return context

    def _unauthorized(self):
        return unauthorized_response(self._protocol.www_authenticate_uri)

    def add_unauthorized_headers(self, response):
        """Add WWW-Authenticate to a 401 of the API, as auth_token does on the way out."""
        response.headers["WWW-Authenticate"] = (
            f'Keystone uri="{self._protocol.www_authenticate_uri}"'
        )


def wsgi_environ(http_request):
    """Return a PEP 3333 environ with the request line and headers of ``http_request`` and no body."""
    scope = http_request.scope
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": _remote_address(http_request) or "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name == "CONTENT_LENGTH":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def create_authenticator(conf, enforcer):
    strategy = conf.api.auth_strategy
    if strategy == KEYSTONE:
        return Keystone(conf, enforcer)
    return NoAuth2(enforcer)


# Keystone's default implied roles: admin implies member, member implies reader.
IMPLIED_ROLES = {"admin": ("member",), "member": ("reader",)}


def expand_implied_roles(roles):
    """Return ``roles`` followed by every role they imply, without repeats."""
    result = []
    pending = list(roles)
    while pending:
        role = pending.pop(0)
        if role in result:
            continue
        result.append(role)
        pending.extend(IMPLIED_ROLES.get(role, ()))
    return result

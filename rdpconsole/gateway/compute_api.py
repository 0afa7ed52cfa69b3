"""Token validation through a Compute API (``[gateway] token_backend = compute_api``).

The gateway sends ``GET <endpoint>/os-console-auth-tokens/<token>`` with
admin credentials, as FreeRDP-WebConnect did with Nova. It sends no
microversion header, so the request runs at microversion 2.1, where the
API returns only ``rdp-html5`` tokens (401 for any other console type).
From microversion 2.31 on, Nova returns every console type without saying
which, and a VNC token would send the gateway to a VNC port.

The response carries no project, so the gateway then reads
``GET /servers/<instance_uuid>`` for the audit line. If that fails, the
project is logged as unknown and the session goes ahead.

Credentials come from ``[compute_api]`` (keystoneauth1 options, such as
``auth_type = password``) or, for an API that runs with noauth2, from the
static ``[gateway] admin_token``. keystoneauth1 calls are blocking, so they
run in the event loop's default thread pool.
"""

import asyncio
import logging
import urllib.parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import token_endpoint

from rdpconsole.conf.gateway import COMPUTE_API_GROUP
from rdpconsole.domain import consoles
from rdpconsole.gateway import errors
from rdpconsole.gateway.tokens import ConsoleTarget

LOG = logging.getLogger(__name__)

# The message of Nova's 401 for a token of another console type at microversions
# 2.1 to 2.30 (nova/api/openstack/compute/console_auth_tokens.py, 28.0.0).
NOT_AN_RDP_TOKEN_MESSAGE = "The requested console type details are not accessible"


def create_adapter(conf):
    """Return a keystoneauth1 Adapter for the Compute API from ``[gateway]`` and ``[compute_api]``."""
    gateway = conf.gateway
    if gateway.admin_token:
        auth = token_endpoint.Token(gateway.compute_api_endpoint, gateway.admin_token)
    else:
        auth = ks_loading.load_auth_from_conf_options(conf, COMPUTE_API_GROUP)
    session = ks_loading.load_session_from_conf_options(conf, COMPUTE_API_GROUP, auth=auth)
    if session.timeout is None:
        session.timeout = gateway.compute_api_timeout
    return ks_adapter.Adapter(
        session,
        service_type="compute",
        interface=list(gateway.compute_api_interfaces),
        region_name=gateway.compute_api_region,
        endpoint_override=gateway.compute_api_endpoint,
    )


class ComputeApiTokenValidator:
    """Validate tokens with a Compute API's os-console-auth-tokens API."""

    def __init__(self, adapter):
        self._adapter = adapter

    @classmethod
    def from_conf(cls, conf):
        return cls(create_adapter(conf))

    async def validate(self, token):
        """Return the token's ConsoleTarget; raise TokenInvalid or TokenBackendError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._validate, token)

    def _validate(self, token):
        log_id = consoles.token_log_id(token)
        path = "/os-console-auth-tokens/" + urllib.parse.quote(token, safe="")
        response = self._get(path, token, log_id)

        if response.status_code == 404:
            raise errors.TokenInvalid("console token unknown or expired")
        if response.status_code == 401 and _is_not_rdp_token(response):
            raise errors.TokenInvalid("the Compute API returned 401: the token is not an rdp-html5 console token")
        if response.status_code != 200:
            raise errors.TokenBackendError(_describe_status(response))

        try:
            console = response.json()["console"]
            target = ConsoleTarget(
                instance_uuid=str(console["instance_uuid"]),
                project_id=None,
                host=_require_text(console, "host"),
                port=_port(console.get("port")),
                internal_access_path=(
                    console.get("internal_access_path")
                    if isinstance(console.get("internal_access_path"), str) else None
                ),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise errors.TokenBackendError(
                f"the Compute API returned os-console-auth-tokens for token {log_id} with an "
                f"unexpected body ({type(error).__name__}: {error})"
            ) from None

        return ConsoleTarget(
            instance_uuid=target.instance_uuid,
            project_id=self._find_project(target.instance_uuid),
            host=target.host,
            port=target.port,
            internal_access_path=target.internal_access_path,
        )

    def _get(self, path, token, log_id):
        try:
            # log=False: keystoneauth's debug lines would show the URL with the clear token.
            return self._adapter.get(path, raise_exc=False, log=False)
        except ks_exceptions.ClientException as error:
            # keystoneauth's messages quote the URL, which contains the token.
            message = str(error).replace(token, log_id).replace(urllib.parse.quote(token, safe=""), log_id)
            raise errors.TokenBackendError(
                f"request to the Compute API for token {log_id} failed: "
                f"{type(error).__name__}: {message}"
            ) from None

    def _find_project(self, instance_uuid):
        try:
            response = self._adapter.get(
                "/servers/" + urllib.parse.quote(instance_uuid, safe=""), raise_exc=False
            )
        except ks_exceptions.ClientException as error:
            LOG.warning("Project of server %s unknown: GET /servers/%s failed: %s",
                        instance_uuid, instance_uuid, error)
            return None
        if response.status_code != 200:
            LOG.warning("Project of server %s unknown: GET /servers/%s returned HTTP %d",
                        instance_uuid, instance_uuid, response.status_code)
            return None
        try:
            return response.json()["server"]["tenant_id"]
        except (ValueError, KeyError, TypeError):
            LOG.warning("Project of server %s unknown: GET /servers/%s has no server.tenant_id",
                        instance_uuid, instance_uuid)
            return None

    def close(self):
        self._adapter.session.session.close()


def _is_not_rdp_token(response):
    try:
        return response.json()["unauthorized"]["message"] == NOT_AN_RDP_TOKEN_MESSAGE
    except (ValueError, KeyError, TypeError):
        return False


def _describe_status(response):
    status = response.status_code
    if status == 401:
        hint = "the [compute_api] credentials or [gateway] admin_token were rejected"
    elif status == 403:
        hint = ("the gateway's user lacks the policy os_compute_api:os-console-auth-tokens "
                "(the admin role by default)")
    elif status == 400:
        hint = ("the API refused os-console-auth-tokens at microversion 2.1; Nova removed RDP "
                "consoles in 29.0.0, so point compute_api_endpoint at rdpconsole's Compute API")
    else:
        hint = "check the Compute API's log"
    return f"the Compute API returned HTTP {status} for os-console-auth-tokens: {hint}"


def _require_text(console, name):
    value = console.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"console.{name} is {value!r}, expected a non-empty string")
    return value


def _port(value):
    # Nova returns an integer; FreeRDP-WebConnect also accepted a numeric string.
    if isinstance(value, bool):
        raise ValueError(f"console.port is {value!r}, expected a TCP port number")
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError(f"console.port is {port}, expected 1 to 65535")
    return port

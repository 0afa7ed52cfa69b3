"""Console tokens at the gateway: where a session's token comes from and how it is validated.

A token may come from three places: the RDCleanPath ``proxy_auth`` field
(where IronRDP's web client puts it), the WebSocket URL's ``token`` query
parameter, or a ``token`` cookie (the places Nova-compatible console pages
use). Sources that carry a token must agree.

Validation returns a ``ConsoleTarget``: the RDP endpoint of the token's
record. It comes from the gateway's database (``[gateway] token_backend =
database``) or from a Compute API's ``GET /os-console-auth-tokens/<token>``
(``compute_api``), and it is the only place the gateway ever connects to.
"""

import asyncio
import dataclasses
import logging
import urllib.parse

from rdpconsole.domain import consoles
from rdpconsole.domain import exceptions as domain_exceptions
from rdpconsole.domain import servers as servers_module
from rdpconsole.gateway import errors

LOG = logging.getLogger(__name__)

TOKEN_PARAMETER = "token"
TOKEN_COOKIE = "token"


@dataclasses.dataclass(frozen=True)
class ConsoleTarget:
    """The RDP endpoint of a valid console token and the server it belongs to.

    ``project_id`` is None when the backend cannot tell it (a Compute API
    whose server lookup failed).
    """

    instance_uuid: str
    project_id: str | None
    host: str
    port: int
    internal_access_path: str | None


def tokens_in_query(query_string):
    """Return every ``token`` value in a raw query string, in order."""
    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    return [
        value for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True)
        if name == TOKEN_PARAMETER
    ]


def tokens_in_cookies(cookie_header):
    """Return every ``token`` cookie value in a Cookie header (RFC 6265 section 5.4 syntax)."""
    values = []
    for pair in (cookie_header or "").split(";"):
        name, separator, value = pair.strip().partition("=")
        if separator and name.strip() == TOKEN_COOKIE:
            values.append(urllib.parse.unquote(value.strip().strip('"')))
    return values


def select_token(proxy_auth, query_string, cookie_header):
    """Return the session's console token from its three sources.

    Raises TokenConflict for a duplicated ``token`` query parameter or when
    two sources carry different tokens, and TokenMissing when none carries one.
    """
    query_tokens = tokens_in_query(query_string)
    if len(query_tokens) > 1:
        raise errors.TokenConflict(f"the WebSocket URL has {len(query_tokens)} token parameters")

    found = {}
    if proxy_auth:
        found["proxy_auth"] = proxy_auth
    if query_tokens and query_tokens[0]:
        found["query"] = query_tokens[0]
    cookie_tokens = {value for value in tokens_in_cookies(cookie_header) if value}
    if len(cookie_tokens) > 1:
        raise errors.TokenConflict(f"the request has {len(cookie_tokens)} different token cookies")
    if cookie_tokens:
        found["cookie"] = cookie_tokens.pop()

    if not found:
        raise errors.TokenMissing("no console token in proxy_auth, the WebSocket URL or a cookie")
    if len(set(found.values())) > 1:
        raise errors.TokenConflict(
            f"the tokens in {' and '.join(sorted(found))} differ"
        )
    return next(iter(found.values()))


class DatabaseTokenValidator:
    """Validate tokens in the database that the Compute API writes."""

    def __init__(self, database):
        # Validation reads only the token table; the base URL is for issuing tokens.
        self._consoles = consoles.ConsoleService(database.sessionmaker, base_url="")
        self._servers = servers_module.ServerRepository(database.sessionmaker)

    def _lookup(self, token):
        record = self._consoles.validate(token)
        if record.console_type != consoles.RDP_CONSOLE_TYPE:
            raise errors.ConsoleTypeForbidden(
                f"the console token is for console type {record.console_type!r}, not "
                f"{consoles.RDP_CONSOLE_TYPE!r}"
            )
        try:
            project_id = self._servers.get(record.instance_uuid).project_id
        except domain_exceptions.InstanceNotFound:
            project_id = None
        return ConsoleTarget(
            instance_uuid=record.instance_uuid,
            project_id=project_id,
            host=record.host,
            port=record.port,
            internal_access_path=record.internal_access_path,
        )

    async def validate(self, token):
        """Return the token's ConsoleTarget; raise TokenInvalid or TokenBackendError."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self._lookup, token)
        except domain_exceptions.InvalidToken:
            raise errors.TokenInvalid("console token unknown or expired") from None
        except errors.GatewayError:
            raise
        except Exception as error:  # SQLAlchemy and driver errors of any kind
            # A DBAPIError's own text quotes the SQL statement; its driver error does not.
            cause = getattr(error, "orig", None) or error
            raise errors.TokenBackendError(
                f"console token lookup in the database failed: {type(cause).__name__}: {cause}",
                http_status_code=503,
            ) from None

    def close(self):
        pass

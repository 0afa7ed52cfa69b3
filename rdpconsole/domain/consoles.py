"""Console tokens: issue, validate and purge them."""

import hashlib
import logging
import time
import uuid as uuid_lib

import sqlalchemy as sa

from rdpconsole.db import models
from rdpconsole.db import statements
from rdpconsole.domain import exceptions
from rdpconsole.domain import servers as servers_module
from rdpconsole.domain import urls

LOG = logging.getLogger(__name__)

RDP_CONSOLE_TYPE = "rdp-html5"
TOKEN_TTL_SECONDS = 600  # Nova's [consoleauth] token_ttl default
LOG_HASH_PREFIX_LENGTH = 8  # hex characters of a token's hash shown in logs


def hash_token(token):
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_log_id(token=None, token_hash=None):
    """Return a short hash prefix that identifies a token in logs without revealing it."""
    if token_hash is None:
        token_hash = hash_token(token)
    return token_hash[:LOG_HASH_PREFIX_LENGTH]


def check_console_allowed(server, method):
    """Apply the compute API's state checks before any console is handed out.

    Raises InstanceNotReady when the server has no compute host, and
    InstanceInvalidState while it is being deleted or migrated.
    """
    if not server.host:
        raise exceptions.InstanceNotReady(instance_id=server.uuid)
    if server.task_state in servers_module.CONSOLE_REJECTED_TASK_STATES:
        raise exceptions.InstanceInvalidState(
            method=method, instance_uuid=server.uuid, attr="task_state", state=server.task_state
        )


_TOKENS = models.ConsoleAuthToken.__table__

# The console endpoints run these on every request; see db.statements.
_INSERTED_COLUMNS = (
    "token_hash", "console_type", "host", "port", "internal_access_path",
    "instance_uuid", "access_url_base", "expires", "created_at",
)
_INSERT_TOKEN = statements.Statement(
    sa.insert(_TOKENS).values({name: sa.bindparam(name) for name in _INSERTED_COLUMNS})
)
_SELECT_TOKEN = statements.Statement(
    sa.select(_TOKENS).where(_TOKENS.c.token_hash == sa.bindparam("token_hash")),
    "ConsoleAuthToken",
)


class ConsoleService:
    """Issue and validate console tokens for servers of the inventory."""

    def __init__(self, sessionmaker, base_url, token_ttl=TOKEN_TTL_SECONDS, clock=time.time):
        self._sessionmaker = sessionmaker
        self._engine = sessionmaker.kw["bind"]
        self._base_url = base_url
        self._token_ttl = token_ttl
        self._clock = clock

    def get_rdp_console(self, server, console_type):
        """Issue a token for ``server``'s RDP console and return the console URL.

        Raises the compute API's errors: InstanceNotReady, InstanceInvalidState,
        ConsoleTypeInvalid.
        """
        check_console_allowed(server, "get_rdp_console")
        if console_type != RDP_CONSOLE_TYPE:
            raise exceptions.ConsoleTypeInvalid(console_type=console_type)

        token = self.authorize(server, console_type)
        return urls.build_access_url(self._base_url, token)

    def authorize(self, server, console_type):
        """Store a new token for ``server`` and return it in clear, once."""
        token = str(uuid_lib.uuid4())
        token_hash = hash_token(token)
        expires = int(self._clock() + self._token_ttl)
        values = {
            "token_hash": token_hash,
            "console_type": console_type,
            "host": server.console_host,
            "port": server.console_port,
            "internal_access_path": server.vm_id,
            "instance_uuid": server.uuid,
            "access_url_base": self._base_url,
            "expires": expires,
            "created_at": models.utcnow(),
        }
        try:
            _INSERT_TOKEN.execute_in_transaction(self._engine, values)
        except sa.exc.IntegrityError as error:
            # The foreign key fails when the server was deleted meanwhile; the
            # unique hash fails only on a UUID4 collision.
            if "token_hash" in str(error.orig):
                raise exceptions.TokenInUse() from None
            raise exceptions.InstanceNotFound(instance_id=server.uuid) from None

        LOG.info(
            "Issued %s console token %s for server %s of project %s, expires at %d",
            console_type, token_log_id(token_hash=token_hash), server.uuid,
            server.project_id, expires,
        )
        return token

    def validate(self, token):
        """Return the stored record of a valid token; raise InvalidToken otherwise.

        The record is a read-only named tuple with the attributes of
        models.ConsoleAuthToken. Validation does not consume the token: it
        stays valid until it expires.
        """
        if not isinstance(token, str) or not token:
            raise exceptions.InvalidToken()
        token_hash = hash_token(token)
        now = int(self._clock())
        record = _SELECT_TOKEN.first(self._engine, {"token_hash": token_hash})
        if record is None or record.expires <= now:
            raise exceptions.InvalidToken()
        return record

    def purge_expired(self):
        """Delete every expired token row and return how many were deleted."""
        now = int(self._clock())
        with self._sessionmaker.begin() as session:
            result = session.execute(
                sa.delete(models.ConsoleAuthToken).where(models.ConsoleAuthToken.expires <= now)
            )
        return result.rowcount

    def delete_for_server(self, server_uuid):
        with self._sessionmaker.begin() as session:
            result = session.execute(
                sa.delete(models.ConsoleAuthToken).where(
                    models.ConsoleAuthToken.instance_uuid == server_uuid
                )
            )
        return result.rowcount

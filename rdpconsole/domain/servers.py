"""The server inventory: servers whose RDP consoles the service offers."""

import functools
import ipaddress
import re
import uuid as uuid_lib

import re2
import sqlalchemy as sa

from rdpconsole.db import models
from rdpconsole.db import statements
from rdpconsole.domain import exceptions

DEFAULT_CONSOLE_PORT = 3389  # RDP's registered TCP port

# Server status values of the Nova API (nova/api/openstack/common.py, 28.0.0).
SERVER_STATUSES = (
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PASSWORD",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESCUE",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SHUTOFF",
    "SOFT_DELETED",
    "SUSPENDED",
    "UNKNOWN",
    "VERIFY_RESIZE",
)

# Compiled filter patterns kept by compile_regex(); a client repeats its filters.
REGEX_CACHE_SIZE = 256

# RE2 logs each pattern it rejects to stderr unless log_errors is off. The pattern
# is client input and could forge lines in the service log.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False

# Task states that refuse a console (nova.compute.api reject_instance_state).
CONSOLE_REJECTED_TASK_STATES = ("deleting", "migrating")

# RFC 1123 host name: dot-separated labels of letters, digits and hyphens.
_HOST_NAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

MAX_STRING_LENGTH = 255  # column width of every string field


class InvalidServerField(exceptions.Invalid):
    """A server field value is not allowed."""

    msg_fmt = "Invalid %(field)s %(value)r: %(reason)s"


def validate_console_host(value):
    """Check that ``value`` is an IPv4 address, an IPv6 address or a DNS name."""
    if not isinstance(value, str) or not value:
        raise InvalidServerField(
            field="console_host", value=value, reason="expected an IP address or a host name"
        )
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate)
        return candidate
    except ValueError:
        pass
    labels = candidate.rstrip(".").split(".")
    if len(candidate) > 253 or not all(_HOST_NAME_LABEL.match(label) for label in labels):
        raise InvalidServerField(
            field="console_host",
            value=value,
            reason="expected an IPv4 address, an IPv6 address or a DNS host name",
        )
    return candidate


def validate_fields(fields):
    """Check and normalize the server fields present in ``fields``; return a new dict."""
    result = dict(fields)

    for name in ("name", "project_id", "user_id"):
        if name in result:
            value = result[name]
            if not isinstance(value, str) or not value.strip():
                raise InvalidServerField(field=name, value=value, reason="must not be empty")
            if len(value) > MAX_STRING_LENGTH:
                raise InvalidServerField(
                    field=name, value=value, reason=f"longer than {MAX_STRING_LENGTH} characters"
                )

    if "uuid" in result:
        try:
            result["uuid"] = str(uuid_lib.UUID(str(result["uuid"])))
        except ValueError:
            raise InvalidServerField(
                field="id", value=result["uuid"], reason="expected a UUID"
            ) from None

    if "status" in result:
        status = result["status"]
        if not isinstance(status, str) or status.upper() not in SERVER_STATUSES:
            raise InvalidServerField(
                field="status", value=status, reason=f"expected one of {', '.join(SERVER_STATUSES)}"
            )
        result["status"] = status.upper()

    if "console_host" in result:
        result["console_host"] = validate_console_host(result["console_host"])

    if "console_port" in result:
        port = result["console_port"]
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidServerField(
                field="console_port", value=result["console_port"],
                reason="expected a TCP port number from 1 to 65535",
            )
        result["console_port"] = port

    for name in ("host", "task_state", "vm_id"):
        value = result.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_STRING_LENGTH:
            raise InvalidServerField(
                field=name, value=value,
                reason=f"expected a string of at most {MAX_STRING_LENGTH} characters",
            )
        if value == "":
            result[name] = None

    if "metadata" in result:
        metadata = result.pop("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
        ):
            raise InvalidServerField(
                field="metadata", value=metadata, reason="expected a mapping of strings to strings"
            )
        result["metadata_"] = metadata

    return result


class InvalidRegex(exceptions.Invalid):
    """A server list filter is not a regular expression that RE2 can run."""

    msg_fmt = "Invalid regular expression %(pattern)r: %(reason)s"


@functools.lru_cache(maxsize=REGEX_CACHE_SIZE)
def compile_regex(pattern):
    """Return ``pattern`` compiled by RE2, or raise InvalidRegex.

    Server list filters are unanchored regular expressions, as in Nova, but
    run on RE2, which matches in time linear in the text. Python's
    backtracking re takes exponential time on a pattern such as ``(a+)+$``,
    and a client chooses the pattern. RE2 has no backreferences or
    lookaround assertions.
    """
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidRegex(pattern=pattern, reason=str(reason)) from None


def regex_search(pattern, text):
    """Return whether the regular expression ``pattern`` matches anywhere in ``text``."""
    return compile_regex(pattern).search(text) is not None


def _server_columns():
    """Return every column of the servers table, labelled with its Server attribute name."""
    mapper = sa.inspect(models.Server)
    return [column.label(mapper.get_property_by_column(column).key)
            for column in models.Server.__table__.columns]


# The console endpoints look a server up on every request; see db.statements.
_SERVER_BY_UUID = sa.select(*_server_columns()).where(
    models.Server.__table__.c.uuid == sa.bindparam("uuid")
)
_SELECT_SERVER = statements.Statement(_SERVER_BY_UUID, "Server")
_SELECT_PROJECT_SERVER = statements.Statement(
    _SERVER_BY_UUID.where(models.Server.__table__.c.project_id == sa.bindparam("project_id")),
    row_type=_SELECT_SERVER.row_type,
)


class ServerRepository:
    """Create, read, update and delete servers in the database."""

    def __init__(self, sessionmaker):
        self._sessionmaker = sessionmaker
        self._engine = sessionmaker.kw["bind"]

    def create(self, **fields):
        fields.setdefault("uuid", str(uuid_lib.uuid4()))
        fields.setdefault("status", "ACTIVE")
        fields.setdefault("console_port", DEFAULT_CONSOLE_PORT)
        fields.setdefault("metadata", {})
        for required in ("name", "project_id", "user_id", "console_host"):
            if fields.get(required) in (None, ""):
                raise InvalidServerField(field=required, value=None, reason="is required")
        values = validate_fields(fields)

        with self._sessionmaker.begin() as session:
            existing = session.scalar(
                sa.select(models.Server.id).where(models.Server.uuid == values["uuid"])
            )
            if existing is not None:
                raise exceptions.ServerExists(uuid=values["uuid"])
            server = models.Server(**values)
            session.add(server)
        return server

    def get(self, server_id, project_id=None, include_deleted=True):
        """Return the server with UUID ``server_id``, optionally only within ``project_id``.

        The result is a read-only named tuple with the attributes of
        models.Server (``metadata_`` included). Raises InstanceNotFound for a
        missing server, a server of another project, or an id that is not a UUID,
        and with ``include_deleted=False`` for a server whose status is DELETED,
        which Nova's API does not find. The CLI and the gateway see every server.
        """
        try:
            normalized = str(uuid_lib.UUID(server_id))
        except (ValueError, TypeError, AttributeError):
            raise exceptions.InstanceNotFound(instance_id=server_id) from None

        if project_id is None:
            server = _SELECT_SERVER.first(self._engine, {"uuid": normalized})
        else:
            server = _SELECT_PROJECT_SERVER.first(
                self._engine, {"uuid": normalized, "project_id": project_id}
            )
        if server is None or (not include_deleted and server.status == "DELETED"):
            raise exceptions.InstanceNotFound(instance_id=server_id)
        return server

    def list(self, project_id=None, name_regex=None, inventory_scope=None, limit=None,
             marker=None, filters=None):
        """List servers, newest first (Nova's default sort: created_at, then id, descending).

        ``name_regex`` is matched unanchored, as Nova's ``name`` filter is, by
        RE2 on SQLite (see db.engine) and by the database's own regular
        expression operator on PostgreSQL and MySQL. On SQLite a pattern that
        RE2 rejects raises InvalidRegex.
        ``marker`` is the UUID of the last server of the previous page; an unknown
        marker raises ``MarkerNotFound``.
        """
        query = sa.select(models.Server)
        if project_id is not None:
            query = query.where(models.Server.project_id == project_id)
        if inventory_scope is not None:
            query = query.where(models.Server.inventory_scope == inventory_scope)
        if name_regex:
            if self._engine.dialect.name == "sqlite":
                compile_regex(name_regex)
            query = query.where(models.Server.name.regexp_match(name_regex))
        for column_name, value in (filters or {}).items():
            query = query.where(getattr(models.Server, column_name) == value)
        query = query.order_by(models.Server.created_at.desc(), models.Server.id.desc())

        with self._sessionmaker() as session:
            if marker is not None:
                marker_row = session.scalar(
                    sa.select(models.Server).where(models.Server.uuid == marker)
                )
                if marker_row is None:
                    raise MarkerNotFound(marker=marker)
                query = query.where(
                    sa.or_(
                        models.Server.created_at < marker_row.created_at,
                        sa.and_(
                            models.Server.created_at == marker_row.created_at,
                            models.Server.id < marker_row.id,
                        ),
                    )
                )
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def update(self, server_id, **fields):
        values = validate_fields(fields)
        server = self.get(server_id)
        with self._sessionmaker.begin() as session:
            row = session.get(models.Server, server.id)
            for name, value in values.items():
                setattr(row, name, value)
        return row

    def delete(self, server_id):
        """Delete a server and every console token issued for it."""
        server = self.get(server_id)
        with self._sessionmaker.begin() as session:
            session.execute(
                sa.delete(models.ConsoleAuthToken).where(
                    models.ConsoleAuthToken.instance_uuid == server.uuid
                )
            )
            session.execute(sa.delete(models.Server).where(models.Server.id == server.id))
        return server


class MarkerNotFound(exceptions.Invalid):
    msg_fmt = "marker [%(marker)s] not found"

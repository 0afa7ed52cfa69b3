"""Tables of rdpconsole. Alembic migrations under ``migrations/`` create them."""

import datetime

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

# Named constraints keep migrations portable across SQLite, PostgreSQL and MySQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Server(Base):
    """A server whose RDP console the service offers: the stand-in for a Nova instance."""

    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    # Nova's server status values: ACTIVE, BUILD, SHUTOFF, ERROR, PAUSED, ...
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    task_state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Compute host that runs the server; None means "not ready" (HTTP 409).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    console_host: Mapped[str] = mapped_column(String(255), nullable=False)
    console_port: Mapped[int] = mapped_column(Integer, nullable=False)
    # Hyper-V VM GUID, returned as the console's internal_access_path.
    vm_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, nullable=False, default=dict)
    # Scope of the inventory file that manages this server, or None when it is
    # managed by 'rdpconsole server' commands.
    inventory_scope: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, nullable=True, onupdate=utcnow
    )


class ConsoleAuthToken(Base):
    """A console token, with the fields of Nova's ``console_auth_tokens`` table."""

    __tablename__ = "console_auth_tokens"
    __table_args__ = (
        Index("ix_console_auth_tokens_host_expires", "host", "expires"),
        Index("ix_console_auth_tokens_token_hash_instance_uuid", "token_hash", "instance_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # SHA-256 hex digest of the token; the clear token is never stored.
    token_hash: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    console_type: Mapped[str] = mapped_column(String(255), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False)
    internal_access_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    instance_uuid: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("servers.uuid", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    access_url_base: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Expiry time in Unix seconds, as Nova stores it.
    expires: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, nullable=True, onupdate=utcnow
    )

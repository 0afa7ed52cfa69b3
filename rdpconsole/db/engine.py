"""Database engines and sessions for SQLite, PostgreSQL and MySQL URLs."""

import os

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

# Seconds a SQLite writer waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_SECONDS = 30


class DatabaseURLError(Exception):
    """The [database] connection URL cannot be used."""


def create_engine(url, max_pool_size=5, max_overflow=10):
    """Create an engine for ``url``, creating the folder of an SQLite file if needed."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise DatabaseURLError(
            f"Invalid [database] connection URL {_hide_password(url)!r}: expected an "
            "SQLAlchemy URL such as sqlite:////var/lib/rdpconsole/rdpconsole.sqlite "
            "or postgresql+psycopg2://user:password@host/rdpconsole."
        ) from None

    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)

    try:
        return sqlalchemy.create_engine(
            parsed,
            pool_size=max_pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=3600,
        )
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as error:
        raise DatabaseURLError(
            f"No database driver for {parsed.drivername!r} in [database] connection "
            f"({error}). Install it, for example 'pip install psycopg2-binary' for "
            "postgresql+psycopg2 or 'pip install PyMySQL' for mysql+pymysql."
        ) from None


def _create_sqlite_engine(parsed):
    database = parsed.database
    if database and database != ":memory:":
        folder = os.path.dirname(os.path.abspath(database))
        os.makedirs(folder, exist_ok=True)

    engine = sqlalchemy.create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _set_sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        # Token rows must go with their server: SQLite enforces foreign keys only when asked.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets API workers and gateways read while another process writes.
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def create_sessionmaker(engine):
    return sessionmaker(bind=engine, expire_on_commit=False)


def _hide_password(url):
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url

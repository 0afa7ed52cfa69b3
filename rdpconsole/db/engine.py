"""Database engines and sessions for SQLite, PostgreSQL and MySQL URLs."""

import contextlib
import contextvars
import functools
import os
import sqlite3
import weakref

import re2
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

# Seconds a SQLite writer waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_SECONDS = 30

# WAL size in pages (4 KiB each by default) at which a committing connection
# checkpoints the WAL into the database file after defer_checkpoints(), up
# from SQLite's default of 1000. A process that defers checkpoints runs
# checkpoint() itself, so this threshold is only a safety net.
DEFERRED_WAL_AUTOCHECKPOINT_PAGES = 10000

# False inside no_lock_wait(): SQLite statements then fail at once on a held lock.
_lock_wait = contextvars.ContextVar("rdpconsole_sqlite_lock_wait", default=True)

# Compiled patterns that the SQLite REGEXP function keeps per process.
REGEXP_CACHE_SIZE = 256

# RE2 logs each pattern it rejects to stderr unless log_errors is off.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False

# Engines whose connections use DEFERRED_WAL_AUTOCHECKPOINT_PAGES.
_deferred_checkpoint_engines = weakref.WeakSet()


class DatabaseURLError(Exception):
    """The [database] connection URL cannot be used."""


class LockNotAvailable(Exception):
    """Another connection holds the SQLite lock that a statement in no_lock_wait() needs."""


@contextlib.contextmanager
def no_lock_wait():
    """Make SQLite statements in this context raise LockNotAvailable instead of waiting.

    The Compute API runs its SQLite work in the event loop, where waiting up
    to SQLITE_BUSY_TIMEOUT_SECONDS for another process's write lock would
    stall every request and WebSocket session of the process. It catches
    LockNotAvailable and runs the request again in a worker thread, outside
    this context, where statements wait as usual. Other databases ignore it.
    """
    token = _lock_wait.set(False)
    try:
        yield
    finally:
        _lock_wait.reset(token)


def defer_checkpoints(engine):
    """Make the SQLite connections of ``engine`` leave WAL checkpoints to checkpoint().

    A checkpoint writes the WAL back into the database file and syncs both
    to disk. By default the commit that grows the WAL past SQLite's 1000
    pages does that work, several milliseconds with the syncs, before it
    returns. A caller that commits in an event loop runs checkpoint() in a
    worker thread instead, and commits checkpoint only past
    DEFERRED_WAL_AUTOCHECKPOINT_PAGES.
    """
    _deferred_checkpoint_engines.add(engine)


def checkpoint(engine):
    """Run a PASSIVE WAL checkpoint, which waits for no reader or writer.

    Returns SQLite's (busy, WAL pages, pages checkpointed) row.
    """
    with engine.connect() as connection:
        return tuple(connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one())


def raise_if_lock_not_available(error):
    """Raise LockNotAvailable for a DBAPI error that no_lock_wait() caused; else do nothing."""
    if not _lock_wait.get() and is_sqlite_busy(error):
        raise LockNotAvailable(str(error)) from error


def is_sqlite_busy(error):
    """Return whether a DBAPI error is SQLite's SQLITE_BUSY ("database is locked")."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    name = getattr(error, "sqlite_errorname", None)
    if name is not None:
        return name.startswith("SQLITE_BUSY")
    return str(error).startswith("database is locked")


@functools.lru_cache(maxsize=REGEXP_CACHE_SIZE)
def _compile_regexp(pattern):
    return re2.compile(pattern, options=_RE2_OPTIONS)


def sqlite_regexp(pattern, value):
    """Return whether ``pattern`` matches anywhere in ``value``, as SQLite's REGEXP(pattern, value).

    SQLite has no REGEXP of its own, and SQLAlchemy's pysqlite dialect
    defines one on Python's backtracking re, on which a client's filter such
    as ``(a+)+$`` takes exponential time. RE2 matches in linear time. A
    pattern that RE2 rejects raises re2.error, which SQLite reports as an
    OperationalError; callers check patterns first. PostgreSQL and MySQL
    use their own regular expression operators.
    """
    if pattern is None or value is None:
        return None
    return _compile_regexp(pattern).search(str(value)) is not None


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
        # This replaces the REGEXP that the dialect's own connect hook defined earlier.
        dbapi_connection.create_function("regexp", 2, sqlite_regexp, deterministic=True)

    busy_timeout_ms = int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)

    @event.listens_for(engine, "checkout")
    def _apply_connection_settings(dbapi_connection, record, _proxy):
        # A pooled connection keeps its settings, so each changes only when a
        # connection moves into or out of no_lock_wait(), or once after
        # defer_checkpoints().
        wait = _lock_wait.get()
        if record.info.get("lock_wait", True) != wait:
            timeout_ms = busy_timeout_ms if wait else 0
            dbapi_connection.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            record.info["lock_wait"] = wait
        if engine in _deferred_checkpoint_engines:
            if record.info.get("wal_autocheckpoint") != DEFERRED_WAL_AUTOCHECKPOINT_PAGES:
                dbapi_connection.execute(
                    f"PRAGMA wal_autocheckpoint = {DEFERRED_WAL_AUTOCHECKPOINT_PAGES}"
                )
                record.info["wal_autocheckpoint"] = DEFERRED_WAL_AUTOCHECKPOINT_PAGES

    @event.listens_for(engine, "handle_error")
    def _raise_lock_not_available(context):
        raise_if_lock_not_available(context.original_exception)

    return engine


def create_sessionmaker(engine):
    return sessionmaker(bind=engine, expire_on_commit=False)


def _hide_password(url):
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url

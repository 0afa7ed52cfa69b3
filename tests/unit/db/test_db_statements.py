"""SQLite engine settings and db.statements: rows, errors, lock waits and checkpoints."""

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from rdpconsole.db import api as db_api
from rdpconsole.db import engine as engine_module
from rdpconsole.db import models
from rdpconsole.domain import consoles
from rdpconsole.domain import exceptions
from rdpconsole.domain import servers


@pytest.fixture
def database(tmp_path):
    database = db_api.Database(f"sqlite:///{tmp_path / 'rdpconsole.sqlite'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def server(database):
    return servers.ServerRepository(database.sessionmaker).create(
        name="web1", project_id="a1b2c3", user_id="alice", console_host="10.0.0.5",
        host="hyperv1", vm_id="5e3a1b0c-0000-4000-8000-00000000a1b2", metadata={"role": "web"},
    )


def hold_write_lock(database):
    connection = sqlite3.connect(database.engine.url.database, isolation_level=None,
                                 check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")
    return connection


def release(connection):
    connection.execute("ROLLBACK")
    connection.close()


def orm_values(database, model, **where):
    with database.sessionmaker() as session:
        row = session.scalars(sa.select(model).filter_by(**where)).one()
        return {name: getattr(row, name) for name in sa.inspect(model).attrs.keys()}


def test_server_row_matches_orm(database, server):
    row = servers.ServerRepository(database.sessionmaker).get(server.uuid)

    assert row._asdict() == orm_values(database, models.Server, uuid=server.uuid)
    assert row.metadata_ == {"role": "web"}
    assert type(row.created_at) is type(server.created_at)


def test_project_lookup_has_same_row_type(database, server):
    repository = servers.ServerRepository(database.sessionmaker)

    assert type(repository.get(server.uuid, project_id="a1b2c3")) is type(repository.get(server.uuid))
    with pytest.raises(exceptions.InstanceNotFound):
        repository.get(server.uuid, project_id="d4e5f6")


def test_token_row_matches_orm(database, server):
    service = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/")
    record = service.validate(service.authorize(server, "rdp-html5"))

    assert record._asdict() == orm_values(database, models.ConsoleAuthToken, id=record.id)
    assert record.created_at is not None


def test_driver_error_wrapped_like_sqlalchemy(database, server):
    insert = consoles._INSERT_TOKEN
    values = {"token_hash": "x", "console_type": "rdp-html5", "host": "h", "port": 1,
              "internal_access_path": None, "instance_uuid": "no-such-server",
              "access_url_base": "", "expires": 0, "created_at": models.utcnow()}

    with pytest.raises(sa.exc.IntegrityError) as caught:
        insert.execute_in_transaction(database.engine, values)
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)


def test_no_lock_wait_raises_at_once(database, server):
    service = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/")
    lock = hold_write_lock(database)
    try:
        started = time.monotonic()
        with pytest.raises(engine_module.LockNotAvailable):
            with engine_module.no_lock_wait():
                service.authorize(server, "rdp-html5")
        elapsed = time.monotonic() - started
    finally:
        release(lock)

    assert elapsed < 1.0


def test_no_lock_wait_covers_sessions(database, server):
    lock = hold_write_lock(database)
    try:
        with pytest.raises(engine_module.LockNotAvailable):
            with engine_module.no_lock_wait():
                consoles.ConsoleService(database.sessionmaker, "").delete_for_server(server.uuid)
    finally:
        release(lock)


def test_writer_waits_for_lock_outside_no_lock_wait(database, server):
    service = consoles.ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/")
    with engine_module.no_lock_wait():
        # The pooled connection now has no busy timeout; ordinary use must restore it.
        service.validate(service.authorize(server, "rdp-html5"))
    lock = hold_write_lock(database)
    threading.Timer(0.3, release, [lock]).start()

    token = service.authorize(server, "rdp-html5")

    assert service.validate(token).instance_uuid == server.uuid


def test_deferred_checkpoints_raise_threshold(database):
    database.defer_checkpoints()

    with database.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == engine_module.DEFERRED_WAL_AUTOCHECKPOINT_PAGES


def test_checkpoint_empties_wal(database, server):
    busy, wal_pages, checkpointed = database.checkpoint()

    assert busy == 0
    assert checkpointed == wal_pages

"""Tests of the RE2-based REGEXP function that SQLite connections get."""

import time

from rdpconsole.db import api as db_api
from rdpconsole.domain import exceptions
from rdpconsole.domain import servers as servers_module

import pytest


@pytest.fixture
def repository(tmp_path):
    database = db_api.Database(f"sqlite:///{tmp_path / 'regexp.sqlite'}")
    database.upgrade()
    yield servers_module.ServerRepository(database.sessionmaker)
    database.dispose()


def create(repository, name, **fields):
    return repository.create(name=name, project_id="p", user_id="u", console_host="127.0.0.1",
                             host="h1", **fields)


def test_name_filter_unanchored(repository):
    create(repository, "web-1")
    create(repository, "db-1")

    names = [server.name for server in repository.list(name_regex="b-")]

    assert sorted(names) == ["db-1", "web-1"]


def test_backtracking_pattern_is_fast(repository):
    create(repository, "a" * 34 + "!")

    started = time.monotonic()
    result = repository.list(name_regex="(a+)+$")
    elapsed = time.monotonic() - started

    assert result == []
    # Python's backtracking engine needs minutes here; RE2 is linear.
    assert elapsed < 5


def test_backreference_rejected(repository):
    with pytest.raises(exceptions.Invalid):
        repository.list(name_regex=r"(a)\1")


def test_deleted_server_hidden_on_request(repository):
    server = create(repository, "gone", status="DELETED")

    with pytest.raises(exceptions.InstanceNotFound):
        repository.get(server.uuid, include_deleted=False)
    assert repository.get(server.uuid).uuid == server.uuid

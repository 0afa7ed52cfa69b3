"""Token validation at the gateway: the database backend and the Compute API backend."""

import asyncio
import time

import pytest

from rdpconsole.db.api import Database
from rdpconsole.db import models
from rdpconsole.domain.consoles import ConsoleService
from rdpconsole.domain.servers import ServerRepository
from rdpconsole.gateway import errors
from rdpconsole.gateway.compute_api import NOT_AN_RDP_TOKEN_MESSAGE
from rdpconsole.gateway.compute_api import ComputeApiTokenValidator
from rdpconsole.gateway.tokens import ConsoleTarget
from rdpconsole.gateway.tokens import DatabaseTokenValidator

TOKEN = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SERVER_ID = "7e0d4f1c-0000-4000-8000-00000000000a"


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'rdpconsole.sqlite'}")
    database.upgrade()
    yield database
    database.dispose()


def issue(database, clock=time.time, console_type="rdp-html5", vm_id=None):
    server = ServerRepository(database.sessionmaker).create(
        name="server", project_id="project-a", user_id="user-a", console_host="2001:db8::5",
        console_port=3389, host="compute-1", vm_id=vm_id,
    )
    return ConsoleService(database.sessionmaker, "http://127.0.0.1:6083/", clock=clock).authorize(
        server, console_type
    ), server


def validate(validator, token):
    return asyncio.run(validator.validate(token))


def test_database_valid_token(database):
    token, server = issue(database)

    target = validate(DatabaseTokenValidator(database), token)

    assert target == ConsoleTarget(
        instance_uuid=server.uuid, project_id="project-a", host="2001:db8::5", port=3389,
        internal_access_path=None,
    )


def test_database_hyperv_path(database):
    token, _ = issue(database, vm_id="6a7f3e1c-0000-4000-8000-000000000000")

    target = validate(DatabaseTokenValidator(database), token)

    assert target.internal_access_path == "6a7f3e1c-0000-4000-8000-000000000000"


def test_database_expired_token(database):
    token, _ = issue(database, clock=lambda: time.time() - 3600)

    with pytest.raises(errors.TokenInvalid):
        validate(DatabaseTokenValidator(database), token)


def test_database_unknown_token(database):
    with pytest.raises(errors.TokenInvalid):
        validate(DatabaseTokenValidator(database), TOKEN)


def test_database_other_console_type(database):
    token, _ = issue(database, console_type="novnc")

    with pytest.raises(errors.ConsoleTypeForbidden):
        validate(DatabaseTokenValidator(database), token)


def test_database_failure(database):
    validator = DatabaseTokenValidator(database)
    with database.engine.begin() as connection:
        models.ConsoleAuthToken.__table__.drop(connection)

    with pytest.raises(errors.TokenBackendError) as raised:
        validate(validator, TOKEN)

    assert raised.value.http_status_code == 503
    assert TOKEN not in str(raised.value)


class FakeResponse:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeAdapter:
    """A keystoneauth1 Adapter stand-in that returns canned responses to GET, chosen by path."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get(self, path, **options):
        self.calls.append((path, options))
        answer = self.answers.get(path.split("/")[1], FakeResponse(404, {}))
        if isinstance(answer, Exception):
            raise answer
        return answer


def console(port=3389, path=None):
    return {"console": {"instance_uuid": SERVER_ID, "host": "10.0.0.5", "port": port,
                        "internal_access_path": path}}


def test_compute_api_valid_token():
    adapter = FakeAdapter({
        "os-console-auth-tokens": FakeResponse(200, console()),
        "servers": FakeResponse(200, {"server": {"tenant_id": "project-b"}}),
    })

    target = validate(ComputeApiTokenValidator(adapter), TOKEN)

    assert target == ConsoleTarget(SERVER_ID, "project-b", "10.0.0.5", 3389, None)
    assert adapter.calls[0] == (f"/os-console-auth-tokens/{TOKEN}", {"raise_exc": False, "log": False})


def test_compute_api_port_as_string():
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(200, console(port="2179"))})

    assert validate(ComputeApiTokenValidator(adapter), TOKEN).port == 2179


def test_compute_api_project_unknown():
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(200, console())})

    assert validate(ComputeApiTokenValidator(adapter), TOKEN).project_id is None


def test_compute_api_unknown_token():
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(404, {"itemNotFound": {}})})

    with pytest.raises(errors.TokenInvalid):
        validate(ComputeApiTokenValidator(adapter), TOKEN)


def test_compute_api_other_console_type():
    body = {"unauthorized": {"code": 401, "message": NOT_AN_RDP_TOKEN_MESSAGE}}
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(401, body)})

    with pytest.raises(errors.TokenInvalid):
        validate(ComputeApiTokenValidator(adapter), TOKEN)


@pytest.mark.parametrize(("status", "hint"), [(401, "credentials"), (403, "admin role"), (400, "29.0.0"),
                                              (500, "log")])
def test_compute_api_errors(status, hint):
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(status, {"error": {}})})

    with pytest.raises(errors.TokenBackendError) as raised:
        validate(ComputeApiTokenValidator(adapter), TOKEN)

    assert raised.value.http_status_code == 502
    assert hint in str(raised.value)


def test_compute_api_bad_body():
    adapter = FakeAdapter({"os-console-auth-tokens": FakeResponse(200, {"console": {"host": ""}})})

    with pytest.raises(errors.TokenBackendError):
        validate(ComputeApiTokenValidator(adapter), TOKEN)


def test_compute_api_connection_error_hides_token():
    from keystoneauth1 import exceptions as ks_exceptions

    failure = ks_exceptions.ConnectFailure(f"Unable to establish connection to http://api/os-console-auth-tokens/{TOKEN}")
    adapter = FakeAdapter({"os-console-auth-tokens": failure})

    with pytest.raises(errors.TokenBackendError) as raised:
        validate(ComputeApiTokenValidator(adapter), TOKEN)

    assert TOKEN not in str(raised.value)

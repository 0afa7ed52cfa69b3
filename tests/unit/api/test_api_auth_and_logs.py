"""The keystone auth strategy's wiring, and the log lines an operator reads."""

import logging
import re

import pytest

from api_helpers import OTHER_PROJECT
from api_helpers import PROJECT
from api_helpers import auth

KEYSTONE_OPTIONS = {
    "api": {"auth_strategy": "keystone"},
    "keystone_authtoken": {
        "www_authenticate_uri": "http://127.0.0.1:1/identity",
        "auth_url": "http://127.0.0.1:1/identity",
        "auth_type": "password",
        "username": "nova",
        "password": "unused",
        "project_name": "service",
        "http_connect_timeout": 1,
        "http_request_max_retries": 0,
    },
}


@pytest.fixture
def keystone_api(make_api):
    return make_api(KEYSTONE_OPTIONS)


def test_keystone_without_token_is_401(keystone_api):
    response = keystone_api.client.get("/v2.1/servers")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
    assert response.headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:1/identity"'
    assert response.headers["Content-Type"] == "application/json"


def test_noauth2_401_matches_keystonemiddleware(api, keystone_api):
    noauth = api.client.get("/v2.1/servers")
    keystone = keystone_api.client.get("/v2.1/servers")

    assert noauth.content == keystone.content
    assert noauth.headers["Content-Type"] == keystone.headers["Content-Type"]


def test_keystone_ignores_noauth_tokens(keystone_api):
    keystone_api.create_server()
    response = keystone_api.client.get("/v2.1/servers", headers={"X-Auth-Token": ""})

    assert response.status_code == 401


def test_keystone_version_documents_need_no_token(keystone_api):
    assert keystone_api.client.get("/v2.1/").status_code == 200
    assert keystone_api.client.get("/").status_code == 200


def access_lines(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "rdpconsole.api.access"]


def test_access_line_per_request(api, caplog):
    caplog.set_level(logging.INFO, logger="rdpconsole.api.access")
    response = api.client.get("/v2.1/servers", headers=auth())

    lines = access_lines(caplog)
    assert len(lines) == 1
    request_id = response.headers["x-openstack-request-id"]
    assert re.match(
        rf'^\[{request_id}\] testclient "GET /v2.1/servers" status: 200 len: \d+ '
        r"microversion: 2\.1 time: \d+\.\d ms$",
        lines[0],
    )


def test_access_line_for_refused_request(api, caplog):
    caplog.set_level(logging.INFO, logger="rdpconsole.api.access")
    api.client.get("/v2.1/servers")

    assert 'status: 401' in access_lines(caplog)[0]


def test_refused_console_is_logged(api, caplog):
    caplog.set_level(logging.INFO, logger="rdpconsole.api")
    building = api.create_server(host=None)
    api.client.post(
        f"/v2.1/servers/{building.uuid}/action",
        json={"os-getRDPConsole": {"type": "rdp-html5"}},
        headers=auth(),
    )

    refusals = [record.getMessage() for record in caplog.records if "Refused" in record.getMessage()]
    assert refusals == [
        f"Refused rdp-html5 console for server {building.uuid} of project {PROJECT} "
        f"requested by user alice of project {PROJECT}: Instance {building.uuid} is not ready"
    ]


def test_refused_console_of_hidden_server_is_logged(api, caplog):
    caplog.set_level(logging.INFO, logger="rdpconsole.api")
    other = api.create_server(project_id=OTHER_PROJECT)
    api.client.post(
        f"/v2.1/servers/{other.uuid}/remote-consoles",
        json={"remote_console": {"protocol": "rdp", "type": "rdp-html5"}},
        headers={**auth(), "OpenStack-API-Version": "compute 2.6"},
    )

    refusals = [record.getMessage() for record in caplog.records if "Refused" in record.getMessage()]
    assert len(refusals) == 1
    assert other.uuid in refusals[0]
    assert "could not be found" in refusals[0]

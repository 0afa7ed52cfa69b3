"""GET /os-console-auth-tokens/{token}: admin-only token resolution, expiry,
purge, deletion with the server, and logs that never show a clear token."""

import logging
import time

import pytest

from api_helpers import ADMIN
from api_helpers import at_version
from api_helpers import auth

NOT_FOUND = {"itemNotFound": {"code": 404, "message": "Token not found"}}
RDP_REMOTE = {"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}


def issue(api, server):
    response = api.client.post(
        f"/v2.1/servers/{server.uuid}/remote-consoles", json=RDP_REMOTE, headers=at_version("2.6")
    )
    return response.json()["remote_console"]["url"].split("token=", 1)[1]


def lookup(api, token, headers=None, prefix="/v2.1"):
    return api.client.get(f"{prefix}/os-console-auth-tokens/{token}", headers=headers or ADMIN)


def expected_console(server):
    return {
        "console": {
            "instance_uuid": server.uuid,
            "host": "10.0.0.5",
            "port": 2179,
            "internal_access_path": "5e3a1b0c-0000-4000-8000-00000000a1b2",
        }
    }


@pytest.mark.parametrize("version", ["2.1", "2.30", "2.31", "2.95"])
def test_admin_resolves_token(api, server, version):
    token = issue(api, server)
    response = lookup(api, token, headers=at_version(version, ADMIN))

    assert response.status_code == 200
    assert response.json() == expected_console(server)


def test_token_url_project_mismatch(api, server):
    token = issue(api, server)
    response = lookup(api, token, prefix="/v2.1/ad")

    assert response.status_code == 400


def test_null_internal_access_path(api):
    server = api.create_server(vm_id=None, console_port=3389)
    response = lookup(api, issue(api, server))

    assert response.json()["console"]["internal_access_path"] is None
    assert response.json()["console"]["port"] == 3389


def test_token_is_reusable(api, server):
    token = issue(api, server)

    assert lookup(api, token).status_code == 200
    assert lookup(api, token).status_code == 200


def test_owner_cannot_resolve_token(api, server):
    token = issue(api, server)
    response = lookup(api, token, headers=auth())

    assert response.status_code == 403
    assert response.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:os-console-auth-tokens to be performed.",
        }
    }


def test_policy_checked_before_lookup(api):
    response = lookup(api, "no-such-token", headers=auth())

    assert response.status_code == 403


@pytest.mark.parametrize("token", ["no-such-token", "00000000-0000-4000-8000-000000000000", "%20"])
def test_unknown_token(api, token):
    response = lookup(api, token)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_empty_token_matches_no_route(api):
    response = api.client.get("/v2.1/os-console-auth-tokens/", headers=ADMIN)

    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }


def test_token_expires_after_ttl(api, server):
    token = issue(api, server)

    api.clock.advance(599)
    assert lookup(api, token).status_code == 200
    api.clock.advance(1)
    response = lookup(api, token)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_token_ttl_from_config(make_api):
    api = make_api({"consoleauth": {"token_ttl": 30}})
    token = issue(api, api.create_server())

    api.clock.advance(30)
    assert lookup(api, token).status_code == 404


def test_non_rdp_token_hidden_before_231(api, server):
    token = api.app.state.console_service.authorize(server, "novnc")
    response = lookup(api, token, headers=at_version("2.30", ADMIN))

    assert response.status_code == 401
    assert response.json() == {
        "unauthorized": {
            "code": 401,
            "message": "The requested console type details are not accessible",
        }
    }
    assert "WWW-Authenticate" not in response.headers


def test_non_rdp_token_shown_from_231(api, server):
    token = api.app.state.console_service.authorize(server, "novnc")
    response = lookup(api, token, headers=at_version("2.31", ADMIN))

    assert response.status_code == 200
    assert response.json() == expected_console(server)


def test_deleting_server_deletes_tokens(api, server):
    token = issue(api, server)
    api.servers.delete(server.uuid)

    assert api.token_count() == 0
    assert lookup(api, token).json() == NOT_FOUND


def test_periodic_purge_deletes_expired_tokens(make_api):
    api = make_api({"consoleauth": {"purge_interval": 1}})
    server = api.create_server()
    issue(api, server)
    fresh_server = api.create_server(name="web2")

    api.clock.advance(600)
    issue(api, fresh_server)
    deadline = time.monotonic() + 10
    while api.token_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert api.token_count() == 1


def test_purge_disabled_keeps_expired_rows(api, server):
    issue(api, server)
    api.clock.advance(3600)
    time.sleep(1.2)

    assert api.token_count() == 1


def test_logs_never_show_clear_token(api, server, caplog):
    caplog.set_level(logging.DEBUG)
    token = issue(api, server)
    lookup(api, token)
    lookup(api, token, headers=auth())
    api.clock.advance(600)
    lookup(api, token)

    # httpx, the test client, logs the URLs it requests; the service must not.
    service_lines = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
    )
    assert token not in service_lines
    assert token.split("-")[0] not in service_lines


def test_access_log_names_token_by_hash_prefix(api, server, caplog):
    from rdpconsole.domain import consoles

    token = issue(api, server)
    caplog.set_level(logging.INFO, logger="rdpconsole.api.access")
    lookup(api, token)

    prefix = consoles.token_log_id(token=token)
    assert f"/os-console-auth-tokens/<token {prefix}>" in caplog.text

"""Request processing common to every v2.1 route: URL forms, Content-Type,
bodies, actions, methods and authentication, in Nova's order of checks."""

import json

import pytest

from api_helpers import ADMIN
from api_helpers import at_version
from api_helpers import auth

GENERIC_NOT_FOUND = {"itemNotFound": {"code": 404, "message": "The resource could not be found."}}
MALFORMED = {"badRequest": {"code": 400, "message": "Malformed request body"}}
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}
RDP_BODY = {"os-getRDPConsole": {"type": "rdp-html5"}}


def post_raw(api, path, content, headers=None, content_type="application/json"):
    headers = dict(headers or auth())
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post(path, content=content, headers=headers)


@pytest.mark.parametrize("prefix", ["/v2.1", "/v2.1/a1b2c3"])
def test_both_url_forms_list_servers(api, server, prefix):
    response = api.client.get(f"{prefix}/servers", headers=auth())

    assert response.status_code == 200
    assert [entry["id"] for entry in response.json()["servers"]] == [server.uuid]


@pytest.mark.parametrize("prefix", ["/v2.1", "/v2.1/a1b2c3"])
def test_both_url_forms_issue_console(api, server, prefix):
    response = api.client.post(f"{prefix}/servers/{server.uuid}/action", json=RDP_BODY, headers=auth())

    assert response.status_code == 200


def test_project_id_mismatch(api, server):
    response = api.client.post(
        f"/v2.1/abcdef/servers/{server.uuid}/action", json=RDP_BODY, headers=auth()
    )

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {
            "code": 400,
            "message": "Malformed request URL: URL's project_id 'abcdef' doesn't match "
            "Context's project_id 'a1b2c3'",
        }
    }
    assert api.token_count() == 0


def test_project_segment_must_be_hex(api):
    # "admin" is not [0-9a-f-]+, so the URL matches no route at all.
    response = api.client.get("/v2.1/admin/servers", headers=ADMIN)

    assert response.status_code == 404
    assert response.json() == GENERIC_NOT_FOUND


def test_unknown_route_is_generic_404(api):
    response = api.client.get("/v2.1/flavors", headers=auth())

    assert response.status_code == 404
    assert response.json() == GENERIC_NOT_FOUND
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("DELETE", "/v2.1/servers/00000000-0000-0000-0000-000000000000", "GET"),
        ("POST", "/v2.1/servers", "GET"),
        ("GET", "/v2.1/servers/00000000-0000-0000-0000-000000000000/action", "POST"),
        ("PUT", "/v2.1/a1b2c3/servers/00000000-0000-0000-0000-000000000000/remote-consoles", "POST"),
        ("DELETE", "/v2.1/os-console-auth-tokens/abc", "GET"),
    ],
)
def test_wrong_method_is_405(api, method, path, allow):
    response = api.client.request(method, path, headers=auth())

    assert response.status_code == 405
    assert response.json() == {
        "badMethod": {"code": 405, "message": f"The method {method} is not allowed for this resource."}
    }
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    "content_type",
    ["application/xml", "text/html", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_unsupported_content_type_is_415(api, server, content_type):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/action", json.dumps(RDP_BODY), content_type=content_type
    )

    assert response.status_code == 415
    assert response.json() == {"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}}
    assert api.token_count() == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=UTF-8",
        "application/vnd.openstack.compute+json",
        "text/plain",
        "",
        None,
    ],
)
def test_accepted_content_types(api, server, content_type):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/action", json.dumps(RDP_BODY), content_type=content_type
    )

    assert response.status_code == 200


def test_content_type_checked_on_get(api):
    response = api.client.get("/v2.1/servers", headers={**auth(), "Content-Type": "application/xml"})

    assert response.status_code == 415


@pytest.mark.parametrize(
    "content, status, body",
    [
        ('{"os-getRDPConsole": {"type": "rdp-html5"}', 400, MALFORMED),
        ("{", 400, MALFORMED),
        ("not json", 400, MALFORMED),
        ("", 400, MALFORMED),
        (b"\xff\xfe{}", 400, MALFORMED),
        ("{}", 400, MALFORMED),
        ('{"os-getRDPConsole": {"type": "rdp-html5"}, "os-getVNCConsole": {"type": "novnc"}}',
         400, MALFORMED),
        ('"ab"', 400, MALFORMED),
        ("[1, 2]", 400, MALFORMED),
        ("null", 404, GENERIC_NOT_FOUND),
        ("42", 404, GENERIC_NOT_FOUND),
        ("true", 404, GENERIC_NOT_FOUND),
        ('"a"', 404, GENERIC_NOT_FOUND),
        ("[1]", 404, GENERIC_NOT_FOUND),
        ('{"os-stop": null}', 400,
         {"badRequest": {"code": 400, "message": "There is no such action: os-stop"}}),
        ('{"getRDPConsole": {"type": "rdp-html5"}}', 400,
         {"badRequest": {"code": 400, "message": "There is no such action: getRDPConsole"}}),
        ('{"os-getRDPConsole": null}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute "
                         "os-getRDPConsole. Value: None. None is not of type 'object'"}}),
        ('{"os-getRDPConsole": []}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute "
                         "os-getRDPConsole. Value: []. [] is not of type 'object'"}}),
        ('{"os-getRDPConsole": {}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute "
                         "os-getRDPConsole. Value: {}. 'type' is a required property"}}),
        ('{"os-getRDPConsole": {"type": "foo"}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute type. "
                         "Value: foo. 'foo' is not one of ['rdp-html5']"}}),
        ('{"os-getRDPConsole": {"type": 5}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute type. "
                         "Value: 5. 5 is not of type 'string'"}}),
        ('{"os-getRDPConsole": {"type": null}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute type. "
                         "Value: None. None is not of type 'string'"}}),
        ('{"os-getRDPConsole": {"type": "novnc"}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute type. "
                         "Value: novnc. 'novnc' is not one of ['rdp-html5']"}}),
        ('{"os-getRDPConsole": {"type": "rdp-html5", "x": 1}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute "
                         "os-getRDPConsole. Value: {'type': 'rdp-html5', 'x': 1}. Additional "
                         "properties are not allowed ('x' was unexpected)"}}),
        ('{"os-getRDPConsole": {"type": "rdp-html5", "extra": true}}', 400,
         {"badRequest": {"code": 400, "message": "Invalid input for field/attribute "
                         "os-getRDPConsole. Value: {'type': 'rdp-html5', 'extra': True}. "
                         "Additional properties are not allowed ('extra' was unexpected)"}}),
    ],
)
def test_malformed_action_bodies(api, server, content, status, body):
    response = post_raw(api, f"/v2.1/servers/{server.uuid}/action", content)

    assert response.status_code == status
    assert response.json() == body
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert api.token_count() == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "None is not of type 'object'"),
        ("null", "None is not of type 'object'"),
        ("{}", "'remote_console' is a required property"),
        ("[]", "[] is not of type 'object'"),
        ('{"remote_console": {"protocol": "rdp", "type": "rdp-html5"}, "x": 1}',
         "Additional properties are not allowed ('x' was unexpected)"),
        ('{"remote_console": {"protocol": "rdp"}}',
         "Invalid input for field/attribute remote_console. Value: {'protocol': 'rdp'}. "
         "'type' is a required property"),
        ('{"remote_console": {"type": "rdp-html5"}}',
         "Invalid input for field/attribute remote_console. Value: {'type': 'rdp-html5'}. "
         "'protocol' is a required property"),
        ('{"remote_console": {"protocol": "rdp", "type": "rdp-html5", "x": 1}}',
         "Invalid input for field/attribute remote_console. Value: "
         "{'protocol': 'rdp', 'type': 'rdp-html5', 'x': 1}. "
         "Additional properties are not allowed ('x' was unexpected)"),
        ('{"remote_console": {"protocol": "RDP", "type": "rdp-html5"}}',
         "Invalid input for field/attribute protocol. Value: RDP. "
         "'RDP' is not one of ['vnc', 'spice', 'rdp', 'serial', 'mks']"),
        ('{"remote_console": {"protocol": "rdp", "type": "spice-direct"}}',
         "Invalid input for field/attribute type. Value: spice-direct. 'spice-direct' is not "
         "one of ['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial', 'webmks']"),
    ],
)
def test_malformed_remote_console_bodies(api, server, content, message):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/remote-consoles", content, headers=at_version("2.95")
    )

    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": message}}
    assert api.token_count() == 0


def test_truncated_remote_console_body(api, server):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/remote-consoles", '{"remote_console": {',
        headers=at_version("2.6"),
    )

    assert response.status_code == 400
    assert response.json() == MALFORMED


def test_mks_protocol_needs_28(api, server):
    response = api.client.post(
        f"/v2.1/servers/{server.uuid}/remote-consoles",
        json={"remote_console": {"protocol": "mks", "type": "webmks"}},
        headers=at_version("2.7"),
    )

    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        "Invalid input for field/attribute protocol. Value: mks. "
        "'mks' is not one of ['vnc', 'spice', 'rdp', 'serial']"
    )


def test_body_passed_at_28_still_checked_at_27(api, server):
    path = f"/v2.1/servers/{server.uuid}/remote-consoles"
    body = {"remote_console": {"protocol": "mks", "type": "webmks"}}

    passed = api.client.post(path, json=body, headers=at_version("2.8"))
    refused = api.client.post(path, json=body, headers=at_version("2.7"))

    assert "Invalid input" not in passed.text
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"].startswith(
        "Invalid input for field/attribute protocol. Value: mks."
    )


def test_invalid_body_refused_every_time(api, server):
    path = f"/v2.1/servers/{server.uuid}/remote-consoles"
    body = {"remote_console": {"protocol": "rdp", "type": "vnc"}}

    first = api.client.post(path, json=body, headers=at_version("2.6"))
    second = api.client.post(path, json=body, headers=at_version("2.6"))

    assert first.status_code == 400
    assert second.json() == first.json()


def test_body_too_large_is_413(api, server):
    content = json.dumps({"os-getRDPConsole": {"type": "rdp-html5", "pad": "x" * 120_000}})
    response = post_raw(api, f"/v2.1/servers/{server.uuid}/action", content)

    assert response.status_code == 413
    assert response.json() == {"overLimit": {"code": 413, "message": "Request is too large."}}


def test_content_type_checked_before_action(api, server):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/action", "{", content_type="application/xml"
    )

    assert response.status_code == 415


def test_version_checked_before_body(api, server):
    response = post_raw(
        api, f"/v2.1/servers/{server.uuid}/action", "{", headers=at_version("2.99")
    )

    assert response.status_code == 406


def test_action_lookup_before_project_check(api, server):
    response = post_raw(api, f"/v2.1/abcdef/servers/{server.uuid}/action", '{"os-nope": {}}')

    assert response.json() == {
        "badRequest": {"code": 400, "message": "There is no such action: os-nope"}
    }


def test_project_check_before_version_range(api, server):
    response = api.client.post(
        f"/v2.1/abcdef/servers/{server.uuid}/action", json=RDP_BODY, headers=at_version("2.6")
    )

    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1/a1b2c3/servers/detail"])
def test_missing_token_is_401(api, path):
    response = api.client.get(path)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == 'Keystone uri="http://testserver/"'
    assert "OpenStack-API-Version" not in response.headers


def test_empty_token_is_401(api):
    response = api.client.get("/v2.1/servers", headers={"X-Auth-Token": ""})

    assert response.status_code == 401


def test_token_without_colon_uses_user_as_project(api, make_api):
    api.create_server(project_id="bob")
    response = api.client.get("/v2.1/servers", headers={"X-Auth-Token": "bob"})

    assert len(response.json()["servers"]) == 1


def test_x_roles_replaces_roles(api, server):
    headers = {**auth(), "X-Roles": "reader"}
    response = api.client.post(f"/v2.1/servers/{server.uuid}/action", json=RDP_BODY, headers=headers)

    assert response.status_code == 403


def test_x_roles_can_grant_admin(api, server):
    headers = {**auth("carol", "p9"), "X-Roles": "admin, member"}
    response = api.client.get(f"/v2.1/servers/{server.uuid}", headers=headers)

    assert response.status_code == 200


def test_unexpected_error_is_500_compute_fault(api, server, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(api.app.state.console_service, "get_rdp_console", explode)
    response = api.client.post(f"/v2.1/servers/{server.uuid}/action", json=RDP_BODY, headers=auth())

    assert response.status_code == 500
    assert response.json() == {
        "computeFault": {
            "code": 500,
            "message": "Unexpected API Error. Please report this at the rdpconsole issue "
            "tracker and attach the rdpconsole API log if possible.\n<class 'RuntimeError'>",
        }
    }
    assert response.headers["OpenStack-API-Version"] == "compute 2.1"


def test_success_content_type(api):
    response = api.client.get("/v2.1/servers", headers=auth())

    assert response.headers["Content-Type"] == "application/json"

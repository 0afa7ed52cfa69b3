"""Console URLs: the legacy server actions (2.1-2.5) and POST remote-consoles (2.6+),
with every error row of Nova 28.0.0's get_rdp_console paths."""

import re
import uuid

import pytest

from api_helpers import ADMIN
from api_helpers import OTHER_PROJECT
from api_helpers import PROJECT
from api_helpers import at_version
from api_helpers import auth

URL = re.compile(r"^http://127\.0\.0\.1:6083/\?token=([0-9a-f-]{36})$")
MISSING_ID = "0b0b0b0b-0000-4000-8000-000000000000"
POLICY_MESSAGE = "Policy doesn't allow os_compute_api:os-remote-consoles to be performed."
RDP_ACTION = {"os-getRDPConsole": {"type": "rdp-html5"}}
RDP_REMOTE = {"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}
READER = {**auth(), "X-Roles": "reader"}


def legacy(api, server_id, body=None, headers=None, prefix="/v2.1"):
    return api.client.post(
        f"{prefix}/servers/{server_id}/action", json=body or RDP_ACTION, headers=headers or auth()
    )


def remote(api, server_id, body=None, headers=None, version="2.6", prefix="/v2.1"):
    return api.client.post(
        f"{prefix}/servers/{server_id}/remote-consoles",
        json=body or RDP_REMOTE,
        headers=at_version(version, headers),
    )


def fault(name, code, message):
    return {name: {"code": code, "message": message}}


def resolve(api, url):
    token = URL.match(url).group(1)
    return api.client.get(f"/v2.1/os-console-auth-tokens/{token}", headers=ADMIN)


# Legacy action, microversions 2.1 to 2.5.

@pytest.mark.parametrize("version", ["2.1", "2.5"])
@pytest.mark.parametrize("legacy_header", [False, True])
def test_legacy_rdp_console(api, server, version, legacy_header):
    response = legacy(api, server.uuid, headers=at_version(version, legacy=legacy_header))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["console"]
    assert body["console"]["type"] == "rdp-html5"
    assert URL.match(body["console"]["url"])
    assert uuid.UUID(URL.match(body["console"]["url"]).group(1)).version == 4
    assert api.token_count() == 1


def test_legacy_url_resolves_to_console_endpoint(api, server):
    url = legacy(api, server.uuid).json()["console"]["url"]
    response = resolve(api, url)

    assert response.status_code == 200
    assert response.json() == {
        "console": {
            "instance_uuid": server.uuid,
            "host": "10.0.0.5",
            "port": 2179,
            "internal_access_path": "5e3a1b0c-0000-4000-8000-00000000a1b2",
        }
    }


def test_legacy_with_project_in_url(api, server):
    response = legacy(api, server.uuid, prefix=f"/v2.1/{PROJECT}")

    assert response.status_code == 200


@pytest.mark.parametrize("version", ["2.6", "2.95", "latest"])
@pytest.mark.parametrize("legacy_header", [False, True])
def test_legacy_action_gone_from_26(api, server, version, legacy_header):
    response = legacy(api, server.uuid, headers=at_version(version, legacy=legacy_header))

    assert response.status_code == 404
    assert response.json() == fault("itemNotFound", 404, "The resource could not be found.")
    assert api.token_count() == 0


def test_legacy_version_range_before_schema(api, server):
    response = legacy(api, server.uuid, body={"os-getRDPConsole": {"type": "bad"}},
                      headers=at_version("2.6"))

    assert response.status_code == 404


def test_legacy_schema_before_policy(api):
    response = legacy(api, MISSING_ID, body={"os-getRDPConsole": {}}, headers=READER)

    assert response.status_code == 400


def test_legacy_policy_before_lookup(api):
    response = legacy(api, MISSING_ID, headers=READER)

    assert response.status_code == 403
    assert response.json() == fault("forbidden", 403, POLICY_MESSAGE)


def test_legacy_reader_is_forbidden(api, server):
    response = legacy(api, server.uuid, headers=READER)

    assert response.status_code == 403
    assert api.token_count() == 0


@pytest.mark.parametrize(
    "server_id",
    [MISSING_ID, "not-a-uuid", "12345"],
)
def test_legacy_unknown_server(api, server_id):
    response = legacy(api, server_id)

    assert response.status_code == 404
    assert response.json() == fault(
        "itemNotFound", 404, f"Instance {server_id} could not be found."
    )


def test_legacy_other_project_is_404(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = legacy(api, other.uuid)

    assert response.status_code == 404
    assert response.json() == fault(
        "itemNotFound", 404, f"Instance {other.uuid} could not be found."
    )
    assert api.token_count() == 0


def test_legacy_admin_reaches_other_project(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = legacy(api, other.uuid, headers=ADMIN)

    assert response.status_code == 200


def test_legacy_not_ready(api):
    building = api.create_server(host=None, status="BUILD")
    response = legacy(api, building.uuid)

    assert response.status_code == 409
    assert response.json() == fault(
        "conflictingRequest", 409, f"Instance {building.uuid} is not ready"
    )
    assert api.token_count() == 0


@pytest.mark.parametrize("task_state", ["deleting", "migrating"])
def test_legacy_rejected_task_state_is_409(api, task_state):
    busy = api.create_server(task_state=task_state)
    response = legacy(api, busy.uuid)

    assert response.status_code == 409
    assert response.json() == fault(
        "conflictingRequest", 409,
        f"Cannot 'get_rdp_console' instance {busy.uuid} while it is in task_state {task_state}",
    )
    assert api.token_count() == 0


@pytest.mark.parametrize("status", ["SHUTOFF", "PAUSED", "RESCUE", "ERROR", "SUSPENDED"])
def test_console_in_any_vm_state(api, status):
    stopped = api.create_server(status=status, task_state="powering-off")
    response = legacy(api, stopped.uuid)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "action, console_type",
    [
        ("os-getVNCConsole", "novnc"),
        ("os-getVNCConsole", "xvpvnc"),
        ("os-getSPICEConsole", "spice-html5"),
        ("os-getSerialConsole", "serial"),
    ],
)
def test_legacy_other_protocols_unavailable(api, server, action, console_type):
    response = legacy(api, server.uuid, body={action: {"type": console_type}})

    assert response.status_code == 400
    assert response.json() == fault(
        "badRequest", 400, f"Unavailable console type {console_type}."
    )
    assert api.token_count() == 0


@pytest.mark.parametrize(
    "action, console_type, bad_type, allowed",
    [
        ("os-getVNCConsole", "novnc", "rdp-html5", "['novnc', 'xvpvnc']"),
        ("os-getSPICEConsole", "spice-html5", "novnc", "['spice-html5']"),
        ("os-getSerialConsole", "serial", "spice-html5", "['serial']"),
    ],
)
def test_legacy_other_protocols_validated(api, server, action, console_type, bad_type, allowed):
    response = legacy(api, server.uuid, body={action: {"type": bad_type}})

    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        f"Invalid input for field/attribute type. Value: {bad_type}. "
        f"'{bad_type}' is not one of {allowed}"
    )


def test_legacy_other_protocol_not_ready_first(api):
    building = api.create_server(host=None)
    response = legacy(api, building.uuid, body={"os-getVNCConsole": {"type": "novnc"}})

    assert response.status_code == 409


def test_legacy_other_protocol_deleting(api):
    busy = api.create_server(task_state="deleting")
    response = legacy(api, busy.uuid, body={"os-getSerialConsole": {"type": "serial"}})

    assert response.json() == fault(
        "conflictingRequest", 409,
        f"Cannot 'get_serial_console' instance {busy.uuid} while it is in task_state deleting",
    )


def test_legacy_other_protocol_policy_first(api):
    response = legacy(api, MISSING_ID, body={"os-getVNCConsole": {"type": "novnc"}}, headers=READER)

    assert response.status_code == 403


# POST /servers/{id}/remote-consoles, microversion 2.6 and later.

@pytest.mark.parametrize("version", ["2.6", "2.8", "2.31", "2.95", "latest"])
def test_remote_console(api, server, version):
    response = remote(api, server.uuid, version=version)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["remote_console"]
    assert body["remote_console"]["protocol"] == "rdp"
    assert body["remote_console"]["type"] == "rdp-html5"
    assert URL.match(body["remote_console"]["url"])
    assert api.token_count() == 1


def test_remote_console_legacy_header(api, server):
    response = api.client.post(
        f"/v2.1/servers/{server.uuid}/remote-consoles", json=RDP_REMOTE,
        headers={**auth(), "X-OpenStack-Nova-API-Version": "2.6"},
    )

    assert response.status_code == 200


def test_remote_console_with_project_in_url(api, server):
    response = remote(api, server.uuid, prefix=f"/v2.1/{PROJECT}")

    assert response.status_code == 200
    assert resolve(api, response.json()["remote_console"]["url"]).status_code == 200


@pytest.mark.parametrize("version", ["2.1", "2.5"])
def test_remote_console_needs_26(api, server, version):
    response = remote(api, server.uuid, version=version)

    assert response.status_code == 404
    assert response.json() == fault("itemNotFound", 404, "The resource could not be found.")
    assert api.token_count() == 0


def test_remote_console_lookup_before_policy(api):
    response = remote(api, MISSING_ID, headers=READER)

    assert response.status_code == 404
    assert response.json() == fault(
        "itemNotFound", 404, f"Instance {MISSING_ID} could not be found."
    )


def test_remote_console_reader_is_forbidden(api, server):
    response = remote(api, server.uuid, headers=READER)

    assert response.status_code == 403
    assert response.json() == fault("forbidden", 403, POLICY_MESSAGE)
    assert api.token_count() == 0


def test_remote_console_other_project_is_404(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = remote(api, other.uuid)

    assert response.status_code == 404
    assert api.token_count() == 0


def test_remote_console_admin_reaches_other_project(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = remote(api, other.uuid, headers=ADMIN)

    assert response.status_code == 200


def test_remote_console_url_project_mismatch(api):
    other = api.create_server(project_id=OTHER_PROJECT)
    response = remote(api, other.uuid, prefix=f"/v2.1/{OTHER_PROJECT}")

    assert response.status_code == 400


def test_remote_console_mismatched_pair(api, server):
    body = {"remote_console": {"protocol": "rdp", "type": "novnc"}}
    response = remote(api, server.uuid, body=body)

    assert response.status_code == 400
    assert response.json() == fault("badRequest", 400, "Invalid console type novnc")
    assert api.token_count() == 0


@pytest.mark.parametrize(
    "protocol, console_type, version",
    [
        ("vnc", "novnc", "2.6"),
        ("vnc", "xvpvnc", "2.6"),
        ("vnc", "rdp-html5", "2.6"),
        ("spice", "spice-html5", "2.6"),
        ("serial", "serial", "2.6"),
        ("mks", "webmks", "2.8"),
        ("mks", "rdp-html5", "2.95"),
    ],
)
def test_remote_console_other_protocols_unavailable(api, server, protocol, console_type, version):
    body = {"remote_console": {"protocol": protocol, "type": console_type}}
    response = remote(api, server.uuid, body=body, version=version)

    assert response.status_code == 400
    assert response.json() == fault("badRequest", 400, f"Unavailable console type {console_type}.")
    assert api.token_count() == 0


def test_remote_console_not_ready(api):
    building = api.create_server(host=None)
    response = remote(api, building.uuid)

    assert response.status_code == 409
    assert response.json() == fault(
        "conflictingRequest", 409, f"Instance {building.uuid} is not ready"
    )


def test_remote_console_other_protocol_not_ready_first(api):
    building = api.create_server(host=None)
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    response = remote(api, building.uuid, body=body)

    assert response.status_code == 409


@pytest.mark.parametrize("task_state", ["deleting", "migrating"])
def test_remote_console_rejected_task_state(api, task_state):
    busy = api.create_server(task_state=task_state)
    response = remote(api, busy.uuid)

    assert response.status_code == 409
    assert response.json() == fault(
        "conflictingRequest", 409,
        f"Cannot 'get_rdp_console' instance {busy.uuid} while it is in task_state {task_state}",
    )
    assert api.token_count() == 0


def test_remote_console_other_task_state_allowed(api):
    busy = api.create_server(task_state="rebooting")
    response = remote(api, busy.uuid)

    assert response.status_code == 200


def test_console_base_url_from_config(make_api):
    api = make_api({"rdp": {"html5_proxy_base_url": "https://console.example.org/rdp/?lang=en"}})
    server = api.create_server()
    url = remote(api, server.uuid).json()["remote_console"]["url"]

    assert re.match(r"^https://console\.example\.org/rdp/\?lang=en&token=[0-9a-f-]{36}$", url)


def test_each_request_issues_a_new_token(api, server):
    first = remote(api, server.uuid).json()["remote_console"]["url"]
    second = legacy(api, server.uuid).json()["console"]["url"]

    assert first != second
    assert api.token_count() == 2


def test_policy_file_override(make_api, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"os_compute_api:os-remote-consoles": "role:console"\n')
    api = make_api({"oslo_policy": {"policy_file": str(policy_file)}})
    server = api.create_server()

    assert legacy(api, server.uuid).status_code == 403
    assert legacy(api, server.uuid, headers={**auth(), "X-Roles": "console"}).status_code == 200

"""Hostile and malformed input against a real 'rdpconsole serve'.

No request may get a 500 or hang the service, no log line may be forged
or carry a clear console token, and configuration mistakes must end with
one line of error text instead of a Python traceback.
"""

import concurrent.futures
import json
import re
import time

import httpx
import pytest

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = f"user-a:{PROJECT}"
ADMIN_TOKEN = f"admin:{PROJECT}"
RDP_BODY = {"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}

# One client for all tests, because httpx.request() builds a new client, with
# its TLS context, for every call.
HTTP = httpx.Client(timeout=30)

# Length of the run of "a" in a server name that makes the unanchored name
# filter (a+)+$ backtrack. Each extra character doubles the time, and
# CPython 3.11's re took about 1.4 s for 24 on the machine that wrote this.
BACKTRACKING_NAME_LENGTH = 27
# Seconds an unrelated request may take while another request runs a slow filter.
UNRELATED_REQUEST_TIMEOUT = 5.0


@pytest.fixture
def server(service):
    return service.create_server(name="web1", project_id=PROJECT)


def api(service, method, path, token=TOKEN, version=None, **kwargs):
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["X-Auth-Token"] = token
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return HTTP.request(method, service.api_url + path, headers=headers, **kwargs)


def console_url(service, server_id):
    response = api(
        service, "POST", f"/v2.1/servers/{server_id}/remote-consoles", version="2.6", json=RDP_BODY
    )
    assert response.status_code == 200
    return response.json()["remote_console"]["url"]


def token_of(url):
    return re.search(r"token=([^&]+)", url).group(1)


def nested_array(depth):
    return "[" * depth + "]" * depth


# Requests that a client can send with a valid token. Each must get a 4xx fault.
HOSTILE_REQUESTS = {
    "action_deep_json": (
        "POST", "/v2.1/servers/{id}/action", None,
        '{"os-getRDPConsole": ' + nested_array(5000) + "}",
    ),
    "remote_consoles_deep_json": (
        "POST", "/v2.1/servers/{id}/remote-consoles", "2.6",
        '{"remote_console": ' + nested_array(5000) + "}",
    ),
    "truncated_json": (
        "POST", "/v2.1/servers/{id}/action", None, '{"os-getRDPConsole": {"type": "rdp-',
    ),
    "non_utf8_body": (
        "POST", "/v2.1/servers/{id}/action", None, b'{"os-getRDPConsole": {"type": "\xff"}}',
    ),
    "nul_in_body": (
        "POST", "/v2.1/servers/{id}/action", None,
        '{"os-getRDPConsole": {"type": "rdp-html5\\u0000"}}',
    ),
    "regex_repeat_overflow": ("GET", "/v2.1/servers?name=a%7B99999999999%7D", None, None),
    "invalid_regex": ("GET", "/v2.1/servers?name=%5B", None, None),
    "limit_many_digits": ("GET", "/v2.1/servers?limit=" + "9" * 5000, None, None),
    "limit_negative": ("GET", "/v2.1/servers?limit=-1", None, None),
    "limit_text": ("GET", "/v2.1/servers?limit=abc", None, None),
    "nul_in_path": ("GET", "/v2.1/servers/%00", None, None),
    "non_utf8_query": ("GET", "/v2.1/servers?name=%ff", None, None),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_REQUESTS))
def test_hostile_request_is_client_error(service, server, case):
    method, path, version, body = HOSTILE_REQUESTS[case]
    response = api(
        service, method, path.format(id=server["id"]), version=version,
        content=body, headers={"Content-Type": "application/json"} if body is not None else {},
    )

    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("value", ["compute " + "9" * 5000 + ".1", "compute 2." + "9" * 5000])
def test_microversion_many_digits_is_client_error(service, value):
    response = api(service, "GET", "/v2.1/servers", headers={"OpenStack-API-Version": value})

    assert 400 <= response.status_code < 500, response.text


def test_backtracking_name_filter_blocks_nothing(service):
    service.create_server(name="a" * BACKTRACKING_NAME_LENGTH + "!", project_id=PROJECT)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            api, service, "GET", "/v2.1/servers?name=%28a%2B%29%2B%24",
        )
        time.sleep(0.5)
        started = time.monotonic()
        try:
            unrelated = httpx.get(service.api_url + "/", timeout=UNRELATED_REQUEST_TIMEOUT)
            unrelated_status = unrelated.status_code
        except httpx.TimeoutException:
            unrelated_status = None
        elapsed = time.monotonic() - started
        slow.result(timeout=120)

    assert unrelated_status == 200, f"GET / got no response within {elapsed:.1f} s"


def test_access_log_escapes_newline_in_path(service):
    api(service, "GET", "/v2.1/servers/x%0AFORGED-LOG-LINE")
    service.stop()

    forged = [line for line in service.log_text().splitlines() if line.startswith("FORGED-LOG-LINE")]
    assert forged == []


def test_access_log_escapes_control_characters(service):
    api(service, "GET", "/v2.1/servers/x%1B%5B31mRED")
    service.stop()

    assert "\x1b" not in service.log_text()


@pytest.mark.parametrize("path", [
    "/v2.1/OS-CONSOLE-AUTH-TOKENS/{token}",
    "/v2.1/os-console-auth-token/{token}",
])
def test_mistyped_token_path_hides_token(service, server, path):
    token = token_of(console_url(service, server["id"]))
    response = api(service, "GET", path.format(token=token), token=ADMIN_TOKEN)
    service.stop()

    assert response.status_code == 404
    assert token not in service.log_text()


def test_token_survives_hostile_requests(service, server):
    token = token_of(console_url(service, server["id"]))
    for method, path, version, body in HOSTILE_REQUESTS.values():
        api(
            service, method, path.format(id=server["id"]), version=version, content=body,
            headers={"Content-Type": "application/json"} if body is not None else {},
        )

    response = api(service, "GET", f"/v2.1/os-console-auth-tokens/{token}", token=ADMIN_TOKEN)

    assert response.status_code == 200
    assert response.json()["console"]["instance_uuid"] == server["id"]


def test_deleted_server_token_not_found(service, server):
    token = token_of(console_url(service, server["id"]))
    result = service.cli("server", "delete", server["id"])

    response = api(service, "GET", f"/v2.1/os-console-auth-tokens/{token}", token=ADMIN_TOKEN)

    assert result.returncode == 0
    assert response.status_code == 404


def test_deleted_status_console_not_found(service):
    deleted = service.create_server(name="gone", project_id=PROJECT, status="DELETED")

    response = api(
        service, "POST", f"/v2.1/servers/{deleted['id']}/remote-consoles",
        version="2.6", json=RDP_BODY,
    )

    assert response.status_code == 404, response.text


def test_deleted_status_show_not_found(service):
    deleted = service.create_server(name="gone", project_id=PROJECT, status="DELETED")

    response = api(service, "GET", f"/v2.1/servers/{deleted['id']}")

    assert response.status_code == 404, response.text


def test_config_file_is_directory_is_one_line(tmp_path, run_rdpconsole):
    result = run_rdpconsole("serve", "--config-file", tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_policy_file_bad_yaml_is_one_line(make_config, run_rdpconsole, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("this: [is: not yaml\n", encoding="utf-8")
    config_file = make_config({"oslo_policy": {"policy_file": str(policy_file)}})

    result = run_rdpconsole("serve", "--config-file", config_file)

    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert str(policy_file) in result.stderr


def test_policy_file_bad_yaml_at_runtime_not_500(service, server, tmp_path):
    # The default policy_file is policy.yaml next to the configuration file.
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("this: [is: not yaml\n", encoding="utf-8")
    try:
        response = api(service, "GET", "/v2.1/servers")
    finally:
        policy_file.unlink()

    assert response.status_code != 500, response.text


def test_many_concurrent_consoles_all_resolve(service, server):
    def request_console(_index):
        return console_url(service, server["id"])

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        urls = list(pool.map(request_console, range(200)))
    tokens = {token_of(url) for url in urls}
    statuses = {
        api(service, "GET", f"/v2.1/os-console-auth-tokens/{token}", token=ADMIN_TOKEN).status_code
        for token in tokens
    }

    assert len(tokens) == 200
    assert statuses == {200}


def test_api_workers_concurrent_writes(start_service):
    service = start_service(api={"workers": 2})
    created = service.create_server(name="web1", project_id=PROJECT)

    def request_console(_index):
        return api(
            service, "POST", f"/v2.1/servers/{created['id']}/remote-consoles",
            version="2.6", json=RDP_BODY,
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(request_console, range(300)))

    assert set(statuses) == {200}
    assert "database is locked" not in service.log_text()


def test_json_error_body_names_fault(service, server):
    response = api(
        service, "POST", f"/v2.1/servers/{server['id']}/action",
        content="{", headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert json.loads(response.text) == {
        "badRequest": {"code": 400, "message": "Malformed request body"}
    }

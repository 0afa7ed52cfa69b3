"""The real OpenStack clients against a running ``rdpconsole serve``.

Each client gets an RDP console URL the way its users do: openstackclient's
``console url show --rdp``, openstacksdk's ``create_console`` and
novaclient's ``get_rdp_console``, at the negotiated microversion and at 2.1.
An administrator then resolves the URL's token through os-console-auth-tokens
to the server's console endpoint, as a console gateway does.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import httpx
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from novaclient import api_versions
from novaclient import client as nova_client
from openstack import config as sdk_config
from openstack import connection

PROJECT = "a1b2c3"
USER = "alice"
TOKEN = f"{USER}:{PROJECT}"
VM_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CLIENT_TIMEOUT_SECONDS = 120


def openstack_binary():
    """Return the openstack command of this virtual environment, or of PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), "openstack")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("openstack")
    if found is None:
        pytest.skip("python-openstackclient's 'openstack' command is not installed")
    return found


@pytest.fixture
def servers(service):
    """Two servers of the test project whose names both match the regex 'web1'."""
    web1 = service.create_server(
        name="web1", project_id=PROJECT, user_id=USER, console_host="192.0.2.10",
        console_port=2179, vm_id=VM_ID, compute_host="hyperv1",
    )
    service.create_server(
        name="web10", project_id=PROJECT, user_id=USER, console_host="192.0.2.11",
        compute_host="hyperv1",
    )
    return {"web1": web1}


def endpoint(service):
    return service.api_url + "/v2.1"


def console_token(service, url):
    """Return the token of a console URL, checking that the URL points at the gateway."""
    match = re.match(rf"^{re.escape(service.gateway_url)}/\?token=([0-9a-f-]{{36}})$", url)
    assert match, f"{url!r} is not a console URL of {service.gateway_url}"
    return match.group(1)


def resolve(service, url):
    token = console_token(service, url)
    response = httpx.get(
        f"{endpoint(service)}/os-console-auth-tokens/{token}",
        headers={"X-Auth-Token": "admin:admin"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["console"]


def expected_console(server):
    return {
        "instance_uuid": server["id"],
        "host": "192.0.2.10",
        "port": 2179,
        "internal_access_path": VM_ID,
    }


def run_openstack(service, tmp_path, *args, token=TOKEN):
    """Run the openstack command with a noauth token, isolated from the user's clouds.yaml."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    environment["HOME"] = str(tmp_path)
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    command = [
        openstack_binary(),
        "--os-auth-type", "admin_token",
        "--os-endpoint", endpoint(service),
        "--os-token", token,
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL,
        timeout=CLIENT_TIMEOUT_SECONDS, check=False,
    )


def test_openstackclient_negotiated(service, servers, tmp_path):
    result = run_openstack(service, tmp_path, "console", "url", "show", "--rdp", "web1", "-f", "json")

    assert result.returncode == 0, result.stderr
    console = json.loads(result.stdout)
    assert console["protocol"] == "rdp"
    assert console["type"] == "rdp-html5"
    assert resolve(service, console["url"]) == expected_console(servers["web1"])


def test_openstackclient_legacy_action(service, servers, tmp_path):
    result = run_openstack(
        service, tmp_path, "--os-compute-api-version", "2.1",
        "console", "url", "show", "--rdp", "web1", "-f", "json",
    )

    assert result.returncode == 0, result.stderr
    console = json.loads(result.stdout)
    assert "protocol" not in console
    assert console["type"] == "rdp-html5"
    assert resolve(service, console["url"]) == expected_console(servers["web1"])
    assert '"POST /v2.1/servers/' + servers["web1"]["id"] + '/action"' in service.log_text()


def test_openstackclient_by_id(service, servers, tmp_path):
    result = run_openstack(
        service, tmp_path, "console", "url", "show", "--rdp", servers["web1"]["id"], "-f", "json"
    )

    assert result.returncode == 0, result.stderr
    assert resolve(service, json.loads(result.stdout)["url"]) == expected_console(servers["web1"])


def test_openstackclient_other_project_not_found(service, servers, tmp_path):
    result = run_openstack(
        service, tmp_path, "console", "url", "show", "--rdp", "web1", token="mallory:d4e5f6"
    )

    assert result.returncode != 0
    assert "web1" in result.stderr


def sdk_connection(service):
    region = sdk_config.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
        auth_type="admin_token",
        auth={"endpoint": endpoint(service), "token": TOKEN},
        compute_endpoint_override=endpoint(service),
    )
    return connection.Connection(config=region)


def test_openstacksdk_create_console(service, servers):
    conn = sdk_connection(service)
    server = conn.compute.find_server("web1", ignore_missing=False)
    console = conn.compute.create_console(server, "rdp-html5")

    assert server.id == servers["web1"]["id"]
    assert console["type"] == "rdp-html5"
    assert console["protocol"] == "rdp"
    assert resolve(service, console["url"]) == expected_console(servers["web1"])


def test_openstacksdk_parses_server(service, servers):
    conn = sdk_connection(service)
    server = conn.compute.get_server(servers["web1"]["id"])

    assert server.name == "web1"
    assert server.status == "ACTIVE"
    assert server.project_id == PROJECT
    assert server.vm_state == "active"
    assert server.is_locked is False


def nova(service, version):
    session = ks_session.Session(auth=token_endpoint.Token(endpoint(service), TOKEN))
    if version == "latest":
        probe = nova_client.Client("2.1", session=session, endpoint_override=endpoint(service))
        version = api_versions.discover_version(probe, api_versions.APIVersion("2.latest"))
    return nova_client.Client(version, session=session, endpoint_override=endpoint(service))


def test_novaclient_negotiates_max_version(service, servers):
    client = nova(service, "latest")

    assert client.api_version == api_versions.APIVersion("2.95")


@pytest.mark.parametrize("version, key", [("latest", "remote_console"), ("2.1", "console")])
def test_novaclient_get_rdp_console(service, servers, version, key):
    client = nova(service, version)
    server = client.servers.find(name="web1")
    result = client.servers.get_rdp_console(server, "rdp-html5")

    assert server.id == servers["web1"]["id"]
    assert result[key]["type"] == "rdp-html5"
    assert resolve(service, result[key]["url"]) == expected_console(servers["web1"])

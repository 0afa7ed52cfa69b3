"""'rdpconsole serve' as a real process: start-up, logs, shutdown and secrets."""

import importlib.util
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import httpx
import pytest

from rdpconsole.cmd import demo as demo_command

RDPCONSOLE = os.path.join(os.path.dirname(sys.executable), "rdpconsole")

GATEWAY_AVAILABLE = importlib.util.find_spec("rdpconsole.gateway.app") is not None
needs_gateway = pytest.mark.skipif(not GATEWAY_AVAILABLE, reason="rdpconsole.gateway.app is not importable")

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]+ \S+ .+$")


def test_serve_logs_api_address(service):
    assert service.wait_for_log(f"Compute API listening on {service.api_url}")


@needs_gateway
def test_serve_logs_gateway_address(service):
    assert service.wait_for_log(f"Console gateway listening on {service.gateway_url}")


def test_serve_log_lines_have_format(service):
    lines = [line for line in service.log_text().splitlines() if line.strip()]
    malformed = [line for line in lines if not LOG_LINE.match(line)]
    assert malformed == []


def test_serve_has_no_uvicorn_access_log(service):
    httpx.get(service.api_url + "/", timeout=5)
    service.stop()
    assert "uvicorn.access" not in service.log_text()


def test_serve_sigterm_exits_zero(service):
    assert service.stop() == 0


def test_serve_sigterm_logs_stop(service):
    service.stop()
    log_text = service.log_text()
    assert "Received SIGTERM, stopping" in log_text
    assert "Stopped Compute API" in log_text


def test_serve_creates_sqlite_schema(service):
    result = service.cli("db", "version")
    assert result.returncode == 0, result.stderr


def test_serve_bad_config_value_is_one_line(make_config, run_rdpconsole):
    config_file = make_config({"api": {"port": "not-a-port"}})

    result = run_rdpconsole("serve", "--config-file", config_file)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "[api] port" in result.stderr
    assert "'not-a-port'" in result.stderr


def test_serve_missing_config_file_is_one_line(tmp_path, run_rdpconsole):
    result = run_rdpconsole("serve", "--config-file", tmp_path / "missing.conf")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing.conf" in result.stderr


def test_serve_port_in_use_fails(make_config, run_rdpconsole):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config_file = make_config({"api": {"port": port}})

        result = run_rdpconsole("serve", "--config-file", config_file, timeout=30)

    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 1
    assert len(error_lines) == 1
    assert f"127.0.0.1:{port}" in error_lines[0]
    assert "[api] port" in error_lines[0]


def test_serve_with_api_workers(start_service):
    service = start_service(api={"workers": 2})
    response = httpx.get(service.api_url + "/", timeout=5)
    assert response.status_code in (200, 300)
    assert service.wait_for_log("with 2 worker processes")
    assert service.stop() == 0


@needs_gateway
def test_serve_workers_run_gateway(start_service):
    service = start_service(api={"workers": 2})
    assert service.wait_for_log(f"Console gateway listening on {service.gateway_url}")
    response = httpx.get(service.gateway_url + "/", timeout=5)
    assert response.status_code < 500
    assert service.stop() == 0


def test_serve_debug_option(start_service):
    service = start_service(DEFAULT={"debug": True})
    service.stop()
    assert " DEBUG " in service.log_text()


def test_serve_never_logs_clear_token(start_service):
    service = start_service(DEFAULT={"debug": True})
    server = service.create_server(name="secret-test", project_id="project-a", user_id="user-a")

    response = httpx.post(
        f"{service.api_url}/v2.1/servers/{server['id']}/remote-consoles",
        headers={
            "X-Auth-Token": "user-a:project-a",
            "X-OpenStack-Nova-API-Version": "2.6",
            "OpenStack-API-Version": "compute 2.6",
        },
        json={"remote_console": {"protocol": "rdp", "type": "rdp-html5"}},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    url = response.json()["remote_console"]["url"]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]

    admin = {"X-Auth-Token": "admin:project-a"}
    httpx.get(f"{service.api_url}/v2.1/os-console-auth-tokens/{token}", headers=admin, timeout=10)
    if GATEWAY_AVAILABLE:
        httpx.get(url, timeout=10)
    service.stop()

    assert token not in service.log_text()


# rdpconsole demo

DEMO_START_TIMEOUT_SECONDS = 60
DEMO_PIDS = re.compile(r"\(pid (\d+)\)")
DEMO_SHADOW = re.compile(r"freerdp-shadow-cli on 127\.0\.0\.1:(\d+)")


def demo_programs_missing():
    return demo_command.missing_programs()


def read_demo_output(process, timeout):
    """Return the demo's stdout lines up to 'Press Ctrl+C'; fail after ``timeout`` seconds.

    Reads the pipe's file descriptor directly, because a buffered reader
    would hide lines from select().
    """
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"Press Ctrl+C" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"the demo printed no console URL within {timeout} s: {data!r}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"the demo exited with status {process.wait()}: {data!r}")
            data += chunk
    return data.decode("utf-8").splitlines()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def demo(make_config, pick_port, tmp_path):
    """Start 'rdpconsole demo' on free ports; yield (process, ports, printed lines); stop it."""
    config_file = make_config()
    api_port = pick_port()
    gateway_port = pick_port()
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [RDPCONSOLE, "demo", "--api-port", str(api_port), "--gateway-port", str(gateway_port),
             "--config-file", str(config_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, bufsize=0,
        )
    desktop_pids = []
    try:
        lines = read_demo_output(process, DEMO_START_TIMEOUT_SECONDS)
        desktop_pids = [int(pid) for pid in DEMO_PIDS.findall(lines[0])]
        yield process, api_port, gateway_port, lines, desktop_pids
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in desktop_pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


needs_desktop = pytest.mark.skipif(
    bool(demo_programs_missing()), reason="Xvfb, freerdp-shadow-cli or xterm is not installed"
)


@needs_desktop
def test_demo_prints_console_url(demo):
    _process, _api_port, gateway_port, lines, _pids = demo
    url_lines = [line for line in lines if line.startswith("Console URL")]
    assert len(url_lines) == 1
    assert re.search(rf"http://127\.0\.0\.1:{gateway_port}/\?token=[0-9a-f-]{{36}}$", url_lines[0])


@needs_desktop
def test_demo_prints_openstack_command(demo):
    _process, api_port, _gateway_port, lines, _pids = demo
    assert (
        f"openstack --os-auth-type admin_token --os-endpoint http://127.0.0.1:{api_port}/v2.1 "
        "--os-token demo:demo console url show --rdp demo-desktop"
    ) in "\n".join(lines)


@needs_desktop
def test_demo_api_responds(demo):
    _process, api_port, _gateway_port, _lines, _pids = demo
    response = httpx.get(f"http://127.0.0.1:{api_port}/", timeout=5)
    assert response.status_code < 500


@needs_desktop
def test_demo_shadow_server_accepts(demo):
    _process, _api_port, _gateway_port, lines, _pids = demo
    port = int(DEMO_SHADOW.search(lines[0]).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


@needs_desktop
def test_demo_sigint_stops_everything(demo):
    process, _api_port, _gateway_port, _lines, pids = demo
    assert len(pids) == 3
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert [pid for pid in pids if pid_alive(pid)] == []


@needs_desktop
def test_demo_sigterm_stops_everything(demo):
    process, _api_port, _gateway_port, _lines, pids = demo
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert [pid for pid in pids if pid_alive(pid)] == []


def test_demo_names_missing_packages(make_config, run_rdpconsole, tmp_path):
    empty_path = tmp_path / "empty-bin"
    empty_path.mkdir()
    result = subprocess.run(
        [RDPCONSOLE, "demo", "--config-file", str(make_config())],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
        env={**os.environ, "PATH": str(empty_path)},
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "apt-get install freerdp2-shadow-x11 x11-xserver-utils xdotool xterm xvfb" in result.stderr

"""Fixtures for browser tests: a real desktop behind FreeRDP's shadow server, headless Chromium, the service."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from rdpconsole.desktop import DesktopError, DesktopRig, ProgramNotFound, free_tcp_port
from rdpconsole.desktop.processes import stop_process, wait_for_tcp

# The helper modules next to this file (console_page, stub_gateway,
# tcp_counter) are imported by name; pytest's importlib import mode does not
# put test folders on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stub_gateway import StubGateway  # noqa: E402
from tcp_counter import CountingForwarder  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}

SERVICE_START_TIMEOUT_SECONDS = 30.0
def pytest_collection_modifyitems(items):
    for item in items:
        if os.path.dirname(str(item.fspath)) == os.path.dirname(__file__):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def desktop(tmp_path_factory):
    """A running DesktopRig: solid background, a terminal that records typing, and the RDP server."""
    rig = DesktopRig(str(tmp_path_factory.mktemp("desktop")))
    try:
        rig.start()
    except ProgramNotFound as error:
        pytest.skip(str(error))
    yield rig
    rig.stop()


@pytest.fixture(scope="session")
def rdp_counter(desktop):
    """A connection-counting forwarder in front of the desktop's RDP server; register its port as the console port."""
    forwarder = CountingForwarder(desktop.host, desktop.port).start()
    yield forwarder
    forwarder.stop()


# Module scope, because the sync Playwright API keeps an asyncio event loop
# running in the main thread while it is open, and later tests that call
# asyncio.run() fail under it.
@pytest.fixture(scope="module")
def playwright_driver():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def page(playwright_driver, tmp_path):
    """A page in a fresh headless Chromium profile. Console lines and page errors are kept in page.log_lines."""
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport=VIEWPORT)
    page = context.pages[0] if context.pages else context.new_page()
    page.log_lines = []
    page.on("console", lambda message: page.log_lines.append(f"console.{message.type}: {message.text[:500]}"))
    page.on("pageerror", lambda error: page.log_lines.append(f"page error: {error}"))
    yield page
    context.close()


@pytest.fixture
def stub_gateway():
    """Start StubGateway instances with a given reply function; all are stopped after the test."""
    started = []

    def start(reply):
        gateway = StubGateway(reply).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


# --- The real service -----------------------------------------------------------------------------------------

class Service:
    """A running `rdpconsole serve` with its own state folder, configuration file and loopback ports."""

    def __init__(self, workdir, token_ttl):
        self.workdir = workdir
        self.api_port = free_tcp_port()
        self.gateway_port = free_tcp_port()
        self.config_file = os.path.join(workdir, "rdpconsole.conf")
        self.log_path = os.path.join(workdir, "service.log")
        self.process = None
        with open(self.config_file, "w", encoding="utf-8") as config:
            config.write(
                # debug shows the gateway's framing switch, which the tests check.
                f"[DEFAULT]\nstate_path = {workdir}\ndebug = true\n\n"
                f"[api]\nlisten = 127.0.0.1\nport = {self.api_port}\n\n"
                f"[gateway]\nlisten = 127.0.0.1\nport = {self.gateway_port}\n\n"
                f"[rdp]\nhtml5_proxy_base_url = http://127.0.0.1:{self.gateway_port}/\n\n"
                f"[consoleauth]\ntoken_ttl = {token_ttl}\n")

    def command(self, *args):
        return [sys.executable, "-m", "rdpconsole.cmd.main", *args]

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command("serve", "--config-file", self.config_file),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        try:
            wait_for_tcp("127.0.0.1", self.api_port, SERVICE_START_TIMEOUT_SECONDS, process=self.process)
            wait_for_tcp("127.0.0.1", self.gateway_port, SERVICE_START_TIMEOUT_SECONDS, process=self.process)
        except DesktopError as error:
            self.stop()
            raise AssertionError(f"rdpconsole serve did not start: {error}\n{self.log()}") from None
        return self

    def stop(self):
        stop_process(self.process)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def create_server(self, console_port, name="desk", project_id="project1", user_id="user1"):
        """Register a server whose RDP console is 127.0.0.1:`console_port`; return its id."""
        result = subprocess.run(
            self.command("server", "create", "--config-file", self.config_file, "--name", name,
                         "--project-id", project_id, "--user-id", user_id, "--console-host", "127.0.0.1",
                         "--console-port", str(console_port), "--compute-host", "host1", "--status", "ACTIVE"),
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"rdpconsole server create failed: {result.stderr}"
        return json.loads(result.stdout)["id"]

    def console_url(self, server_id, project_id="project1", user_id="user1"):
        """Return the console URL from POST /servers/{id}/action os-getRDPConsole."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/v2.1/servers/{server_id}/action",
            data=json.dumps({"os-getRDPConsole": {"type": "rdp-html5"}}).encode(),
            headers={"X-Auth-Token": f"{user_id}:{project_id}", "Content-Type": "application/json"},
            method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["console"]["url"]


@pytest.fixture
def rdpconsole_service(tmp_path):
    """Start `rdpconsole serve` with a given token lifetime (seconds); stopped after the test."""
    started = []

    def start(token_ttl=600):
        workdir = tmp_path / f"service{len(started)}"
        workdir.mkdir()
        service = Service(str(workdir), token_ttl)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()

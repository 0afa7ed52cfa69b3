"""Fixtures that run the real ``rdpconsole serve`` on free loopback ports.

``service`` starts one service with the default options for a test.
``start_service(**options)`` starts one with extra options: a keyword whose
value is a dict is a section (``consoleauth={"token_ttl": 5}``,
``DEFAULT={"debug": True}``), and any other keyword names an rdpconsole
option, whose group is looked up (``token_ttl=5``). Each service writes its
configuration file, SQLite database and log under the test's tmp_path and
is stopped with SIGTERM when the test ends.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

# Seconds the service gets to respond to GET / on the API after it starts.
START_TIMEOUT_SECONDS = 30
# Seconds the service gets to exit after SIGTERM before the fixture kills it.
STOP_TIMEOUT_SECONDS = 30
# Seconds a test waits for an expected log line.
LOG_WAIT_SECONDS = 30
# Seconds one CLI command may run.
CLI_TIMEOUT_SECONDS = 60

RDPCONSOLE = os.path.join(os.path.dirname(sys.executable), "rdpconsole")


def free_port():
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(path, sections):
    """Write ``{"section": {"key": value}}`` as an INI file; True and False become true and false."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        for key, value in options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"{key} = {value}")
        lines.append("")
    with open(path, "w", encoding="utf-8") as config:
        config.write("\n".join(lines))


def option_group(name):
    """Return the section of the rdpconsole option ``name``; fail if none or several have it."""
    from rdpconsole.conf import opts

    groups = []
    for group, group_opts in opts.list_opts():
        group_name = group if isinstance(group, str) else group.name
        if any(opt.name == name for opt in group_opts):
            groups.append(group_name or "DEFAULT")
    if len(groups) != 1:
        raise ValueError(
            f"option {name!r} is in {len(groups)} groups ({', '.join(groups) or 'none'}); "
            "pass it as section={...}"
        )
    return groups[0]


def merge_options(base, extra):
    """Return ``base`` updated with ``extra`` (start_service's keyword arguments)."""
    merged = {section: dict(options) for section, options in base.items()}
    for key, value in (extra or {}).items():
        if isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged.setdefault(option_group(key), {})[key] = value
    return merged


def run_cli(config_file, *args, timeout=CLI_TIMEOUT_SECONDS):
    """Run ``rdpconsole ARGS --config-file CONFIG_FILE`` and return the CompletedProcess."""
    return subprocess.run(
        [RDPCONSOLE, *args, "--config-file", str(config_file)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


class RunningService:
    """A running ``rdpconsole serve`` process and the paths and URLs that tests need."""

    def __init__(self, process, api_port, gateway_port, config_file, state_path, log_path):
        self.process = process
        self.api_port = api_port
        self.gateway_port = gateway_port
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.config_file = str(config_file)
        self.state_path = str(state_path)
        self.log_path = str(log_path)

    @property
    def pid(self):
        return self.process.pid

    def cli(self, *args, timeout=CLI_TIMEOUT_SECONDS):
        """Run an rdpconsole subcommand against this service's configuration."""
        return run_cli(self.config_file, *args, timeout=timeout)

    def create_server(self, **fields):
        """Create a server with 'rdpconsole server create' and return its JSON.

        Fields are the command's options without dashes (``console_host``,
        ``compute_host``, ``id``...). ``metadata`` is a dict of properties.
        name, project_id, user_id, console_host and compute_host get test
        defaults when missing.
        """
        fields = dict(fields)
        fields.setdefault("name", "server-1")
        fields.setdefault("project_id", "project-a")
        fields.setdefault("user_id", "user-a")
        fields.setdefault("console_host", "127.0.0.1")
        fields.setdefault("compute_host", "compute-1")
        metadata = fields.pop("metadata", None) or {}

        args = ["server", "create"]
        for key, value in fields.items():
            if value is None:
                continue
            args += ["--" + key.replace("_", "-"), str(value)]
        for key, value in metadata.items():
            args += ["--property", f"{key}={value}"]

        result = self.cli(*args)
        if result.returncode != 0:
            raise AssertionError(
                f"rdpconsole {' '.join(args)} exited with status {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        return json.loads(result.stdout)

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log_file:
            return log_file.read()

    def wait_for_log(self, text, timeout=LOG_WAIT_SECONDS):
        """Return True once ``text`` appears in the log, False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout=STOP_TIMEOUT_SECONDS):
        """Send SIGTERM and wait for the process to exit; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"rdpconsole serve (pid {self.process.pid}) did not stop within "
                f"{timeout} s of SIGTERM and was killed"
            ) from None


def wait_for_api(service, timeout=START_TIMEOUT_SECONDS):
    """Wait until the API responds to GET /; fail with the service log if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise AssertionError(
                f"rdpconsole serve exited with status {service.process.returncode} "
                f"before the API responded:\n{service.log_text()}"
            )
        try:
            with urllib.request.urlopen(service.api_url + "/", timeout=2) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            # Any HTTP response, even an error status, means the API is serving.
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            service.stop()
            raise AssertionError(
                f"the API on {service.api_url} did not respond within {timeout} s:\n"
                f"{service.log_text()}"
            )
        time.sleep(0.1)


def base_options(tmp_path, api_port, gateway_port):
    return {
        "DEFAULT": {"state_path": str(tmp_path / "state")},
        "api": {"listen": "127.0.0.1", "port": api_port},
        "gateway": {"listen": "127.0.0.1", "port": gateway_port},
        "rdp": {"html5_proxy_base_url": f"http://127.0.0.1:{gateway_port}/"},
    }


@pytest.fixture
def start_service(tmp_path):
    """Return a function that starts 'rdpconsole serve' with extra options and waits for the API."""
    started = []

    def start(**options):
        index = len(started)
        api_port = free_port()
        gateway_port = free_port()
        while gateway_port == api_port:
            gateway_port = free_port()

        config_file = tmp_path / f"rdpconsole-{index}.conf"
        log_path = tmp_path / f"rdpconsole-{index}.log"
        sections = merge_options(base_options(tmp_path, api_port, gateway_port), options)
        write_config(config_file, sections)

        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                [RDPCONSOLE, "serve", "--config-file", str(config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        service = RunningService(
            process, api_port, gateway_port, config_file,
            sections["DEFAULT"]["state_path"], log_path,
        )
        started.append(service)
        wait_for_api(service)
        return service

    yield start

    for service in started:
        service.stop()


@pytest.fixture
def service(start_service):
    """A running 'rdpconsole serve' with default options."""
    return start_service()


@pytest.fixture
def pick_port():
    """Return a function that picks a free loopback TCP port."""
    return free_port


@pytest.fixture
def make_config(tmp_path):
    """Return a function that writes ``{"section": {"key": value}}`` to a file under tmp_path.

    The file gets a state_path under tmp_path and free loopback ports unless
    the sections set them; the function returns the file's path.
    """

    def make(sections=None, name="rdpconsole.conf"):
        api_port = free_port()
        gateway_port = free_port()
        defaults = base_options(tmp_path, api_port, gateway_port)
        path = tmp_path / name
        write_config(path, merge_options(defaults, sections))
        return path

    return make


@pytest.fixture
def run_rdpconsole():
    """Return a function that runs ``rdpconsole ARGS`` (no implicit config file)."""

    def run(*args, timeout=CLI_TIMEOUT_SECONDS):
        return subprocess.run(
            [RDPCONSOLE, *[str(arg) for arg in args]],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False,
        )

    return run

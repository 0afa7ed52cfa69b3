"""FreeRDP's shadow server, sharing an X display over RDP on a loopback port."""

import logging
import os

from rdpconsole.desktop import processes
from rdpconsole.desktop.processes import DesktopError

LOG = logging.getLogger(__name__)

SHADOW_START_TIMEOUT_SECONDS = 15.0
PORT_ATTEMPTS = 3


class ShadowServer:
    """freerdp-shadow-cli (FreeRDP 2.x) with TLS security and no authentication.

    FreeRDP 2.11 spells the options /bind-address:ADDR, /port:N, /sec:tls and
    -auth. Authentication is off by default, and -auth states that explicitly.
    The server writes a self-signed certificate to
    $XDG_CONFIG_HOME/freerdp/shadow/, so each server gets its own config_dir.
    """

    def __init__(self, display, config_dir, host="127.0.0.1", port=None, log_path=None):
        self.display = display
        self.config_dir = config_dir
        self.host = host
        self.port = port
        self.log_path = log_path
        self.process = None

    def start(self):
        os.makedirs(self.config_dir, exist_ok=True)
        attempts = 1 if self.port is not None else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self.port or processes.free_tcp_port(self.host)
            try:
                self._start_on(port)
            except DesktopError as error:
                if attempt == attempts:
                    raise
                LOG.warning("freerdp-shadow-cli failed to start on %s:%d (%s); trying another port",
                            self.host, port, error)
                continue
            self.port = port
            LOG.info("freerdp-shadow-cli serving display %s on %s:%d (pid %d)", self.display.name, self.host,
                     port, self.process.pid)
            return self

    def _start_on(self, port):
        env = {**self.display.env, "XDG_CONFIG_HOME": self.config_dir, "HOME": self.config_dir}
        self.process = processes.start_process(
            ["freerdp-shadow-cli", f"/bind-address:{self.host}", f"/port:{port}", "-auth", "/sec:tls"],
            env=env, log_path=self.log_path)
        try:
            processes.wait_for_tcp(self.host, port, SHADOW_START_TIMEOUT_SECONDS, process=self.process)
        except BaseException as error:
            self.stop()
            if isinstance(error, DesktopError) and self.log_path:
                raise DesktopError(f"{error}; see {self.log_path}") from error
            raise

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            LOG.info("stopping freerdp-shadow-cli on %s:%s", self.host, self.port)
        processes.stop_process(self.process)
        self.process = None

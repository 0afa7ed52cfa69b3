"""Start and stop the rig's helper programs, and find free loopback ports."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import time

LOG = logging.getLogger(__name__)

# Debian package that provides each program the rig starts.
DEBIAN_PACKAGES = {
    "Xvfb": "xvfb",
    "freerdp-shadow-cli": "freerdp2-shadow-x11",
    "xterm": "xterm",
    "xsetroot": "x11-xserver-utils",
    "xdotool": "xdotool",
    "xwd": "x11-apps",
}

STOP_TIMEOUT_SECONDS = 5.0


class DesktopError(RuntimeError):
    """A program of the desktop rig is missing, failed to start or stopped early."""


class ProgramNotFound(DesktopError):
    def __init__(self, program):
        package = DEBIAN_PACKAGES.get(program)
        hint = f"install the Debian package {package!r} (apt-get install {package})" if package else "install it"
        super().__init__(f"{program} was not found on PATH: {hint}")
        self.program = program
        self.package = package


def find_program(program):
    """Return the absolute path of `program`, or raise ProgramNotFound naming its Debian package."""
    path = shutil.which(program)
    if path is None:
        raise ProgramNotFound(program)
    return path


def start_process(argv, *, env=None, log_path=None, pass_fds=()):
    """Start `argv` in its own process group, with output appended to `log_path` (or discarded)."""
    argv = [find_program(argv[0]), *argv[1:]]
    full_env = dict(os.environ)
    full_env.update(env or {})

    if log_path is None:
        output = subprocess.DEVNULL
        process = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                   pass_fds=pass_fds, start_new_session=True)
    else:
        with open(log_path, "ab") as output:
            process = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, pass_fds=pass_fds, start_new_session=True)

    LOG.debug("started %s (pid %d)", os.path.basename(argv[0]), process.pid)
    return process


def stop_process(process, timeout=STOP_TIMEOUT_SECONDS):
    """Stop `process` with SIGTERM, then SIGKILL after `timeout` seconds, and reap it.

    The signal goes to the process group that start_process created, so
    children (a shell started by xterm, for example) stop too.
    """
    if process is None or process.poll() is not None:
        return

    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        LOG.warning("pid %d did not stop within %.1f s of SIGTERM; sending SIGKILL", process.pid, timeout)

    _signal_group(process, signal.SIGKILL)
    process.wait(timeout)


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        process.send_signal(signum)


def free_tcp_port(host="127.0.0.1"):
    """Return a TCP port that was free on `host` a moment ago.

    NOTE: another process may take the port before the caller binds it;
    callers that start a server retry or fail with a clear error.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_tcp(host, port, timeout, process=None):
    """Wait until `host:port` accepts a TCP connection; raise DesktopError on timeout or if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise DesktopError(f"pid {process.pid} exited with status {process.returncode} "
                               f"before {host}:{port} accepted connections")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DesktopError(f"{host}:{port} did not accept a TCP connection within {timeout:.0f} s")
        time.sleep(0.05)

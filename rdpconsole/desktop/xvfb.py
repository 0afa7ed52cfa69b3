"""A virtual X display (Xvfb) and the programs that draw a known picture on it."""

import logging
import os
import select
import subprocess
import time

from rdpconsole.desktop import processes
from rdpconsole.desktop.processes import DesktopError

LOG = logging.getLogger(__name__)

XVFB_START_TIMEOUT_SECONDS = 10.0
WINDOW_MAP_TIMEOUT_SECONDS = 10.0


class XvfbDisplay:
    """An Xvfb server on the first free display number, listening on no TCP port.

    Xvfb chooses the display number itself and writes it to the pipe passed
    with -displayfd, so parallel rigs never race for the same number.
    """

    def __init__(self, width=1024, height=768, depth=24, log_path=None):
        self.width = width
        self.height = height
        self.depth = depth
        self.log_path = log_path
        self.process = None
        self.number = None

    @property
    def name(self):
        """The DISPLAY value, for example ":3"."""
        return f":{self.number}"

    @property
    def env(self):
        return {"DISPLAY": self.name}

    def start(self):
        read_fd, write_fd = os.pipe()
        try:
            self.process = processes.start_process(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
                 "-nolisten", "tcp", "-noreset"],
                log_path=self.log_path, pass_fds=(write_fd,))
            os.close(write_fd)
            write_fd = None
            self.number = self._read_display_number(read_fd)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
            if write_fd is not None:
                os.close(write_fd)

        LOG.info("Xvfb display %s started (pid %d, %dx%dx%d)", self.name, self.process.pid,
                 self.width, self.height, self.depth)
        return self

    def _read_display_number(self, read_fd):
        deadline = time.monotonic() + XVFB_START_TIMEOUT_SECONDS
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DesktopError(f"Xvfb (pid {self.process.pid}) did not report a display number "
                                   f"within {XVFB_START_TIMEOUT_SECONDS:.0f} s")
            readable, _, _ = select.select([read_fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(read_fd, 64)
            if not chunk:
                raise DesktopError(f"Xvfb exited with status {self.process.wait(1)} before reporting a display "
                                   f"number{self._log_hint()}")
            data += chunk
        return int(data.strip())

    def _log_hint(self):
        return f"; see {self.log_path}" if self.log_path else ""

    def stop(self):
        processes.stop_process(self.process)
        if self.process is not None:
            LOG.info("Xvfb display %s stopped", self.name)
        self.process = None

    def run(self, argv, timeout=10.0):
        """Run a short X client such as xsetroot on this display and wait for it to finish."""
        argv = [processes.find_program(argv[0]), *argv[1:]]
        result = subprocess.run(argv, env={**os.environ, **self.env}, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise DesktopError(f"{' '.join(argv)} failed with status {result.returncode}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        return result.stdout

    def set_background(self, colour):
        """Paint the root window one solid colour, given as "#rrggbb"."""
        self.run(["xsetroot", "-solid", colour])

    def start_client(self, argv, log_path=None):
        """Start a long-running X client (for example xterm) on this display; the caller stops it."""
        return processes.start_process(argv, env=self.env, log_path=log_path)

    def wait_for_window(self, window_name, process=None):
        """Return the X window id of the first mapped window titled `window_name`."""
        deadline = time.monotonic() + WINDOW_MAP_TIMEOUT_SECONDS
        while True:
            if process is not None and process.poll() is not None:
                raise DesktopError(f"{window_name!r}: pid {process.pid} exited with status {process.returncode} "
                                   "before its window appeared")
            try:
                output = self.run(["xdotool", "search", "--onlyvisible", "--name", f"^{window_name}$"])
            except DesktopError:
                output = b""
            ids = output.split()
            if ids:
                return int(ids[0])
            if time.monotonic() > deadline:
                raise DesktopError(f"no window titled {window_name!r} appeared on display {self.name} "
                                   f"within {WINDOW_MAP_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.1)

    def focus_window(self, window_id):
        """Give `window_id` the keyboard focus, wherever the pointer is (there is no window manager)."""
        self.run(["xdotool", "windowfocus", "--sync", str(window_id)])

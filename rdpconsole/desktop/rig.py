"""A complete test desktop: Xvfb, a known picture, a terminal that records typing, and an RDP server."""

import logging
import os

from rdpconsole.desktop import screen
from rdpconsole.desktop.processes import stop_process
from rdpconsole.desktop.shadow import ShadowServer
from rdpconsole.desktop.xvfb import XvfbDisplay

LOG = logging.getLogger(__name__)

DEFAULT_BACKGROUND = "#1e6b52"
DEFAULT_MARKER = "rdpconsole test desktop"
TERMINAL_TITLE = "rdpconsole-terminal"
# 80x24 cells of xterm's default font: about 490x320 pixels in the top-left
# corner, which leaves most of a 1024x768 screen in the background colour.
TERMINAL_GEOMETRY = "80x24+0+0"


class DesktopRig:
    """Start Xvfb, paint it, open a terminal, and share the display with freerdp-shadow-cli.

    The root window is one solid `background` colour. A white xterm in the
    top-left corner prints `marker` and then runs `cat`, which appends every
    line typed into it to `typed_path`. The terminal has the keyboard focus.
    Every process listens on loopback only. Use as a context manager, or call
    start() and stop(); start() stops whatever it started if a later step fails.
    """

    def __init__(self, workdir, *, width=1024, height=768, background=DEFAULT_BACKGROUND, marker=DEFAULT_MARKER,
                 host="127.0.0.1", port=None):
        self.workdir = workdir
        self.background = background
        self.marker = marker
        self.typed_path = os.path.join(workdir, "typed.txt")
        self.display = XvfbDisplay(width, height, log_path=os.path.join(workdir, "xvfb.log"))
        self.shadow = ShadowServer(self.display, os.path.join(workdir, "shadow-config"), host=host, port=port,
                                   log_path=os.path.join(workdir, "shadow.log"))
        self.terminal = None

    @property
    def host(self):
        return self.shadow.host

    @property
    def port(self):
        """The RDP server's TCP port."""
        return self.shadow.port

    @property
    def background_rgb(self):
        return screen.parse_colour(self.background)

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        try:
            self.display.start()
            self.display.set_background(self.background)
            self._start_terminal()
            self.shadow.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_terminal(self):
        open(self.typed_path, "wb").close()
        script = 'printf "%s\\n" "$1"; exec cat >> "$2"'
        self.terminal = self.display.start_client(
            ["xterm", "-T", TERMINAL_TITLE, "-geometry", TERMINAL_GEOMETRY, "-bg", "white", "-fg", "black",
             "-e", "sh", "-c", script, "sh", self.marker, self.typed_path],
            log_path=os.path.join(self.workdir, "xterm.log"))
        window = self.display.wait_for_window(TERMINAL_TITLE, process=self.terminal)
        self.display.focus_window(window)

    def stop(self):
        """Stop every process this rig started, the RDP server first; safe to call more than once."""
        try:
            self.shadow.stop()
        finally:
            try:
                stop_process(self.terminal)
                self.terminal = None
            finally:
                self.display.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def typed_text(self):
        """Return what has been typed into the terminal so far (complete lines only)."""
        with open(self.typed_path, encoding="utf-8", errors="replace") as typed:
            return typed.read()

    def screenshot(self):
        """Return the display's current picture as a screen.Screenshot."""
        return screen.capture(self.display)

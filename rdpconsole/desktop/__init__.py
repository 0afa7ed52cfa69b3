"""A real desktop for tests and demos: Xvfb, a known picture and FreeRDP's shadow server on loopback.

The Compute API and the gateway do not use this package. The test suite and
the `rdpconsole demo` command start a DesktopRig as the RDP server behind a
console.
"""

from rdpconsole.desktop.processes import DesktopError, ProgramNotFound, free_tcp_port
from rdpconsole.desktop.rig import DesktopRig
from rdpconsole.desktop.screen import Screenshot, parse_colour
from rdpconsole.desktop.shadow import ShadowServer
from rdpconsole.desktop.xvfb import XvfbDisplay

__all__ = [
    "DesktopError",
    "DesktopRig",
    "ProgramNotFound",
    "Screenshot",
    "ShadowServer",
    "XvfbDisplay",
    "free_tcp_port",
    "parse_colour",
]

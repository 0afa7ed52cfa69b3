"""Windows Sockets error codes for a failed TCP connect.

An RDCleanPath error PDU reports why the gateway could not reach the RDP server
as a Windows Sockets error code in ``wsa_last_error``, whatever the gateway's
own platform, and IronRDP's web client shows the code and its meaning to the
user. This module maps Python's exceptions to those codes. The values are
Windows' (winerror.h, "Windows Sockets Error Codes").
"""

import enum
import errno
import socket


class WsaError(enum.IntEnum):
    """Windows Sockets error codes that a failed connect or name lookup can produce."""

    WSAEINTR = 10004
    WSAEACCES = 10013
    WSAEINVAL = 10022
    WSAEMFILE = 10024
    WSAEWOULDBLOCK = 10035
    WSAEINPROGRESS = 10036
    WSAEALREADY = 10037
    WSAEPROTONOSUPPORT = 10043
    WSAESOCKTNOSUPPORT = 10044
    WSAEAFNOSUPPORT = 10047
    WSAEADDRINUSE = 10048
    WSAEADDRNOTAVAIL = 10049
    WSAENETDOWN = 10050
    WSAENETUNREACH = 10051
    WSAENETRESET = 10052
    WSAECONNABORTED = 10053
    WSAECONNRESET = 10054
    WSAENOBUFS = 10055
    WSAEISCONN = 10056
    WSAENOTCONN = 10057
    WSAETIMEDOUT = 10060
    WSAECONNREFUSED = 10061
    WSAEHOSTDOWN = 10064
    WSAEHOSTUNREACH = 10065
    WSATYPE_NOT_FOUND = 10109
    WSAHOST_NOT_FOUND = 11001
    WSATRY_AGAIN = 11002
    WSANO_RECOVERY = 11003
    WSANO_DATA = 11004


WSA_DESCRIPTIONS: dict[int, str] = {
    WsaError.WSAEINTR: "interrupted system call",
    WsaError.WSAEACCES: "permission denied",
    WsaError.WSAEINVAL: "invalid argument",
    WsaError.WSAEMFILE: "too many open files",
    WsaError.WSAEWOULDBLOCK: "resource temporarily unavailable",
    WsaError.WSAEINPROGRESS: "operation now in progress",
    WsaError.WSAEALREADY: "operation already in progress",
    WsaError.WSAEPROTONOSUPPORT: "protocol not supported",
    WsaError.WSAESOCKTNOSUPPORT: "socket type not supported",
    WsaError.WSAEAFNOSUPPORT: "address family not supported",
    WsaError.WSAEADDRINUSE: "address already in use",
    WsaError.WSAEADDRNOTAVAIL: "cannot assign requested address",
    WsaError.WSAENETDOWN: "network is down",
    WsaError.WSAENETUNREACH: "network is unreachable",
    WsaError.WSAENETRESET: "network dropped connection on reset",
    WsaError.WSAECONNABORTED: "connection aborted",
    WsaError.WSAECONNRESET: "connection reset by peer",
    WsaError.WSAENOBUFS: "no buffer space available",
    WsaError.WSAEISCONN: "socket is already connected",
    WsaError.WSAENOTCONN: "socket is not connected",
    WsaError.WSAETIMEDOUT: "connection timed out",
    WsaError.WSAECONNREFUSED: "connection refused",
    WsaError.WSAEHOSTDOWN: "host is down",
    WsaError.WSAEHOSTUNREACH: "no route to host",
    WsaError.WSATYPE_NOT_FOUND: "service not found",
    WsaError.WSAHOST_NOT_FOUND: "host not found",
    WsaError.WSATRY_AGAIN: "temporary failure in name resolution",
    WsaError.WSANO_RECOVERY: "non-recoverable failure in name resolution",
    WsaError.WSANO_DATA: "host name has no address of the requested type",
}


def _errno_table() -> dict[int, WsaError]:
    # errno values differ between platforms, so the table is built from the
    # names that this platform's errno module defines.
    pairs = [
        ("EINTR", WsaError.WSAEINTR),
        ("EACCES", WsaError.WSAEACCES),
        ("EPERM", WsaError.WSAEACCES),
        ("EINVAL", WsaError.WSAEINVAL),
        ("EMFILE", WsaError.WSAEMFILE),
        ("ENFILE", WsaError.WSAEMFILE),
        ("EAGAIN", WsaError.WSAEWOULDBLOCK),
        ("EINPROGRESS", WsaError.WSAEINPROGRESS),
        ("EALREADY", WsaError.WSAEALREADY),
        ("EPROTONOSUPPORT", WsaError.WSAEPROTONOSUPPORT),
        ("ESOCKTNOSUPPORT", WsaError.WSAESOCKTNOSUPPORT),
        ("EAFNOSUPPORT", WsaError.WSAEAFNOSUPPORT),
        ("EADDRINUSE", WsaError.WSAEADDRINUSE),
        ("EADDRNOTAVAIL", WsaError.WSAEADDRNOTAVAIL),
        ("ENETDOWN", WsaError.WSAENETDOWN),
        ("ENETUNREACH", WsaError.WSAENETUNREACH),
        ("ENETRESET", WsaError.WSAENETRESET),
        ("ECONNABORTED", WsaError.WSAECONNABORTED),
        ("ECONNRESET", WsaError.WSAECONNRESET),
        ("ENOBUFS", WsaError.WSAENOBUFS),
        ("EISCONN", WsaError.WSAEISCONN),
        ("ENOTCONN", WsaError.WSAENOTCONN),
        ("ETIMEDOUT", WsaError.WSAETIMEDOUT),
        ("ECONNREFUSED", WsaError.WSAECONNREFUSED),
        ("EHOSTDOWN", WsaError.WSAEHOSTDOWN),
        ("EHOSTUNREACH", WsaError.WSAEHOSTUNREACH),
    ]
    return {getattr(errno, name): code for name, code in pairs if hasattr(errno, name)}


def _gai_table() -> dict[int, WsaError]:
    # getaddrinfo() error codes (socket.EAI_*) are a separate number space from errno.
    pairs = [
        ("EAI_NONAME", WsaError.WSAHOST_NOT_FOUND),
        ("EAI_AGAIN", WsaError.WSATRY_AGAIN),
        ("EAI_FAIL", WsaError.WSANO_RECOVERY),
        ("EAI_NODATA", WsaError.WSANO_DATA),
        ("EAI_ADDRFAMILY", WsaError.WSANO_DATA),
        ("EAI_FAMILY", WsaError.WSAEAFNOSUPPORT),
        ("EAI_SOCKTYPE", WsaError.WSAESOCKTNOSUPPORT),
        ("EAI_SERVICE", WsaError.WSATYPE_NOT_FOUND),
    ]
    return {getattr(socket, name): code for name, code in pairs if hasattr(socket, name)}


ERRNO_TO_WSA: dict[int, WsaError] = _errno_table()
GAI_ERROR_TO_WSA: dict[int, WsaError] = _gai_table()


def wsa_error_for(exc: BaseException) -> WsaError | None:
    """Map a failed connect's exception to a Windows Sockets error code.

    Handles ``TimeoutError`` (including ``asyncio.TimeoutError``), ``socket.gaierror``,
    any ``OSError`` with a known errno, and exception groups (the first member
    that maps wins). Returns None when no code fits: the gateway then sends
    a general error (code 1) without ``wsa_last_error`` rather than a wrong code.
    """
    if isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            code = wsa_error_for(member)
            if code is not None:
                return code
        return None

    # TimeoutError first: asyncio.wait_for raises it with errno None.
    if isinstance(exc, TimeoutError):
        return WsaError.WSAETIMEDOUT

    # gaierror before OSError: its errno is an EAI_* code, which can collide
    # with errno values on some platforms.
    if isinstance(exc, socket.gaierror):
        return GAI_ERROR_TO_WSA.get(exc.errno)

    if isinstance(exc, OSError) and exc.errno is not None:
        return ERRNO_TO_WSA.get(exc.errno)

    return None


def describe_wsa_error(code: int) -> str:
    """Return the name and meaning of a Windows Sockets error code, for logs and messages."""
    try:
        name = WsaError(code).name
    except ValueError:
        return f"WSA {code} (unknown Windows Sockets error)"
    return f"WSA {code} {name} ({WSA_DESCRIPTIONS[code]})"

"""Mapping of connect failures to Windows Sockets error codes."""

import asyncio
import errno
import socket

import pytest

from rdpconsole.wire.wsa import WsaError, describe_wsa_error, wsa_error_for


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 10061),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), 10060),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), 10051),
        (OSError(errno.EHOSTUNREACH, "No route to host"), 10065),
        (ConnectionResetError(errno.ECONNRESET, "reset"), 10054),
        (ConnectionAbortedError(errno.ECONNABORTED, "aborted"), 10053),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), 10049),
        (OSError(errno.EADDRINUSE, "Address in use"), 10048),
        (OSError(errno.ENETDOWN, "Network is down"), 10050),
        (PermissionError(errno.EACCES, "Permission denied"), 10013),
    ],
    ids=lambda value: getattr(value, "strerror", None) or str(value),
)
def test_errno_mapping(exc, expected):
    assert wsa_error_for(exc) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("EAI_NONAME", 11001), ("EAI_AGAIN", 11002), ("EAI_FAIL", 11003), ("EAI_NODATA", 11004)],
)
def test_gaierror_mapping(name, expected):
    if not hasattr(socket, name):
        pytest.skip(f"socket.{name} is not defined on this platform")
    exc = socket.gaierror(getattr(socket, name), "lookup failed")
    assert wsa_error_for(exc) == expected


def test_timeout_error():
    assert wsa_error_for(TimeoutError()) == WsaError.WSAETIMEDOUT


def test_asyncio_timeout_error():
    assert wsa_error_for(asyncio.TimeoutError()) == 10060


def test_socket_timeout():
    assert wsa_error_for(socket.timeout("timed out")) == 10060


def test_oserror_without_errno():
    # asyncio raises this when every address of a host fails differently.
    assert wsa_error_for(OSError("Multiple exceptions: ...")) is None


def test_unknown_errno():
    assert wsa_error_for(OSError(errno.ENOENT, "No such file")) is None


def test_unknown_gaierror():
    assert wsa_error_for(socket.gaierror(-12345, "odd")) is None


def test_non_os_error():
    assert wsa_error_for(ValueError("x")) is None


def test_exception_group_first_mapped_member():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    group = ExceptionGroup("connect", [ValueError("x"), refused])
    assert wsa_error_for(group) == 10061


def test_exception_group_without_mapped_member():
    assert wsa_error_for(ExceptionGroup("connect", [ValueError("x")])) is None


def test_real_refused_connect():
    # Bind without listen: the kernel refuses connections to this loopback port.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        with pytest.raises(OSError) as info:
            socket.create_connection(("127.0.0.1", port), timeout=5)
    assert wsa_error_for(info.value) == WsaError.WSAECONNREFUSED


def test_describe_known():
    assert describe_wsa_error(10061) == "WSA 10061 WSAECONNREFUSED (connection refused)"


def test_describe_unknown():
    assert describe_wsa_error(65000) == "WSA 65000 (unknown Windows Sockets error)"


def test_every_code_has_description():
    assert [code for code in WsaError if "unknown" in describe_wsa_error(code)] == []

"""Failures of a console session before its relay starts, and their RDCleanPath error PDUs.

Each failure has its own class. ``error_pdu`` is the one place that turns a
failure into the RDCleanPath error PDU that the browser receives, and the
browser page maps ``http_status_code``, ``wsa_last_error`` and
``tls_alert_code`` to a sentence for the user. The exception messages go to
the gateway log: they name hosts, ports and token hash prefixes, never a clear
token.
"""

import logging

from rdpconsole.wire import rdcleanpath
from rdpconsole.wire.wsa import WsaError

# TLS alert codes (RFC 8446 section 6 and RFC 5246 section 7.2).
TLS_ALERT_HANDSHAKE_FAILURE = 40
TLS_ALERT_BAD_CERTIFICATE = 42


class GatewayError(Exception):
    """A console session that ends before the relay starts.

    ``reason`` is a short phrase for the audit and refusal log lines.
    ``log_level`` is the level of the one line the gateway logs for it.
    """

    reason = "gateway error"
    log_level = logging.WARNING
    http_status_code: int | None = None
    wsa_last_error: int | None = None
    tls_alert_code: int | None = None


# Refusals of the request itself, each with an HTTP status code.


class RequestRejected(GatewayError):
    """A request that the gateway refuses without connecting to any RDP server."""

    log_level = logging.INFO
    http_status_code = 403
    reason = "forbidden"


class MalformedRequest(RequestRejected):
    """The WebSocket client did not send one valid RDCleanPath request in binary messages."""

    http_status_code = 400
    reason = "malformed RDCleanPath request"


class RequestTimedOut(RequestRejected):
    """The RDCleanPath request did not arrive within ``[gateway] request_timeout``."""

    http_status_code = 408
    reason = "RDCleanPath request timed out"


class ClientGone(RequestRejected):
    """The browser closed the WebSocket before its request was complete; nothing is sent back."""

    reason = "client closed the WebSocket before its request was complete"


class TokenMissing(RequestRejected):
    """No console token in proxy_auth, in the WebSocket URL or in a cookie."""

    http_status_code = 401
    reason = "console token missing"


class TokenConflict(RequestRejected):
    """A duplicated ``token`` query parameter, or different tokens from different sources."""

    http_status_code = 400
    reason = "conflicting console tokens"


class TokenInvalid(RequestRejected):
    """The console token is unknown or expired."""

    http_status_code = 404
    reason = "console token unknown or expired"


class ConsoleTypeForbidden(RequestRejected):
    """The token belongs to a console type other than rdp-html5."""

    http_status_code = 403
    reason = "console token is not an RDP console token"


class TooManySessions(RequestRejected):
    """The token already has ``[gateway] max_sessions_per_token`` sessions open."""

    http_status_code = 429
    reason = "too many sessions for the console token"


class HyperVNotSupported(RequestRejected):
    """The token's console is a Hyper-V VM (it has an internal_access_path).

    NOTE: Hyper-V's VMConnect listener needs the preconnection PDU, then TLS and
    CredSSP done by the gateway with Hyper-V host credentials (credential
    injection). The gateway does not do that yet, and it never falls back to
    a session on the Hyper-V host's own desktop.
    """

    log_level = logging.WARNING
    http_status_code = 501
    reason = "Hyper-V VM consoles are not supported"


class TokenBackendError(GatewayError):
    """The token could not be checked: the database or the Compute API failed."""

    http_status_code = 502
    reason = "console token check failed"

    def __init__(self, message, http_status_code=502):
        super().__init__(message)
        self.http_status_code = http_status_code


# Failures while reaching the RDP server.


class UpstreamError(GatewayError):
    """The RDP server could not be reached or refused the connection sequence."""


class ConnectFailed(UpstreamError):
    """The TCP connect to the RDP server failed; ``wsa_last_error`` gives the reason."""

    reason = "connect to the RDP server failed"

    def __init__(self, message, wsa_last_error):
        super().__init__(message)
        self.wsa_last_error = wsa_last_error


class UpstreamTimedOut(UpstreamError):
    """A connection step with the RDP server (connect, X.224 or TLS) timed out."""

    wsa_last_error = WsaError.WSAETIMEDOUT

    def __init__(self, message, step):
        super().__init__(message)
        self.reason = f"{step} timed out"


class UpstreamClosed(UpstreamError):
    """The RDP server closed or reset the connection during the connection sequence."""

    wsa_last_error = WsaError.WSAECONNRESET
    reason = "RDP server closed the connection during the connection sequence"


class X224Failed(UpstreamError):
    """The RDP server's reply to the X.224 Connection Request is not a valid Connection Confirm."""

    http_status_code = 502
    reason = "invalid X.224 Connection Confirm from the RDP server"


class NegotiationFailed(UpstreamError):
    """The RDP server replied with RDP_NEG_FAILURE; the browser gets the server's Confirm."""

    reason = "RDP security negotiation refused by the server"

    def __init__(self, message, confirm):
        super().__init__(message)
        self.confirm = confirm


class TlsFailed(UpstreamError):
    """The TLS handshake with the RDP server failed; ``tls_alert_code`` is set when known."""

    reason = "TLS handshake with the RDP server failed"

    def __init__(self, message, tls_alert_code=None):
        super().__init__(message)
        self.tls_alert_code = tls_alert_code


class CertificateRejected(TlsFailed):
    """The RDP server's certificate failed ``[gateway] rdp_verify``."""

    reason = "RDP server certificate rejected"


def error_pdu(error):
    """Return the RDCleanPath error PDU that describes ``error`` to the browser."""
    if isinstance(error, NegotiationFailed):
        return rdcleanpath.encode_error(
            rdcleanpath.NEGOTIATION_ERROR_CODE, x224_connection_pdu=error.confirm
        )
    return rdcleanpath.encode_error(
        rdcleanpath.GENERAL_ERROR_CODE,
        http_status_code=error.http_status_code,
        wsa_last_error=None if error.wsa_last_error is None else int(error.wsa_last_error),
        tls_alert_code=error.tls_alert_code,
    )

"""Gateway failures and the RDCleanPath error PDUs that the browser receives for them."""

import pytest

from rdpconsole.gateway import errors
from rdpconsole.wire import rdcleanpath
from rdpconsole.wire import x224


def decode(error):
    return rdcleanpath.decode_response(errors.error_pdu(error))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.TokenMissing("no token"), 401),
        (errors.TokenInvalid("unknown"), 404),
        (errors.TooManySessions("cap"), 429),
        (errors.HyperVNotSupported("vm"), 501),
        (errors.RequestRejected("forbidden"), 403),
        (errors.MalformedRequest("garbage"), 400),
        (errors.TokenConflict("two tokens"), 400),
        (errors.RequestTimedOut("slow"), 408),
        (errors.TokenBackendError("api down"), 502),
        (errors.TokenBackendError("db down", http_status_code=503), 503),
        (errors.X224Failed("not a confirm"), 502),
    ],
)
def test_refusal_carries_http_status(error, status):
    reply = decode(error)

    assert reply.error_code == rdcleanpath.GENERAL_ERROR_CODE
    assert reply.http_status_code == status
    assert reply.wsa_last_error is None


@pytest.mark.parametrize(
    ("error", "wsa"),
    [
        (errors.ConnectFailed("refused", wsa_last_error=10061), 10061),
        (errors.UpstreamTimedOut("slow", step="TCP connect"), 10060),
        (errors.UpstreamClosed("closed"), 10054),
    ],
)
def test_connection_failure_carries_wsa_code(error, wsa):
    reply = decode(error)

    assert reply.wsa_last_error == wsa
    assert reply.http_status_code is None


def test_connect_failure_without_known_code():
    reply = decode(errors.ConnectFailed("odd", wsa_last_error=None))

    assert reply.error_code == rdcleanpath.GENERAL_ERROR_CODE
    assert reply.wsa_last_error is None


def test_tls_failure_carries_alert():
    reply = decode(errors.TlsFailed("handshake", tls_alert_code=40))

    assert reply.tls_alert_code == 40


def test_certificate_rejection_carries_alert():
    reply = decode(errors.CertificateRejected("pin", tls_alert_code=errors.TLS_ALERT_BAD_CERTIFICATE))

    assert reply.tls_alert_code == 42


def test_negotiation_failure_carries_confirm():
    confirm = x224.build_negotiation_failure(x224.FailureCode.HYBRID_REQUIRED_BY_SERVER)

    reply = decode(errors.NegotiationFailed("refused", confirm=confirm))

    assert reply.error_code == rdcleanpath.NEGOTIATION_ERROR_CODE
    assert reply.x224_connection_response == confirm


def test_timeout_reason_names_step():
    assert errors.UpstreamTimedOut("slow", step="TLS handshake").reason == "TLS handshake timed out"

"""TLS alert codes and certificate pins for the connection to the RDP server."""

import hashlib
import ssl

import pytest

from rdpconsole.gateway import errors
from rdpconsole.gateway.rdp_tls import RdpTlsPolicy
from rdpconsole.gateway.rdp_tls import alert_for
from rdpconsole.gateway.rdp_tls import format_host_port

LEAF = b"0\x82\x01\x00 not really a certificate"


def ssl_error(reason):
    error = ssl.SSLError(1, f"[SSL: {reason}] alert")
    error.reason = reason
    return error


def verification_error(code):
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_code = code
    error.verify_message = "test"
    return error


@pytest.mark.parametrize(
    ("reason", "alert"),
    [
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", 40),
        ("TLSV1_ALERT_PROTOCOL_VERSION", 70),
        ("TLSV1_ALERT_UNKNOWN_CA", 48),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", 116),
        ("TLSV1_UNRECOGNIZED_NAME", 112),
        ("SSLV3_ALERT_BAD_CERTIFICATE", 42),
    ],
)
def test_alert_from_server(reason, alert):
    assert alert_for(ssl_error(reason)) == alert


def test_local_failure_has_no_alert():
    assert alert_for(ssl_error("WRONG_VERSION_NUMBER")) is None


@pytest.mark.parametrize(
    ("code", "alert"),
    [(10, 45), (18, 48), (20, 48), (62, 42), (64, 42), (23, 44), (999, 46)],
)
def test_alert_for_verification_failure(code, alert):
    assert alert_for(verification_error(code)) == alert


def test_policy_none_accepts_any_certificate():
    policy = RdpTlsPolicy("none")

    assert policy.context.verify_mode == ssl.CERT_NONE
    assert policy.context.check_hostname is False


def test_policy_ca_verifies_host_name():
    policy = RdpTlsPolicy("ca")

    assert policy.context.verify_mode == ssl.CERT_REQUIRED
    assert policy.context.check_hostname is True


def test_policy_ca_without_host_name_check():
    policy = RdpTlsPolicy("ca", check_hostname=False)

    assert policy.context.check_hostname is False


def test_pin_matches():
    pins = {("10.0.0.5", 3389): frozenset({hashlib.sha256(LEAF).digest()})}

    RdpTlsPolicy("pin", pinned_fingerprints=pins).check_pin("10.0.0.5", 3389, LEAF)


def test_pin_mismatch_rejected():
    pins = {("10.0.0.5", 3389): frozenset({b"\x00" * 32})}

    with pytest.raises(errors.CertificateRejected) as raised:
        RdpTlsPolicy("pin", pinned_fingerprints=pins).check_pin("10.0.0.5", 3389, LEAF)

    assert raised.value.tls_alert_code == 42
    assert hashlib.sha256(LEAF).hexdigest().upper() in str(raised.value)


def test_pin_for_other_port_rejected():
    pins = {("10.0.0.5", 3389): frozenset({hashlib.sha256(LEAF).digest()})}

    with pytest.raises(errors.CertificateRejected):
        RdpTlsPolicy("pin", pinned_fingerprints=pins).check_pin("10.0.0.5", 2179, LEAF)


def test_pin_host_compared_normalized():
    pins = {("2001:db8::5", 3389): frozenset({hashlib.sha256(LEAF).digest()})}

    RdpTlsPolicy("pin", pinned_fingerprints=pins).check_pin("[2001:DB8::5]", 3389, LEAF)


def test_pins_ignored_without_pin_mode():
    RdpTlsPolicy("none", pinned_fingerprints={}).check_pin("10.0.0.5", 3389, LEAF)


def test_format_host_port_ipv6():
    assert format_host_port("::1", 3389) == "[::1]:3389"

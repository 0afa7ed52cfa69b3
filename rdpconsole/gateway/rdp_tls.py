"""TLS with the RDP server: the shared SSL context, certificate pins and TLS alert codes.

``[gateway] rdp_verify`` chooses how the server's certificate is checked.
``none`` accepts any certificate, because Windows' RDP certificates are
self-signed unless an administrator installs another. ``ca`` verifies the
chain and optionally the host name. ``pin`` compares the SHA-256 digest of
the server's certificate with the configured fingerprints of that host and port.
"""

import hashlib
import ssl

from rdpconsole.gateway import errors
from rdpconsole.gateway.settings import normalize_host

# Alerts that OpenSSL sends for a failed certificate verification, by X509_V_ERR
# code: ssl_x509err2alert() in OpenSSL 3.0 ssl/statem/statem_lib.c. Codes not
# listed map to certificate_unknown (46), as there.
_VERIFY_CODE_ALERTS = {
    2: 48,  # UNABLE_TO_GET_ISSUER_CERT: unknown_ca
    9: 42,  # CERT_NOT_YET_VALID: bad_certificate
    10: 45,  # CERT_HAS_EXPIRED: certificate_expired
    18: 48,  # DEPTH_ZERO_SELF_SIGNED_CERT: unknown_ca
    19: 48,  # SELF_SIGNED_CERT_IN_CHAIN: unknown_ca
    20: 48,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unknown_ca
    21: 48,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE: unknown_ca
    23: 44,  # CERT_REVOKED: certificate_revoked
    24: 48,  # INVALID_CA: unknown_ca
    26: 43,  # INVALID_PURPOSE: unsupported_certificate
    27: 42,  # CERT_UNTRUSTED: bad_certificate
    28: 42,  # CERT_REJECTED: bad_certificate
    62: 42,  # HOSTNAME_MISMATCH: bad_certificate
    64: 42,  # IP_ADDRESS_MISMATCH: bad_certificate
}
_CERTIFICATE_UNKNOWN = 46

# Alerts received from the server, by the description part of OpenSSL's reason
# string (SSLV3_ALERT_<name>, TLSV1_ALERT_<name>, TLSV13_ALERT_<name> or
# TLSV1_<name>), with the codes of RFC 8446 section 6 and RFC 5246 section 7.2.
_ALERT_CODES = {
    "UNEXPECTED_MESSAGE": 10,
    "BAD_RECORD_MAC": 20,
    "DECRYPTION_FAILED": 21,
    "RECORD_OVERFLOW": 22,
    "DECOMPRESSION_FAILURE": 30,
    "HANDSHAKE_FAILURE": 40,
    "NO_CERTIFICATE": 41,
    "BAD_CERTIFICATE": 42,
    "UNSUPPORTED_CERTIFICATE": 43,
    "CERTIFICATE_REVOKED": 44,
    "CERTIFICATE_EXPIRED": 45,
    "CERTIFICATE_UNKNOWN": 46,
    "ILLEGAL_PARAMETER": 47,
    "UNKNOWN_CA": 48,
    "ACCESS_DENIED": 49,
    "DECODE_ERROR": 50,
    "DECRYPT_ERROR": 51,
    "EXPORT_RESTRICTION": 60,
    "PROTOCOL_VERSION": 70,
    "INSUFFICIENT_SECURITY": 71,
    "INTERNAL_ERROR": 80,
    "INAPPROPRIATE_FALLBACK": 86,
    "USER_CANCELLED": 90,
    "NO_RENEGOTIATION": 100,
    "MISSING_EXTENSION": 109,
    "UNSUPPORTED_EXTENSION": 110,
    "CERTIFICATE_UNOBTAINABLE": 111,
    "UNRECOGNIZED_NAME": 112,
    "BAD_CERTIFICATE_STATUS_RESPONSE": 113,
    "BAD_CERTIFICATE_HASH_VALUE": 114,
    "UNKNOWN_PSK_IDENTITY": 115,
    "CERTIFICATE_REQUIRED": 116,
    "NO_APPLICATION_PROTOCOL": 120,
}
_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV13_ALERT_", "TLSV1_ALERT_", "TLSV1_")


def alert_for(error):
    """Return the TLS alert code behind an ``ssl`` exception, or None when there is none.

    A failed local verification gives the alert that OpenSSL sent to the
    server; an alert from the server gives that alert's code.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return _VERIFY_CODE_ALERTS.get(error.verify_code, _CERTIFICATE_UNKNOWN)
    reason = getattr(error, "reason", None)
    if not reason:
        return None
    for prefix in _ALERT_PREFIXES:
        if reason.startswith(prefix):
            return _ALERT_CODES.get(reason[len(prefix):])
    return None


def certificate_fingerprint(der):
    """Return the SHA-256 fingerprint of a DER certificate as upper-case hex."""
    return hashlib.sha256(der).hexdigest().upper()


class RdpTlsPolicy:
    """The gateway's TLS settings for RDP servers: one SSL context that every session shares, and the pins."""

    def __init__(self, verify="none", ca_file=None, check_hostname=True, pinned_fingerprints=None):
        self.verify = verify
        self.check_hostname = verify == "ca" and check_hostname
        self.pinned_fingerprints = pinned_fingerprints or {}
        self.context = self._create_context(verify, ca_file)

    @classmethod
    def from_settings(cls, settings):
        return cls(
            verify=settings.rdp_verify,
            ca_file=settings.rdp_ca_file,
            check_hostname=settings.rdp_check_hostname,
            pinned_fingerprints=settings.rdp_pinned_fingerprints,
        )

    def _create_context(self, verify, ca_file):
        # NOTE: the context keeps Python's minimum of TLS 1.2. RDP servers that
        # offer only TLS 1.0 or 1.1 (Windows Server 2008 R2 without
        # KB3080079) fail the handshake with alert protocol_version (70).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify == "ca":
            context.check_hostname = self.check_hostname
            context.verify_mode = ssl.CERT_REQUIRED
            if ca_file:
                context.load_verify_locations(cafile=ca_file)
            else:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            # check_hostname must be off before verify_mode can be CERT_NONE.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def server_hostname(self, host):
        """Return the name for SNI and host name checks: the host itself (Python sends no SNI for IP addresses)."""
        return normalize_host(host)

    def check_pin(self, host, port, leaf_der):
        """Raise CertificateRejected unless ``leaf_der`` is pinned for host:port (only with rdp_verify = pin)."""
        if self.verify != "pin":
            return
        target = (normalize_host(host), port)
        expected = self.pinned_fingerprints.get(target)
        actual = hashlib.sha256(leaf_der).digest()
        if expected is None:
            raise errors.CertificateRejected(
                f"no fingerprint pinned for {format_host_port(host, port)} in "
                f"[gateway] rdp_pinned_fingerprints; its certificate has SHA-256 "
                f"{certificate_fingerprint(leaf_der)}",
                tls_alert_code=errors.TLS_ALERT_BAD_CERTIFICATE,
            )
        if actual not in expected:
            raise errors.CertificateRejected(
                f"certificate of {format_host_port(host, port)} has SHA-256 "
                f"{certificate_fingerprint(leaf_der)}, which is not pinned in "
                "[gateway] rdp_pinned_fingerprints",
                tls_alert_code=errors.TLS_ALERT_BAD_CERTIFICATE,
            )


def format_host_port(host, port):
    """Return host:port, with an IPv6 address in brackets."""
    host = normalize_host(host)
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"

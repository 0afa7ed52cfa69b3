"""TPKT framing and the X.224 connection TPDUs of the RDP connection sequence.

A TPKT (RFC 1006 section 6) is a 4-byte header, version 3, a reserved byte and
a big-endian u16 length that includes the header, followed by one X.224 TPDU.
RDP opens with an X.224 Connection Request from the client and a Connection
Confirm from the server (MS-RDPBCGR 2.2.1.1 and 2.2.1.2), both carrying RDP
negotiation structures that pick the security protocol.

``read_tpkt_length`` works on a 4-byte header so that the gateway can read
exactly one TPKT with ``readexactly``; the parsers take a whole TPKT.
"""

import enum
import struct
from dataclasses import dataclass

from rdpconsole.wire.errors import WireError

# TPKT (RFC 1006 section 6).
TPKT_VERSION = 3
TPKT_HEADER_SIZE = 4  # bytes: version, reserved, u16 length
# Bytes: the TPKT header plus the shortest X.224 TPDU that RDP sends, the
# 3-byte Data TPDU header (LI, code, EOT; X.224 13.7).
MIN_TPKT_LENGTH = 7
# Bytes. Before the relay starts, the gateway reads only the server's Connection
# Confirm (19 bytes whenever it carries RDP negotiation data) and the client's
# Connection Request (at most 259 bytes, because the X.224 length indicator is one octet).
# 8 KiB leaves room while bounding what an untrusted server can make the
# gateway buffer.
MAX_HANDSHAKE_TPKT_LENGTH = 8 * 1024

# X.224 TPDU codes, the high nibble of the second header octet (X.224 13.3 and 13.4).
X224_CONNECTION_REQUEST = 0xE0
X224_CONNECTION_CONFIRM = 0xD0
# Bytes: LI, code, DST-REF u16, SRC-REF u16, class option (MS-RDPBCGR 2.2.1.1 x224Crq).
X224_CONNECTION_FIXED_SIZE = 7
# The length indicator counts the header without itself and is one octet; 255 is reserved (X.224 13.2.1).
MAX_X224_LENGTH_INDICATOR = 254

# RDP negotiation structure types (MS-RDPBCGR 2.2.1.1.1, 2.2.1.2.1, 2.2.1.2.2).
TYPE_RDP_NEG_REQ = 0x01
TYPE_RDP_NEG_RSP = 0x02
TYPE_RDP_NEG_FAILURE = 0x03
# RDP_NEG_CORRELATION_INFO type (MS-RDPBCGR 2.2.1.1.2).
TYPE_RDP_CORRELATION_INFO = 0x06
# Bytes: type u8, flags u8, length u16, requestedProtocols / selectedProtocol / failureCode u32.
RDP_NEG_STRUCTURE_SIZE = 8
# Bytes: type u8, flags u8, length u16, correlationId 16 bytes, reserved 16 bytes (MS-RDPBCGR 2.2.1.1.2).
RDP_CORRELATION_INFO_SIZE = 36

# RDP_NEG_REQ flags (MS-RDPBCGR 2.2.1.1.1).
RESTRICTED_ADMIN_MODE_REQUIRED = 0x01
REDIRECTED_AUTHENTICATION_MODE_REQUIRED = 0x02
CORRELATION_INFO_PRESENT = 0x08

# RDP_NEG_RSP flags (MS-RDPBCGR 2.2.1.2.1).
EXTENDED_CLIENT_DATA_SUPPORTED = 0x01
DYNVC_GFX_PROTOCOL_SUPPORTED = 0x02
NEGRSP_FLAG_RESERVED = 0x04
RESTRICTED_ADMIN_MODE_SUPPORTED = 0x08
REDIRECTED_AUTHENTICATION_MODE_SUPPORTED = 0x10

# The routing token or cookie before the negotiation request ends with CR LF (MS-RDPBCGR 2.2.1.1).
COOKIE_TERMINATOR = b"\r\n"

_TPKT_HEADER = struct.Struct(">BBH")
_X224_FIXED = struct.Struct(">BBHHB")
_NEG_STRUCTURE = struct.Struct("<BBHI")


class Protocol(enum.IntFlag):
    """Security protocols in requestedProtocols and selectedProtocol (MS-RDPBCGR 2.2.1.1.1)."""

    RDP = 0x00  # PROTOCOL_RDP: standard RDP security, no TLS
    SSL = 0x01  # PROTOCOL_SSL: TLS
    HYBRID = 0x02  # PROTOCOL_HYBRID: CredSSP (NLA)
    RDSTLS = 0x04  # PROTOCOL_RDSTLS
    HYBRID_EX = 0x08  # PROTOCOL_HYBRID_EX: CredSSP with Early User Authorization Result PDU
    RDSAAD = 0x10  # PROTOCOL_RDSAAD: Azure AD authentication


class FailureCode(enum.IntEnum):
    """failureCode of RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.2.2)."""

    SSL_REQUIRED_BY_SERVER = 1
    SSL_NOT_ALLOWED_BY_SERVER = 2
    SSL_CERT_NOT_ON_SERVER = 3
    INCONSISTENT_FLAGS = 4
    HYBRID_REQUIRED_BY_SERVER = 5
    SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = 6


class TpktError(WireError):
    """An invalid TPKT header or frame."""


class X224Error(WireError):
    """An invalid X.224 Connection Request or Confirm, or RDP negotiation structure."""


@dataclass(frozen=True)
class RdpNegotiationRequest:
    """RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1.1); ``correlation_id`` is set when RDP_NEG_CORRELATION_INFO follows."""

    flags: int
    requested_protocols: Protocol
    correlation_id: bytes | None = None


@dataclass(frozen=True)
class RdpNegotiationResponse:
    """RDP_NEG_RSP (MS-RDPBCGR 2.2.1.2.1)."""

    flags: int
    selected_protocol: Protocol


@dataclass(frozen=True)
class RdpNegotiationFailure:
    """RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.2.2); ``failure_code`` may be a value that FailureCode lacks."""

    failure_code: int

    @property
    def reason(self) -> str:
        """The failure code's name from MS-RDPBCGR, such as "HYBRID_REQUIRED_BY_SERVER"."""
        try:
            return FailureCode(self.failure_code).name
        except ValueError:
            return f"unknown failure code {self.failure_code}"


@dataclass(frozen=True)
class X224ConnectionRequest:
    """A client's Connection Request; ``cookie`` is the routing token or cookie line without CR LF."""

    cookie: bytes | None
    negotiation: RdpNegotiationRequest | None


@dataclass(frozen=True)
class X224ConnectionConfirm:
    """A server's Connection Confirm; ``negotiation`` is None when the server sent no negotiation data."""

    negotiation: RdpNegotiationResponse | RdpNegotiationFailure | None

    @property
    def is_failure(self) -> bool:
        """True when the server refused the negotiation with RDP_NEG_FAILURE."""
        return isinstance(self.negotiation, RdpNegotiationFailure)


# TPKT


def read_tpkt_length(header: bytes, max_length: int = MAX_HANDSHAKE_TPKT_LENGTH) -> int:
    """Validate a 4-byte TPKT header and return the whole TPKT's length in bytes, header included."""
    if len(header) != TPKT_HEADER_SIZE:
        raise TpktError(f"TPKT header must be {TPKT_HEADER_SIZE} bytes, got {len(header)}")

    version, _reserved, length = _TPKT_HEADER.unpack(header)
    if version != TPKT_VERSION:
        raise TpktError(
            f"TPKT version is {version}, expected {TPKT_VERSION}; the peer is not speaking RDP over TCP"
        )
    if length < MIN_TPKT_LENGTH:
        raise TpktError(f"TPKT length {length} is shorter than the minimum {MIN_TPKT_LENGTH}")
    if length > max_length:
        raise TpktError(f"TPKT length {length} exceeds the limit of {max_length} bytes")
    return length


def unwrap_tpkt(frame: bytes, max_length: int = MAX_HANDSHAKE_TPKT_LENGTH) -> bytes:
    """Validate one whole TPKT and return the X.224 TPDU inside it."""
    length = read_tpkt_length(frame[:TPKT_HEADER_SIZE], max_length)
    if length != len(frame):
        raise TpktError(f"TPKT length is {length}, but the frame has {len(frame)} bytes")
    return frame[TPKT_HEADER_SIZE:]


def wrap_tpkt(tpdu: bytes) -> bytes:
    """Prefix an X.224 TPDU with its TPKT header."""
    length = TPKT_HEADER_SIZE + len(tpdu)
    if length > 0xFFFF:
        raise ValueError(f"TPKT length {length} exceeds the 16-bit length field")
    return _TPKT_HEADER.pack(TPKT_VERSION, 0, length) + tpdu


# X.224 parsing


def _split_connection_tpdu(frame: bytes, expected_code: int, name: str) -> bytes:
    """Check the TPKT and the X.224 fixed part; return the variable part after the class option."""
    tpdu = unwrap_tpkt(frame)
    if len(tpdu) < X224_CONNECTION_FIXED_SIZE:
        raise X224Error(f"X.224 {name} is {len(tpdu)} bytes, shorter than {X224_CONNECTION_FIXED_SIZE}")

    length_indicator, code, _dst_ref, _src_ref, _class_option = _X224_FIXED.unpack_from(tpdu)
    if code & 0xF0 != expected_code:
        raise X224Error(f"X.224 TPDU code is 0x{code & 0xF0:02x}, expected 0x{expected_code:02x} ({name})")
    # RDP puts all of its data in the TPDU header, so LI covers the whole TPDU but itself.
    if length_indicator != len(tpdu) - 1:
        raise X224Error(
            f"X.224 {name} length indicator is {length_indicator}, but the TPDU has {len(tpdu)} bytes"
        )
    return tpdu[X224_CONNECTION_FIXED_SIZE:]


def _parse_correlation_info(data: bytes) -> bytes:
    if len(data) != RDP_CORRELATION_INFO_SIZE:
        raise X224Error(
            f"RDP_NEG_CORRELATION_INFO is {len(data)} bytes, expected {RDP_CORRELATION_INFO_SIZE}"
        )
    info_type, _flags, length = struct.unpack_from("<BBH", data)
    if info_type != TYPE_RDP_CORRELATION_INFO or length != RDP_CORRELATION_INFO_SIZE:
        raise X224Error(
            f"RDP_NEG_CORRELATION_INFO has type 0x{info_type:02x} and length {length}, "
            f"expected 0x{TYPE_RDP_CORRELATION_INFO:02x} and {RDP_CORRELATION_INFO_SIZE}"
        )
    return data[4:20]


def parse_connection_request(frame: bytes) -> X224ConnectionRequest:
    """Parse a TPKT carrying an X.224 Connection Request (MS-RDPBCGR 2.2.1.1)."""
    rest = _split_connection_tpdu(frame, X224_CONNECTION_REQUEST, "Connection Request")

    cookie = None
    if rest and rest[0] != TYPE_RDP_NEG_REQ:
        end = rest.find(COOKIE_TERMINATOR)
        if end < 0:
            raise X224Error("X.224 Connection Request routing token or cookie is not terminated by CR LF")
        cookie = rest[:end]
        rest = rest[end + len(COOKIE_TERMINATOR):]

    if not rest:
        return X224ConnectionRequest(cookie=cookie, negotiation=None)
    if len(rest) < RDP_NEG_STRUCTURE_SIZE:
        raise X224Error(f"RDP_NEG_REQ is truncated: {len(rest)} of {RDP_NEG_STRUCTURE_SIZE} bytes")

    neg_type, flags, length, requested = _NEG_STRUCTURE.unpack_from(rest)
    if neg_type != TYPE_RDP_NEG_REQ:
        raise X224Error(f"negotiation type is 0x{neg_type:02x}, expected RDP_NEG_REQ (0x01)")
    if length != RDP_NEG_STRUCTURE_SIZE:
        raise X224Error(f"RDP_NEG_REQ length is {length}, expected {RDP_NEG_STRUCTURE_SIZE}")

    after = rest[RDP_NEG_STRUCTURE_SIZE:]
    correlation_id = None
    if flags & CORRELATION_INFO_PRESENT:
        correlation_id = _parse_correlation_info(after)
    elif after:
        raise X224Error(f"X.224 Connection Request has {len(after)} unexpected bytes after RDP_NEG_REQ")

    negotiation = RdpNegotiationRequest(
        flags=flags, requested_protocols=Protocol(requested), correlation_id=correlation_id
    )
    return X224ConnectionRequest(cookie=cookie, negotiation=negotiation)


def parse_connection_confirm(frame: bytes) -> X224ConnectionConfirm:
    """Parse a TPKT carrying an X.224 Connection Confirm (MS-RDPBCGR 2.2.1.2)."""
    rest = _split_connection_tpdu(frame, X224_CONNECTION_CONFIRM, "Connection Confirm")
    if not rest:
        return X224ConnectionConfirm(negotiation=None)
    if len(rest) != RDP_NEG_STRUCTURE_SIZE:
        raise X224Error(
            f"X.224 Connection Confirm negotiation data is {len(rest)} bytes, expected {RDP_NEG_STRUCTURE_SIZE}"
        )

    neg_type, flags, length, value = _NEG_STRUCTURE.unpack(rest)
    if length != RDP_NEG_STRUCTURE_SIZE:
        raise X224Error(f"negotiation structure length is {length}, expected {RDP_NEG_STRUCTURE_SIZE}")
    if neg_type == TYPE_RDP_NEG_RSP:
        return X224ConnectionConfirm(RdpNegotiationResponse(flags=flags, selected_protocol=Protocol(value)))
    if neg_type == TYPE_RDP_NEG_FAILURE:
        return X224ConnectionConfirm(RdpNegotiationFailure(failure_code=value))
    raise X224Error(
        f"negotiation type is 0x{neg_type:02x}, expected RDP_NEG_RSP (0x02) or RDP_NEG_FAILURE (0x03)"
    )


# X.224 building, for test clients, fake servers and benchmarks


def _build_connection_tpdu(code: int, variable_part: bytes) -> bytes:
    length_indicator = X224_CONNECTION_FIXED_SIZE - 1 + len(variable_part)
    if length_indicator > MAX_X224_LENGTH_INDICATOR:
        raise ValueError(
            f"X.224 header would be {length_indicator + 1} bytes; its length indicator allows "
            f"at most {MAX_X224_LENGTH_INDICATOR + 1}"
        )
    fixed = _X224_FIXED.pack(length_indicator, code, 0, 0, 0)
    return wrap_tpkt(fixed + variable_part)


def build_connection_request(
    cookie: bytes | None = b"Cookie: mstshash=user",
    requested_protocols: int | None = Protocol.SSL | Protocol.HYBRID,
    flags: int = 0,
    correlation_id: bytes | None = None,
) -> bytes:
    """Build a TPKT with an X.224 Connection Request; ``requested_protocols=None`` omits RDP_NEG_REQ."""
    variable_part = b""
    if cookie is not None:
        if COOKIE_TERMINATOR in cookie:
            raise ValueError("cookie must not contain CR LF; the builder appends the terminator")
        variable_part += cookie + COOKIE_TERMINATOR

    if requested_protocols is None:
        if correlation_id is not None:
            raise ValueError("correlation_id needs an RDP_NEG_REQ: pass requested_protocols")
        return _build_connection_tpdu(X224_CONNECTION_REQUEST, variable_part)

    if correlation_id is not None:
        flags |= CORRELATION_INFO_PRESENT
    variable_part += _NEG_STRUCTURE.pack(TYPE_RDP_NEG_REQ, flags, RDP_NEG_STRUCTURE_SIZE, requested_protocols)
    if correlation_id is not None:
        if len(correlation_id) != 16:
            raise ValueError(f"correlation_id must be 16 bytes, got {len(correlation_id)}")
        variable_part += struct.pack("<BBH", TYPE_RDP_CORRELATION_INFO, 0, RDP_CORRELATION_INFO_SIZE)
        variable_part += correlation_id + bytes(16)
    return _build_connection_tpdu(X224_CONNECTION_REQUEST, variable_part)


def build_connection_confirm(selected_protocol: int | None = Protocol.SSL, flags: int = 0) -> bytes:
    """Build a TPKT with an X.224 Connection Confirm; ``selected_protocol=None`` omits RDP_NEG_RSP."""
    if selected_protocol is None:
        return _build_connection_tpdu(X224_CONNECTION_CONFIRM, b"")
    negotiation = _NEG_STRUCTURE.pack(TYPE_RDP_NEG_RSP, flags, RDP_NEG_STRUCTURE_SIZE, selected_protocol)
    return _build_connection_tpdu(X224_CONNECTION_CONFIRM, negotiation)


def build_negotiation_failure(failure_code: int) -> bytes:
    """Build a TPKT with an X.224 Connection Confirm that carries RDP_NEG_FAILURE."""
    negotiation = _NEG_STRUCTURE.pack(TYPE_RDP_NEG_FAILURE, 0, RDP_NEG_STRUCTURE_SIZE, failure_code)
    return _build_connection_tpdu(X224_CONNECTION_CONFIRM, negotiation)

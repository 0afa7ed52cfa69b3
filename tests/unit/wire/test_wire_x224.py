"""TPKT framing and X.224 Connection Request and Confirm parsing."""

import pytest

from rdpconsole.wire.x224 import (
    MAX_HANDSHAKE_TPKT_LENGTH,
    CORRELATION_INFO_PRESENT,
    DYNVC_GFX_PROTOCOL_SUPPORTED,
    EXTENDED_CLIENT_DATA_SUPPORTED,
    FailureCode,
    Protocol,
    RdpNegotiationFailure,
    RdpNegotiationRequest,
    RdpNegotiationResponse,
    TpktError,
    X224ConnectionConfirm,
    X224ConnectionRequest,
    X224Error,
    build_connection_confirm,
    build_connection_request,
    build_negotiation_failure,
    parse_connection_confirm,
    parse_connection_request,
    read_tpkt_length,
    unwrap_tpkt,
    wrap_tpkt,
)

# Connection Confirms captured from freerdp-shadow-cli (Debian freerdp2-shadow-x11
# 2.11.7, /sec:tls) in reply to build_connection_request(). With PROTOCOL_SSL |
# PROTOCOL_HYBRID requested, it sends RDP_NEG_RSP with flags 0x03 and PROTOCOL_SSL.
FREERDP_CONFIRM_SSL = bytes.fromhex("030000130ed000000000000203080001000000")
# With PROTOCOL_HYBRID only, it sends RDP_NEG_FAILURE with SSL_REQUIRED_BY_SERVER.
FREERDP_FAILURE_SSL_REQUIRED = bytes.fromhex("030000130ed000000000000300080001000000")

# Hand-assembled Connection Request. It is 42 bytes, the size IronRDP's web client sends.
#   03 00 00 2a                       TPKT version 3, length 42
#   25 e0 00 00 00 00 00              LI 37, CR, DST-REF 0, SRC-REF 0, class 0
#   "Cookie: mstshash=user" 0d 0a     cookie
#   01 00 08 00 03 00 00 00           RDP_NEG_REQ, PROTOCOL_SSL | PROTOCOL_HYBRID
REQUEST_WITH_COOKIE = (
    bytes.fromhex("0300002a" "25e00000000000")
    + b"Cookie: mstshash=user\r\n"
    + bytes.fromhex("0100080003000000")
)


# TPKT


def test_tpkt_length_valid():
    assert read_tpkt_length(bytes.fromhex("03000013")) == 19


def test_tpkt_length_bad_version():
    with pytest.raises(TpktError, match="version is 22"):
        read_tpkt_length(bytes.fromhex("16030100"))


def test_tpkt_length_too_short():
    with pytest.raises(TpktError, match="shorter"):
        read_tpkt_length(bytes.fromhex("03000006"))


def test_tpkt_length_minimum():
    assert read_tpkt_length(bytes.fromhex("03000007")) == 7


def test_tpkt_length_over_limit():
    with pytest.raises(TpktError, match="exceeds"):
        read_tpkt_length((3).to_bytes(1, "big") + b"\0" + (MAX_HANDSHAKE_TPKT_LENGTH + 1).to_bytes(2, "big"))


def test_tpkt_length_at_limit():
    header = bytes([3, 0]) + MAX_HANDSHAKE_TPKT_LENGTH.to_bytes(2, "big")
    assert read_tpkt_length(header) == MAX_HANDSHAKE_TPKT_LENGTH


def test_tpkt_length_custom_limit():
    assert read_tpkt_length(bytes.fromhex("0300ffff"), max_length=0xFFFF) == 0xFFFF


def test_tpkt_header_wrong_size():
    with pytest.raises(TpktError, match="4 bytes"):
        read_tpkt_length(bytes.fromhex("030000"))


def test_unwrap_tpkt_length_mismatch():
    with pytest.raises(TpktError, match="frame has 20 bytes"):
        unwrap_tpkt(FREERDP_CONFIRM_SSL + b"\0")


def test_wrap_unwrap_round_trip():
    assert unwrap_tpkt(wrap_tpkt(b"\x02\xf0\x80")) == b"\x02\xf0\x80"


# Connection Request


def test_build_request_vector():
    assert build_connection_request(b"Cookie: mstshash=user", Protocol.SSL | Protocol.HYBRID) == REQUEST_WITH_COOKIE


def test_parse_request_with_cookie():
    assert parse_connection_request(REQUEST_WITH_COOKIE) == X224ConnectionRequest(
        cookie=b"Cookie: mstshash=user",
        negotiation=RdpNegotiationRequest(flags=0, requested_protocols=Protocol.SSL | Protocol.HYBRID),
    )


def test_parse_request_without_cookie():
    request = parse_connection_request(build_connection_request(None, Protocol.HYBRID_EX))
    assert request.cookie is None
    assert request.negotiation.requested_protocols == Protocol.HYBRID_EX


def test_parse_request_without_negotiation():
    request = parse_connection_request(build_connection_request(b"Cookie: mstshash=x", None))
    assert request == X224ConnectionRequest(cookie=b"Cookie: mstshash=x", negotiation=None)


def test_parse_request_empty_variable_part():
    request = parse_connection_request(build_connection_request(None, None))
    assert request == X224ConnectionRequest(cookie=None, negotiation=None)


def test_parse_request_routing_token():
    request = parse_connection_request(build_connection_request(b"Cookie: msts=3640205228.15629.0000", Protocol.SSL))
    assert request.cookie == b"Cookie: msts=3640205228.15629.0000"


def test_parse_request_correlation_info():
    correlation_id = bytes(range(1, 17))
    frame = build_connection_request(None, Protocol.SSL, correlation_id=correlation_id)
    negotiation = parse_connection_request(frame).negotiation
    assert negotiation.correlation_id == correlation_id
    assert negotiation.flags & CORRELATION_INFO_PRESENT


def test_parse_request_correlation_flag_without_info():
    frame = build_connection_request(None, Protocol.SSL, flags=CORRELATION_INFO_PRESENT)
    with pytest.raises(X224Error, match="RDP_NEG_CORRELATION_INFO"):
        parse_connection_request(frame)


def test_parse_request_unknown_protocol_bits_kept():
    negotiation = parse_connection_request(build_connection_request(None, 0x41)).negotiation
    assert int(negotiation.requested_protocols) == 0x41


def test_parse_request_cookie_without_crlf():
    tpdu = bytes.fromhex("0de00000000000") + b"Cookie: x"
    tpdu = bytes([len(tpdu) - 1]) + tpdu[1:]
    with pytest.raises(X224Error, match="CR LF"):
        parse_connection_request(wrap_tpkt(tpdu))


def test_parse_request_truncated_negotiation():
    frame = REQUEST_WITH_COOKIE[:-1]
    frame = frame[:3] + bytes([len(frame)]) + bytes([frame[4] - 1]) + frame[5:]
    with pytest.raises(X224Error, match="truncated"):
        parse_connection_request(frame)


def test_parse_request_trailing_bytes():
    frame = build_connection_request(None, Protocol.SSL)
    tpdu = bytearray(unwrap_tpkt(frame) + b"\0")
    tpdu[0] += 1
    with pytest.raises(X224Error, match="unexpected"):
        parse_connection_request(wrap_tpkt(bytes(tpdu)))


def test_parse_request_bad_negotiation_length():
    data = bytearray(build_connection_request(None, Protocol.SSL))
    data[13] = 9  # RDP_NEG_REQ length field
    with pytest.raises(X224Error, match="length is 9"):
        parse_connection_request(bytes(data))


def test_parse_request_wrong_code():
    with pytest.raises(X224Error, match="expected 0xe0"):
        parse_connection_request(FREERDP_CONFIRM_SSL)


def test_parse_request_length_indicator_mismatch():
    data = bytearray(REQUEST_WITH_COOKIE)
    data[4] = 0x24
    with pytest.raises(X224Error, match="length indicator"):
        parse_connection_request(bytes(data))


def test_build_request_cookie_with_crlf():
    with pytest.raises(ValueError):
        build_connection_request(b"Cookie: a\r\nb")


def test_build_request_header_too_long():
    with pytest.raises(ValueError, match="length indicator"):
        build_connection_request(b"Cookie: mstshash=" + b"x" * 250)


# Connection Confirm


def test_parse_freerdp_confirm():
    assert parse_connection_confirm(FREERDP_CONFIRM_SSL) == X224ConnectionConfirm(
        RdpNegotiationResponse(
            flags=EXTENDED_CLIENT_DATA_SUPPORTED | DYNVC_GFX_PROTOCOL_SUPPORTED,
            selected_protocol=Protocol.SSL,
        )
    )


def test_parse_freerdp_failure():
    confirm = parse_connection_confirm(FREERDP_FAILURE_SSL_REQUIRED)
    assert confirm.is_failure
    assert confirm.negotiation.failure_code == FailureCode.SSL_REQUIRED_BY_SERVER
    assert confirm.negotiation.reason == "SSL_REQUIRED_BY_SERVER"


def test_parse_confirm_ignores_references():
    data = bytearray(FREERDP_CONFIRM_SSL)
    data[8:10] = b"\x12\x34"  # SRC-REF
    assert not parse_connection_confirm(bytes(data)).is_failure


def test_parse_confirm_without_negotiation():
    confirm = parse_connection_confirm(build_connection_confirm(None))
    assert confirm == X224ConnectionConfirm(negotiation=None)
    assert not confirm.is_failure


@pytest.mark.parametrize("code", list(FailureCode))
def test_failure_codes_round_trip(code):
    negotiation = parse_connection_confirm(build_negotiation_failure(code)).negotiation
    assert negotiation == RdpNegotiationFailure(failure_code=code)
    assert negotiation.reason == code.name


def test_failure_code_values():
    assert [(code.name, code.value) for code in FailureCode] == [
        ("SSL_REQUIRED_BY_SERVER", 1),
        ("SSL_NOT_ALLOWED_BY_SERVER", 2),
        ("SSL_CERT_NOT_ON_SERVER", 3),
        ("INCONSISTENT_FLAGS", 4),
        ("HYBRID_REQUIRED_BY_SERVER", 5),
        ("SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER", 6),
    ]


def test_unknown_failure_code_reason():
    assert parse_connection_confirm(build_negotiation_failure(99)).negotiation.reason == "unknown failure code 99"


def test_build_confirm_matches_freerdp():
    built = build_connection_confirm(Protocol.SSL, EXTENDED_CLIENT_DATA_SUPPORTED | DYNVC_GFX_PROTOCOL_SUPPORTED)
    assert built == FREERDP_CONFIRM_SSL


def test_build_failure_matches_freerdp():
    assert build_negotiation_failure(FailureCode.SSL_REQUIRED_BY_SERVER) == FREERDP_FAILURE_SSL_REQUIRED


def test_parse_confirm_unknown_negotiation_type():
    data = bytearray(FREERDP_CONFIRM_SSL)
    data[11] = 0x01  # RDP_NEG_REQ in a confirm
    with pytest.raises(X224Error, match="RDP_NEG_RSP"):
        parse_connection_confirm(bytes(data))


def test_parse_confirm_bad_negotiation_length():
    data = bytearray(FREERDP_CONFIRM_SSL)
    data[13] = 0x0C
    with pytest.raises(X224Error, match="length is 12"):
        parse_connection_confirm(bytes(data))


def test_parse_confirm_short_negotiation():
    tpdu = bytes.fromhex("0ad0000000000002000800")
    with pytest.raises(X224Error, match="4 bytes"):
        parse_connection_confirm(wrap_tpkt(tpdu))


def test_parse_confirm_wrong_code():
    with pytest.raises(X224Error, match="expected 0xd0"):
        parse_connection_confirm(REQUEST_WITH_COOKIE)


def test_parse_confirm_too_short_tpdu():
    with pytest.raises(X224Error, match="shorter"):
        parse_connection_confirm(wrap_tpkt(b"\x02\xf0\x80"))


def test_parse_confirm_bad_tpkt_version():
    with pytest.raises(TpktError):
        parse_connection_confirm(b"\x02" + FREERDP_CONFIRM_SSL[1:])


def test_protocol_values():
    assert [(member.name, member.value) for member in Protocol] == [
        ("SSL", 1),
        ("HYBRID", 2),
        ("RDSTLS", 4),
        ("HYBRID_EX", 8),
        ("RDSAAD", 16),
    ]
    assert Protocol.RDP == 0

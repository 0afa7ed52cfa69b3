"""RDCleanPath PDU encoding and decoding."""

import pytest
from pyasn1.codec.der import decoder as der_decoder

from rdpconsole.wire import rdcleanpath
from rdpconsole.wire.rdcleanpath import (
    GENERAL_ERROR_CODE,
    NEGOTIATION_ERROR_CODE,
    InvalidFieldError,
    MalformedPduError,
    MissingFieldError,
    RDCleanPathErrorResponse,
    RDCleanPathRequest,
    RDCleanPathResponse,
    RequestShape,
    UnexpectedFieldError,
    UnsupportedVersionError,
    decode_request,
    decode_response,
    encode_error,
    encode_request,
    encode_response,
)
from rdpconsole.wire.x224 import build_connection_request, build_negotiation_failure

# Hand-assembled from the field table (EXPLICIT context tags, UTF8String 0x0C,
# OCTET STRING 0x04, INTEGER 0x02), without pyasn1:
#   30 1c                 SEQUENCE, 28 content bytes
#   a0 04 02 02 0d 3e     [0] version INTEGER 3390
#   a2 05 0c 03 "rdp"     [2] destination
#   a3 05 0c 03 "tok"     [3] proxy_auth
#   a6 06 04 04 01020304  [6] x224_connection_pdu
MINIMAL_REQUEST = bytes.fromhex(
    "301c" "a00402020d3e" "a2050c03726470" "a3050c03746f6b" "a606040401020304"
)

# General error with WSA 10061 (0x274d), hand-assembled the same way:
#   30 15  a0 04 02 02 0d 3e  a1 0d 30 0b  a0 03 02 01 01  a2 04 02 02 27 4d
WSA_ERROR = bytes.fromhex("3015" "a00402020d3e" "a10d300b" "a003020101" "a2040202274d")

# Response to an ordinary request, hand-assembled:
#   30 35                                 SEQUENCE, 53 content bytes
#   a0 04 02 02 0d 3e                     [0] version
#   a6 15 04 13 <19-byte X.224 confirm>   [6] x224_connection_pdu
#   a7 09 30 07 04 05 <5-byte cert>       [7] server_cert_chain
#   a9 0b 0c 09 "127.0.0.1"               [9] server_addr
CONFIRM = bytes.fromhex("030000130ed000000000000203080001000000")
CERT = bytes.fromhex("3003020105")
RESPONSE = (
    bytes.fromhex("3035" "a00402020d3e" "a6150413")
    + CONFIRM
    + bytes.fromhex("a7093007" "0405")
    + CERT
    + bytes.fromhex("a90b0c09")
    + b"127.0.0.1"
)

# DER that IronRDP's own test suite expects (crates/ironrdp-testsuite-core/tests/
# rdcleanpath.rs): a request with destination "destination", proxy_auth
# "proxy auth", preconnection_blob "PCB" and X.224 bytes de ad be ff, and a TLS
# error with alert 48.
IRONRDP_REQUEST = bytes.fromhex(
    "3032a00402020d3ea20d0c0b64657374696e6174696f6ea30c0c0a70726f78792061757468"
    "a5050c03504342a6060404deadbeff"
)
IRONRDP_TLS_ERROR = bytes.fromhex("3014a00402020d3ea10c300aa003020101a303020130")


def _der(*fields: bytes) -> bytes:
    """Wrap already-encoded fields in a SEQUENCE header (short form only)."""
    content = b"".join(fields)
    assert len(content) < 128
    return bytes([0x30, len(content)]) + content


VERSION_FIELD = bytes.fromhex("a00402020d3e")
DESTINATION_FIELD = bytes.fromhex("a2050c03726470")
PROXY_AUTH_FIELD = bytes.fromhex("a3050c03746f6b")
X224_FIELD = bytes.fromhex("a606040401020304")


# Known vectors


def test_encode_request_minimal_vector():
    encoded = encode_request("rdp", "tok", x224_connection_request=bytes([1, 2, 3, 4]))
    assert encoded == MINIMAL_REQUEST


def test_decode_request_minimal_vector():
    request = decode_request(MINIMAL_REQUEST)
    assert request == RDCleanPathRequest(
        destination="rdp", proxy_auth="tok", x224_connection_request=bytes([1, 2, 3, 4])
    )


def test_encode_error_wsa_vector():
    assert encode_error(GENERAL_ERROR_CODE, wsa_last_error=10061) == WSA_ERROR


def test_encode_response_vector():
    assert encode_response(CONFIRM, [CERT], "127.0.0.1") == RESPONSE


def test_ironrdp_request_vector_encodes_identically():
    encoded = encode_request(
        "destination", "proxy auth", x224_connection_request=bytes.fromhex("deadbeff"), preconnection_blob="PCB"
    )
    assert encoded == IRONRDP_REQUEST


def test_ironrdp_tls_error_vector_decodes():
    assert decode_response(IRONRDP_TLS_ERROR) == RDCleanPathErrorResponse(error_code=1, tls_alert_code=48)


def test_schema_tags_match_field_table():
    for name, named_type in zip(rdcleanpath._PduSchema.componentType, rdcleanpath._PduSchema.componentType.namedTypes):
        explicit_tag = named_type.asn1Object.tagSet.superTags[-1]
        assert rdcleanpath._FIELDS[explicit_tag.tagId][0] == name


# Round trips


def test_request_ordinary_round_trip():
    x224 = build_connection_request()
    request = decode_request(encode_request("host:3389", "a" * 36, x224, preconnection_blob="blob", server_auth="s"))
    assert request.shape is RequestShape.ORDINARY
    assert request.x224_connection_request == x224
    assert request.preconnection_blob == "blob"
    assert request.server_auth == "s"
    assert request.proxy_auth == "a" * 36


def test_request_vmconnect_round_trip():
    guid = "0d6a1c63-1c1e-4d5b-9a8f-2c7a0f3a1b2c"
    request = decode_request(encode_request("hyperv", "tok", preconnection_blob=guid))
    assert request.shape is RequestShape.VMCONNECT
    assert request.x224_connection_request is None
    assert request.preconnection_blob == guid


def test_request_unicode_round_trip():
    request = decode_request(encode_request("сервер-名字", "tök", bytes(3)))
    assert request.destination == "сервер-名字"
    assert request.proxy_auth == "tök"


def test_request_repr_hides_proxy_auth():
    request = decode_request(encode_request("rdp", "secret-token-value", bytes(3)))
    assert "secret-token-value" not in repr(request)


def test_response_round_trip():
    chain = [bytes(690), b"\x30\x00"]
    response = decode_response(encode_response(CONFIRM, chain, "::1"))
    assert response == RDCleanPathResponse(
        x224_connection_response=CONFIRM, server_cert_chain=tuple(chain), server_addr="::1"
    )


def test_response_vmconnect_round_trip():
    response = decode_response(encode_response(None, [CERT], "10.0.0.1"))
    assert response.x224_connection_response is None
    assert response.server_cert_chain == (CERT,)


def test_error_all_fields_round_trip():
    encoded = encode_error(1, http_status_code=502, wsa_last_error=10060, tls_alert_code=45)
    assert decode_response(encoded) == RDCleanPathErrorResponse(1, 502, 10060, 45)


def test_error_negotiation_round_trip():
    failure = build_negotiation_failure(5)
    decoded = decode_response(encode_error(NEGOTIATION_ERROR_CODE, x224_connection_pdu=failure))
    assert decoded.error_code == NEGOTIATION_ERROR_CODE
    assert decoded.x224_connection_response == failure


def test_error_maximum_values_round_trip():
    decoded = decode_response(encode_error(0xFFFF, 0xFFFF, 0xFFFF, 0xFF))
    assert decoded == RDCleanPathErrorResponse(0xFFFF, 0xFFFF, 0xFFFF, 0xFF)


def test_error_describe_wsa():
    text = decode_response(WSA_ERROR).describe()
    assert text == "general error (code 1); WSA 10061 WSAECONNREFUSED (connection refused)"


def test_error_describe_negotiation():
    assert RDCleanPathErrorResponse(error_code=2).describe() == "negotiation error (code 2)"


def test_long_form_lengths_round_trip():
    # 200-byte X.224 and 300-byte token need long-form lengths at every level.
    x224 = bytes(range(200))
    token = "t" * 300
    encoded = encode_request("rdp", token, x224)
    assert encoded[:2] == bytes([0x30, 0x82])
    request = decode_request(encoded)
    assert request.x224_connection_request == x224
    assert request.proxy_auth == token


def test_long_form_x224_field_header():
    encoded = encode_request("rdp", "tok", bytes(200))
    # [6] contains 3 + 200 bytes: a6 81 cb, then OCTET STRING 04 81 c8.
    assert bytes.fromhex("a681cb0481c8") in encoded


# Request validation


def test_request_wrong_version():
    data = _der(bytes.fromhex("a00402020d3f"), DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD)
    with pytest.raises(UnsupportedVersionError, match="3391") as info:
        decode_request(data)
    assert info.value.version == 3391


def test_request_negative_version():
    data = _der(bytes.fromhex("a0030201ff"), DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD)
    with pytest.raises(UnsupportedVersionError):
        decode_request(data)


def test_request_missing_version():
    with pytest.raises(MissingFieldError) as info:
        decode_request(_der(DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD))
    assert info.value.field_name == "version"


def test_request_missing_destination():
    with pytest.raises(MissingFieldError) as info:
        decode_request(_der(VERSION_FIELD, PROXY_AUTH_FIELD, X224_FIELD))
    assert info.value.field_name == "destination"


def test_request_missing_proxy_auth():
    with pytest.raises(MissingFieldError) as info:
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, X224_FIELD))
    assert info.value.field_name == "proxy_auth"


def test_request_without_x224_or_blob():
    with pytest.raises(MissingFieldError, match="neither"):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD))


def test_request_blank_blob_without_x224():
    blank_blob = bytes.fromhex("a5050c03202020")
    with pytest.raises(MissingFieldError):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD, blank_blob))


def test_request_with_server_addr():
    server_addr = bytes.fromhex("a9050c03313233")
    with pytest.raises(UnexpectedFieldError) as info:
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD, server_addr))
    assert info.value.field_name == "server_addr"


def test_request_destination_as_octet_string():
    destination = bytes.fromhex("a2050403726470")
    with pytest.raises(InvalidFieldError, match="destination") as info:
        decode_request(_der(VERSION_FIELD, destination, PROXY_AUTH_FIELD, X224_FIELD))
    assert info.value.field_name == "destination"


def test_request_x224_as_utf8string():
    x224 = bytes.fromhex("a6050c03616263")
    with pytest.raises(InvalidFieldError, match="x224_connection_pdu"):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD, x224))


def test_request_version_as_string():
    version = bytes.fromhex("a0050c03333339")
    with pytest.raises(InvalidFieldError, match="version"):
        decode_request(_der(version, DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD))


def test_request_invalid_utf8():
    proxy_auth = bytes.fromhex("a3040c02c328")
    with pytest.raises(InvalidFieldError, match="proxy_auth"):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, proxy_auth, X224_FIELD))


def test_request_implicit_tag_rejected():
    # [2] IMPLICIT (primitive 0x82) instead of EXPLICIT (constructed 0xa2).
    destination = bytes.fromhex("8203726470")
    with pytest.raises(MalformedPduError, match="0x82"):
        decode_request(_der(VERSION_FIELD, destination, PROXY_AUTH_FIELD, X224_FIELD))


def test_request_unknown_field_rejected():
    ocsp = bytes.fromhex("a8050c03616263")
    with pytest.raises(MalformedPduError, match="0xa8"):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD, ocsp))


def test_request_fields_out_of_order():
    with pytest.raises(MalformedPduError, match="out of order"):
        decode_request(_der(VERSION_FIELD, PROXY_AUTH_FIELD, DESTINATION_FIELD, X224_FIELD))


def test_request_field_repeated():
    with pytest.raises(MalformedPduError, match="repeated"):
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, DESTINATION_FIELD, PROXY_AUTH_FIELD, X224_FIELD))


def test_request_field_with_extra_content():
    # [2] declares 7 content bytes: the UTF8String (5) plus two stray bytes.
    destination = bytes.fromhex("a2070c037264700500")
    with pytest.raises(InvalidFieldError, match="destination"):
        decode_request(_der(VERSION_FIELD, destination, PROXY_AUTH_FIELD, X224_FIELD))


def test_request_truncated():
    with pytest.raises(MalformedPduError, match="truncated"):
        decode_request(MINIMAL_REQUEST[:-1])


def test_request_trailing_bytes():
    with pytest.raises(MalformedPduError, match="1 extra bytes"):
        decode_request(MINIMAL_REQUEST + b"\x00")


def test_request_field_past_end():
    data = bytearray(MINIMAL_REQUEST)
    data[-7] = 0x07  # [6] now declares 7 content bytes, one past the SEQUENCE
    with pytest.raises(MalformedPduError, match="past the end"):
        decode_request(bytes(data))


def test_request_wrong_outer_tag():
    with pytest.raises(MalformedPduError, match="0x31"):
        decode_request(b"\x31" + MINIMAL_REQUEST[1:])


def test_request_empty_input():
    with pytest.raises(MalformedPduError):
        decode_request(b"")


def test_request_indefinite_length():
    with pytest.raises(MalformedPduError, match="indefinite"):
        decode_request(b"\x30\x80" + MINIMAL_REQUEST[2:] + b"\x00\x00")


def test_request_error_messages_hide_token():
    bad_x224 = bytes.fromhex("a6050c03616263")
    proxy_auth = bytes.fromhex("a30e0c0c") + b"secret-token"
    with pytest.raises(InvalidFieldError) as info:
        decode_request(_der(VERSION_FIELD, DESTINATION_FIELD, proxy_auth, bad_x224))
    assert "secret-token" not in str(info.value)


# Response validation


def test_response_missing_cert_chain():
    server_addr = bytes.fromhex("a9050c03313233")
    with pytest.raises(MissingFieldError) as info:
        decode_response(_der(VERSION_FIELD, X224_FIELD, server_addr))
    assert info.value.field_name == "server_cert_chain"


def test_response_without_error_or_server_addr():
    with pytest.raises(MissingFieldError) as info:
        decode_response(_der(VERSION_FIELD, X224_FIELD))
    assert info.value.field_name == "error"


def test_response_with_destination():
    with pytest.raises(UnexpectedFieldError) as info:
        decode_response(MINIMAL_REQUEST)
    assert info.value.field_name == "destination"


def test_response_wrong_version():
    data = bytearray(WSA_ERROR)
    data[7] = 0x3F
    with pytest.raises(UnsupportedVersionError):
        decode_response(bytes(data))


def test_error_code_out_of_range():
    # error_code 65536: INTEGER 01 00 00.
    error = bytes.fromhex("a1093007a005020301" "0000")
    with pytest.raises(InvalidFieldError, match="65536"):
        decode_response(_der(VERSION_FIELD, error))


def test_tls_alert_out_of_range():
    # tls_alert_code 256: INTEGER 01 00.
    error = bytes.fromhex("a10d300ba003020101a30402020100")
    with pytest.raises(InvalidFieldError, match="tls_alert_code 256"):
        decode_response(_der(VERSION_FIELD, error))


def test_error_missing_error_code():
    error = bytes.fromhex("a1083006a104020201f4")
    with pytest.raises(InvalidFieldError, match="error"):
        decode_response(_der(VERSION_FIELD, error))


def test_cert_chain_element_wrong_type():
    chain = bytes.fromhex("a70730050c03616263")
    server_addr = bytes.fromhex("a9050c03313233")
    with pytest.raises(InvalidFieldError, match="server_cert_chain"):
        decode_response(_der(VERSION_FIELD, chain, server_addr))


def test_schema_decoding_matches_pyasn1_full_decode():
    # The per-field decoder must agree with a whole-PDU pyasn1 decode.
    value, rest = der_decoder.decode(RESPONSE, asn1Spec=rdcleanpath._PduSchema())
    assert rest == b""
    assert str(value["server_addr"]) == "127.0.0.1"
    assert bytes(value["x224_connection_pdu"]) == CONFIRM


# Encoder argument checks


def test_encode_response_empty_chain():
    with pytest.raises(ValueError, match="at least"):
        encode_response(CONFIRM, [], "127.0.0.1")


def test_encode_response_chain_as_bytes():
    with pytest.raises(TypeError):
        encode_response(CONFIRM, CERT, "127.0.0.1")


def test_encode_error_code_out_of_range():
    with pytest.raises(ValueError, match="wsa_last_error 70000"):
        encode_error(1, wsa_last_error=70000)


def test_encode_error_tls_alert_out_of_range():
    with pytest.raises(ValueError):
        encode_error(1, tls_alert_code=256)


def test_encode_error_bool_rejected():
    with pytest.raises(TypeError):
        encode_error(True)


def test_encode_request_without_x224_or_blob():
    with pytest.raises(ValueError):
        encode_request("rdp", "tok")


def test_encode_request_lone_surrogate():
    with pytest.raises(ValueError, match="destination"):
        encode_request("\ud800", "tok", bytes(3))


def test_encode_request_proxy_auth_not_str():
    with pytest.raises(TypeError):
        encode_request("rdp", b"tok", bytes(3))

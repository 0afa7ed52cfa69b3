"""RDCleanPath PDU, version 3390, encoded in DER with pyasn1.

RDCleanPath is the protocol between IronRDP's web client and an RDP gateway.
The client sends one request. The gateway does the TCP connect, X.224 and TLS
with the RDP server and replies with one response or error PDU. Then RDP bytes
flow both ways. The layout follows IronRDP's ``crates/ironrdp-rdcleanpath/src/lib.rs``
(crate ironrdp-rdcleanpath 0.2.2): one SEQUENCE of EXPLICIT context-tagged
fields, all optional in the schema::

    [0] version             INTEGER (3390)                          both ways
    [1] error               SEQUENCE {                              gateway to client
            [0] error_code       INTEGER (1 general, 2 negotiation; u16)
            [1] http_status_code INTEGER OPTIONAL (u16)
            [2] wsa_last_error   INTEGER OPTIONAL (u16)
            [3] tls_alert_code   INTEGER OPTIONAL (u8) }
    [2] destination         UTF8String                              client to gateway
    [3] proxy_auth          UTF8String                              client to gateway
    [4] server_auth         UTF8String                              unused
    [5] preconnection_blob  UTF8String                              client to gateway
    [6] x224_connection_pdu OCTET STRING                            both ways
    [7] server_cert_chain   SEQUENCE OF OCTET STRING (DER X.509)    gateway to client
    [9] server_addr         UTF8String                              gateway to client

Tag [8] is unused (IronRDP reserves it for an OCSP response). Decoders raise
only ``RDCleanPathError`` subclasses, and their messages name fields but never
repeat field contents, because ``proxy_auth`` carries the console token.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, namedtype, tag, univ

from rdpconsole.wire.der import (
    CONTEXT_CONSTRUCTED,
    SEQUENCE_TAG,
    DerFramingError,
    read_header,
)
from rdpconsole.wire.errors import WireError
from rdpconsole.wire.wsa import describe_wsa_error

# RDCleanPath version 1, which IronRDP defines as 3389 + 1.
VERSION = 3390

# error_code values (IronRDP GENERAL_ERROR_CODE and NEGOTIATION_ERROR_CODE).
GENERAL_ERROR_CODE = 1
# The RDP server refused the X.224 negotiation; x224_connection_pdu carries its Connection Confirm.
NEGOTIATION_ERROR_CODE = 2

# Value ranges of the error fields, from the Rust types in IronRDP (u16 and u8).
MAX_U16 = 0xFFFF
MAX_U8 = 0xFF


class RDCleanPathError(WireError):
    """Invalid RDCleanPath PDU."""


class MalformedPduError(RDCleanPathError):
    """Bytes that are not a DER SEQUENCE of known RDCleanPath fields."""


class UnsupportedVersionError(RDCleanPathError):
    """A version field other than 3390."""

    def __init__(self, version: int):
        super().__init__(f"unsupported RDCleanPath version {version}; this gateway supports {VERSION}")
        self.version = version


class MissingFieldError(RDCleanPathError):
    """A field that this kind of PDU requires is absent."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field_name = field_name


class InvalidFieldError(RDCleanPathError):
    """A field whose contents are not of its ASN.1 type or outside its value range."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field_name = field_name


class UnexpectedFieldError(RDCleanPathError):
    """A field that only the other side sends, for example ``server_addr`` in a request."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field_name = field_name


def _explicit(number: int) -> tag.Tag:
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)


class _ErrorSchema(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("error_code", univ.Integer().subtype(explicitTag=_explicit(0))),
        namedtype.OptionalNamedType("http_status_code", univ.Integer().subtype(explicitTag=_explicit(1))),
        namedtype.OptionalNamedType("wsa_last_error", univ.Integer().subtype(explicitTag=_explicit(2))),
        namedtype.OptionalNamedType("tls_alert_code", univ.Integer().subtype(explicitTag=_explicit(3))),
    )


class _PduSchema(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer().subtype(explicitTag=_explicit(0))),
        namedtype.OptionalNamedType("error", _ErrorSchema().subtype(explicitTag=_explicit(1))),
        namedtype.OptionalNamedType("destination", char.UTF8String().subtype(explicitTag=_explicit(2))),
        namedtype.OptionalNamedType("proxy_auth", char.UTF8String().subtype(explicitTag=_explicit(3))),
        namedtype.OptionalNamedType("server_auth", char.UTF8String().subtype(explicitTag=_explicit(4))),
        namedtype.OptionalNamedType("preconnection_blob", char.UTF8String().subtype(explicitTag=_explicit(5))),
        namedtype.OptionalNamedType("x224_connection_pdu", univ.OctetString().subtype(explicitTag=_explicit(6))),
        namedtype.OptionalNamedType(
            "server_cert_chain",
            univ.SequenceOf(componentType=univ.OctetString()).subtype(explicitTag=_explicit(7)),
        ),
        namedtype.OptionalNamedType("server_addr", char.UTF8String().subtype(explicitTag=_explicit(9))),
    )


# Context tag number -> (field name, ASN.1 type as named in error messages).
_FIELDS: dict[int, tuple[str, str]] = {
    0: ("version", "INTEGER"),
    1: ("error", "SEQUENCE of error_code [0], http_status_code [1], wsa_last_error [2], tls_alert_code [3]"),
    2: ("destination", "UTF8String"),
    3: ("proxy_auth", "UTF8String"),
    4: ("server_auth", "UTF8String"),
    5: ("preconnection_blob", "UTF8String"),
    6: ("x224_connection_pdu", "OCTET STRING"),
    7: ("server_cert_chain", "SEQUENCE OF OCTET STRING"),
    9: ("server_addr", "UTF8String"),
}
_TAG_NUMBERS: dict[str, int] = {name: number for number, (name, _) in _FIELDS.items()}

_ERROR_FIELD_LIMITS: dict[str, int] = {
    "error_code": MAX_U16,
    "http_status_code": MAX_U16,
    "wsa_last_error": MAX_U16,
    "tls_alert_code": MAX_U8,
}

_REQUEST_ONLY_FIELDS = ("destination", "proxy_auth", "server_auth", "preconnection_blob")
_RESPONSE_ONLY_FIELDS = ("error", "server_cert_chain", "server_addr")


class RequestShape(enum.Enum):
    """The two kinds of RDCleanPath request."""

    # X.224 Connection Request present. The gateway sends an optional preconnection
    # PDU, then the client's X.224 request, reads the Confirm, and starts TLS.
    ORDINARY = "ordinary"
    # No X.224, a non-empty preconnection blob. The gateway sends the blob as a
    # preconnection PDU V2 and starts TLS; the client runs CredSSP and X.224 inside TLS.
    VMCONNECT = "vmconnect"


@dataclass(frozen=True)
class RDCleanPathRequest:
    """A decoded client request. ``proxy_auth`` and ``server_auth`` are left out of repr()."""

    destination: str
    proxy_auth: str = field(repr=False)
    x224_connection_request: bytes | None = None
    # IronRDP (lib.rs) defines two meanings. With X.224 present, the blob is a whole
    # preconnection PDU's bytes carried as a string. Without X.224, it is the V2
    # payload text (for Hyper-V, the VM GUID) that the gateway encodes.
    preconnection_blob: str | None = None
    server_auth: str | None = field(default=None, repr=False)

    @property
    def shape(self) -> RequestShape:
        """ORDINARY when the X.224 Connection Request is present, else VMCONNECT."""
        if self.x224_connection_request is not None:
            return RequestShape.ORDINARY
        return RequestShape.VMCONNECT


@dataclass(frozen=True)
class RDCleanPathResponse:
    """A successful gateway response; ``x224_connection_response`` is None after a VMConnect request."""

    x224_connection_response: bytes | None
    server_cert_chain: tuple[bytes, ...]
    server_addr: str


@dataclass(frozen=True)
class RDCleanPathErrorResponse:
    """A gateway error PDU; ``x224_connection_response`` carries the server's Confirm after a negotiation error."""

    error_code: int
    http_status_code: int | None = None
    wsa_last_error: int | None = None
    tls_alert_code: int | None = None
    x224_connection_response: bytes | None = None

    def describe(self) -> str:
        """Return a one-line description, such as "general error (code 1); WSA 10061 WSAECONNREFUSED (...)"."""
        kinds = {GENERAL_ERROR_CODE: "general error", NEGOTIATION_ERROR_CODE: "negotiation error"}
        parts = [f"{kinds.get(self.error_code, 'unknown error')} (code {self.error_code})"]
        if self.http_status_code is not None:
            parts.append(f"HTTP {self.http_status_code}")
        if self.wsa_last_error is not None:
            parts.append(describe_wsa_error(self.wsa_last_error))
        if self.tls_alert_code is not None:
            parts.append(f"TLS alert {self.tls_alert_code}")
        return "; ".join(parts)


# Decoding


def _decode_field(number: int, element: bytes) -> object:
    name, type_name = _FIELDS[number]
    spec = _PduSchema.componentType[name].asn1Object
    try:
        value, rest = der_decoder.decode(element, asn1Spec=spec)
    except PyAsn1Error:
        # "from None": pyasn1's message may quote the field's bytes, which can be a token.
        raise InvalidFieldError(f"RDCleanPath field {name} [{number}] is not a valid {type_name}", name) from None
    if rest:
        raise InvalidFieldError(f"RDCleanPath field {name} [{number}] has {len(rest)} extra bytes", name)

    if name == "version":
        return int(value)
    if name == "error":
        return _error_fields(value)
    if name == "x224_connection_pdu":
        return bytes(value)
    if name == "server_cert_chain":
        return tuple(bytes(certificate) for certificate in value)
    return str(value)


def _error_fields(value: univ.Sequence) -> dict[str, int]:
    fields = {}
    for name, limit in _ERROR_FIELD_LIMITS.items():
        component = value[name]
        if not component.isValue:
            continue
        number = int(component)
        if not 0 <= number <= limit:
            raise InvalidFieldError(
                f"RDCleanPath field error [1] has {name} {number}, outside the range 0 to {limit}", "error"
            )
        fields[name] = number
    return fields


def _decode_fields(data: bytes) -> dict[str, object]:
    """Split the outer SEQUENCE into its fields and decode each with its pyasn1 schema."""
    try:
        header = read_header(data)
    except DerFramingError as exc:
        raise MalformedPduError(f"invalid RDCleanPath PDU: {exc}") from exc
    if header is None:
        raise MalformedPduError(f"RDCleanPath PDU is truncated: only {len(data)} bytes")
    if header.tag != SEQUENCE_TAG:
        raise MalformedPduError(
            f"RDCleanPath PDU starts with 0x{header.tag:02x}, expected 0x{SEQUENCE_TAG:02x} (DER SEQUENCE)"
        )
    if header.total_length > len(data):
        raise MalformedPduError(
            f"RDCleanPath PDU is truncated: it declares {header.total_length} bytes, got {len(data)}"
        )
    if header.total_length < len(data):
        raise MalformedPduError(
            f"RDCleanPath PDU is followed by {len(data) - header.total_length} extra bytes"
        )

    fields: dict[str, object] = {}
    previous_number = -1
    offset = header.header_length
    while offset < len(data):
        try:
            element = read_header(data, offset)
        except DerFramingError as exc:
            raise MalformedPduError(f"invalid RDCleanPath field header: {exc}") from exc
        if element is None or offset + element.total_length > len(data):
            raise MalformedPduError(f"RDCleanPath field at offset {offset} runs past the end of the PDU")

        number = element.tag & 0x1F
        if element.tag & 0xE0 != CONTEXT_CONSTRUCTED or number not in _FIELDS:
            raise MalformedPduError(
                f"unknown RDCleanPath field with identifier octet 0x{element.tag:02x} at offset {offset}"
            )
        # A SEQUENCE encodes each component at most once, in the schema's order (X.690 8.9.3).
        if number <= previous_number:
            raise MalformedPduError(
                f"RDCleanPath field {_FIELDS[number][0]} [{number}] at offset {offset} "
                "is repeated or out of order"
            )

        fields[_FIELDS[number][0]] = _decode_field(number, data[offset:offset + element.total_length])
        previous_number = number
        offset += element.total_length

    if "version" not in fields:
        raise MissingFieldError("RDCleanPath PDU is missing field version [0]", "version")
    if fields["version"] != VERSION:
        raise UnsupportedVersionError(fields["version"])
    return fields


def _reject_fields(fields: dict[str, object], names: Sequence[str], kind: str) -> None:
    for name in names:
        if name in fields:
            raise UnexpectedFieldError(
                f"RDCleanPath {kind} must not contain field {name} [{_TAG_NUMBERS[name]}]", name
            )


def _require_field(fields: dict[str, object], name: str, kind: str) -> object:
    if name not in fields:
        raise MissingFieldError(f"RDCleanPath {kind} is missing field {name} [{_TAG_NUMBERS[name]}]", name)
    return fields[name]


def decode_request(data: bytes) -> RDCleanPathRequest:
    """Decode and validate a client's RDCleanPath request."""
    fields = _decode_fields(data)
    _reject_fields(fields, _RESPONSE_ONLY_FIELDS, "request")
    destination = _require_field(fields, "destination", "request")
    proxy_auth = _require_field(fields, "proxy_auth", "request")

    x224 = fields.get("x224_connection_pdu")
    blob = fields.get("preconnection_blob")
    # Like IronRDP, a blank blob does not make a VMConnect request.
    if x224 is None and (blob is None or not blob.strip()):
        raise MissingFieldError(
            "RDCleanPath request has neither field x224_connection_pdu [6] "
            "nor a non-empty preconnection_blob [5]",
            "x224_connection_pdu",
        )

    return RDCleanPathRequest(
        destination=destination,
        proxy_auth=proxy_auth,
        x224_connection_request=x224,
        preconnection_blob=blob,
        server_auth=fields.get("server_auth"),
    )


def decode_response(data: bytes) -> RDCleanPathResponse | RDCleanPathErrorResponse:
    """Decode a gateway's RDCleanPath response or error PDU (for clients and tests)."""
    fields = _decode_fields(data)
    _reject_fields(fields, _REQUEST_ONLY_FIELDS, "response")

    if "server_addr" in fields:
        if "error" in fields:
            raise UnexpectedFieldError(
                "RDCleanPath response with field server_addr [9] must not contain field error [1]", "error"
            )
        return RDCleanPathResponse(
            x224_connection_response=fields.get("x224_connection_pdu"),
            server_cert_chain=_require_field(fields, "server_cert_chain", "response"),
            server_addr=fields["server_addr"],
        )

    error = _require_field(fields, "error", "error response")
    return RDCleanPathErrorResponse(
        error_code=error["error_code"],
        http_status_code=error.get("http_status_code"),
        wsa_last_error=error.get("wsa_last_error"),
        tls_alert_code=error.get("tls_alert_code"),
        x224_connection_response=fields.get("x224_connection_pdu"),
    )


# Encoding


def _check_text(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not encodable as UTF-8") from None
    return value


def _check_bytes(name: str, value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _check_range(name: str, value: int, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= limit:
        raise ValueError(f"{name} {value} is outside the range 0 to {limit}")
    return value


def _new_pdu() -> _PduSchema:
    pdu = _PduSchema()
    pdu["version"] = VERSION
    return pdu


def encode_request(
    destination: str,
    proxy_auth: str,
    x224_connection_request: bytes | None = None,
    preconnection_blob: str | None = None,
    server_auth: str | None = None,
) -> bytes:
    """Encode a client request (for test clients): ordinary with X.224, VMConnect with a blob only."""
    if x224_connection_request is None and (preconnection_blob is None or not preconnection_blob.strip()):
        raise ValueError("a request needs x224_connection_request or a non-empty preconnection_blob")

    pdu = _new_pdu()
    pdu["destination"] = _check_text("destination", destination)
    pdu["proxy_auth"] = _check_text("proxy_auth", proxy_auth)
    if server_auth is not None:
        pdu["server_auth"] = _check_text("server_auth", server_auth)
    if preconnection_blob is not None:
        pdu["preconnection_blob"] = _check_text("preconnection_blob", preconnection_blob)
    if x224_connection_request is not None:
        pdu["x224_connection_pdu"] = _check_bytes("x224_connection_request", x224_connection_request)
    return der_encoder.encode(pdu)


def encode_response(x224_confirm: bytes | None, cert_chain: Sequence[bytes], server_addr: str) -> bytes:
    """Encode a successful response; pass ``x224_confirm=None`` after a VMConnect request."""
    if isinstance(cert_chain, (bytes, bytearray, memoryview)):
        raise TypeError("cert_chain must be a sequence of DER certificates, not a single bytes object")
    # IronRDP's client binds CredSSP to the public key of the first certificate.
    if not cert_chain:
        raise ValueError("cert_chain must contain at least the server's certificate")

    pdu = _new_pdu()
    if x224_confirm is not None:
        pdu["x224_connection_pdu"] = _check_bytes("x224_confirm", x224_confirm)
    chain = pdu["server_cert_chain"]
    for index, certificate in enumerate(cert_chain):
        chain.append(_check_bytes(f"cert_chain[{index}]", certificate))
    pdu["server_addr"] = _check_text("server_addr", server_addr)
    return der_encoder.encode(pdu)


def encode_error(
    error_code: int,
    http_status_code: int | None = None,
    wsa_last_error: int | None = None,
    tls_alert_code: int | None = None,
    x224_connection_pdu: bytes | None = None,
) -> bytes:
    """Encode an error PDU: GENERAL_ERROR_CODE, or NEGOTIATION_ERROR_CODE with the server's Confirm."""
    pdu = _new_pdu()
    error = pdu["error"]
    error["error_code"] = _check_range("error_code", error_code, MAX_U16)
    if http_status_code is not None:
        error["http_status_code"] = _check_range("http_status_code", http_status_code, MAX_U16)
    if wsa_last_error is not None:
        error["wsa_last_error"] = _check_range("wsa_last_error", wsa_last_error, MAX_U16)
    if tls_alert_code is not None:
        error["tls_alert_code"] = _check_range("tls_alert_code", tls_alert_code, MAX_U8)
    if x224_connection_pdu is not None:
        pdu["x224_connection_pdu"] = _check_bytes("x224_connection_pdu", x224_connection_pdu)
    return der_encoder.encode(pdu)

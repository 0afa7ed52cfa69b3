"""DER identifier and length octets (ITU-T X.690 8.1.2, 8.1.3 and the DER rules of 10.1).

This module reads headers only: the RDCleanPath values themselves are encoded
and decoded by pyasn1. It supports what RDCleanPath uses, which is tag numbers
0 to 30 in a single identifier octet and definite lengths of at most
``MAX_LENGTH_OCTETS`` length octets.
"""

from dataclasses import dataclass

from rdpconsole.wire.errors import WireError

# Identifier octet of a universal, constructed SEQUENCE (tag number 16, X.690 8.9).
SEQUENCE_TAG = 0x30

# Class bits 0b10 (context-specific) plus the constructed bit 0x20: an EXPLICIT
# context tag [n] is the identifier octet CONTEXT_CONSTRUCTED | n (X.690 8.14).
CONTEXT_CONSTRUCTED = 0xA0

# Low five bits all set: the tag number continues in further octets (X.690 8.1.2.4).
HIGH_TAG_NUMBER_FORM = 0x1F

# A first length octet of 0x80 starts an indefinite length, which DER forbids (X.690 10.1).
INDEFINITE_LENGTH_OCTET = 0x80

# 0xFF as the first length octet is reserved (X.690 8.1.3.5 c).
RESERVED_LENGTH_OCTET = 0xFF

# Four length octets describe contents up to 4 GiB - 1, far beyond any PDU this
# package accepts, so longer length fields are rejected rather than computed.
MAX_LENGTH_OCTETS = 4


class DerFramingError(WireError):
    """A DER header that is invalid, or not the one expected at this point."""


class UnexpectedTagError(DerFramingError):
    """An identifier octet other than the one expected, or one in the unsupported high tag number form."""


class IndefiniteLengthError(DerFramingError):
    """An indefinite length (first length octet 0x80), which DER forbids."""


class InvalidLengthError(DerFramingError):
    """A length that is reserved, longer than MAX_LENGTH_OCTETS, or not in the minimal DER form."""


class PduTooLargeError(DerFramingError):
    """A PDU whose total size exceeds the caller's limit."""

    def __init__(self, message: str, size: int, max_size: int):
        super().__init__(message)
        self.size = size
        self.max_size = max_size


class TrailingBytesError(DerFramingError):
    """Bytes after the end of a complete PDU."""

    def __init__(self, message: str, trailing: int):
        super().__init__(message)
        self.trailing = trailing


@dataclass(frozen=True)
class DerHeader:
    """Identifier octet and definite length of one DER TLV."""

    tag: int
    header_length: int
    content_length: int

    @property
    def total_length(self) -> int:
        """Size in bytes of the whole TLV: identifier, length octets and contents."""
        return self.header_length + self.content_length


def read_header(data: bytes, offset: int = 0) -> DerHeader | None:
    """Read the DER header at ``offset``; return None if ``data`` ends before the header does."""
    available = len(data) - offset
    if available < 1:
        return None

    tag = data[offset]
    if tag & HIGH_TAG_NUMBER_FORM == HIGH_TAG_NUMBER_FORM:
        raise UnexpectedTagError(
            f"identifier octet 0x{tag:02x} at offset {offset} uses the high tag number form, "
            "which RDCleanPath does not use"
        )
    if available < 2:
        return None

    first_length_octet = data[offset + 1]
    if first_length_octet < INDEFINITE_LENGTH_OCTET:
        return DerHeader(tag=tag, header_length=2, content_length=first_length_octet)
    if first_length_octet == INDEFINITE_LENGTH_OCTET:
        raise IndefiniteLengthError(
            f"indefinite length at offset {offset + 1}: DER requires a definite length"
        )
    if first_length_octet == RESERVED_LENGTH_OCTET:
        raise InvalidLengthError(f"reserved length octet 0xff at offset {offset + 1}")

    length_octets = first_length_octet & 0x7F
    if length_octets > MAX_LENGTH_OCTETS:
        raise InvalidLengthError(
            f"length at offset {offset + 1} has {length_octets} length octets; "
            f"at most {MAX_LENGTH_OCTETS} are supported"
        )
    if available < 2 + length_octets:
        return None

    start = offset + 2
    content_length = int.from_bytes(data[start:start + length_octets], "big")
    # DER uses the short form below 128 and no leading zero octets (X.690 10.1).
    if content_length < INDEFINITE_LENGTH_OCTET or data[start] == 0:
        raise InvalidLengthError(
            f"length {content_length} at offset {offset + 1} is not in the minimal DER form"
        )
    return DerHeader(tag=tag, header_length=2 + length_octets, content_length=content_length)

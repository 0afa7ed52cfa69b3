"""Reassembly of a split RDCleanPath request, and the DER header reader under it."""

import pytest

from rdpconsole.wire.assembler import DEFAULT_MAX_REQUEST_SIZE, RequestAssembler
from rdpconsole.wire.der import (
    DerHeader,
    IndefiniteLengthError,
    InvalidLengthError,
    PduTooLargeError,
    TrailingBytesError,
    UnexpectedTagError,
    read_header,
)
from rdpconsole.wire.rdcleanpath import decode_request, encode_request
from rdpconsole.wire.x224 import build_connection_request

SHORT_REQUEST = encode_request("rdp", "tok", build_connection_request())
LONG_REQUEST = encode_request("rdp", "t" * 300, build_connection_request())


def _feed_in_two(data: bytes, split: int) -> list[bytes | None]:
    assembler = RequestAssembler()
    return [assembler.feed(data[:split]), assembler.feed(data[split:])]


# RequestAssembler


def test_short_request_in_one_message():
    assert len(SHORT_REQUEST) < 128
    assert RequestAssembler().feed(SHORT_REQUEST) == SHORT_REQUEST


@pytest.mark.parametrize("data", [SHORT_REQUEST, LONG_REQUEST], ids=["short-form", "long-form"])
def test_split_at_every_byte(data):
    for split in range(1, len(data)):
        assert _feed_in_two(data, split) == [None, data], f"split at byte {split}"


@pytest.mark.parametrize("data", [SHORT_REQUEST, LONG_REQUEST], ids=["short-form", "long-form"])
def test_one_byte_per_message(data):
    assembler = RequestAssembler()
    results = [assembler.feed(data[i:i + 1]) for i in range(len(data))]
    assert results[:-1] == [None] * (len(data) - 1)
    assert results[-1] == data


def test_long_request_decodes_after_reassembly():
    assembler = RequestAssembler()
    assembler.feed(LONG_REQUEST[:3])
    assert decode_request(assembler.feed(LONG_REQUEST[3:])).proxy_auth == "t" * 300


def test_empty_messages_ignored():
    assembler = RequestAssembler()
    assert assembler.feed(b"") is None
    assert assembler.feed(SHORT_REQUEST) == SHORT_REQUEST


def test_complete_and_buffered_properties():
    assembler = RequestAssembler()
    assembler.feed(SHORT_REQUEST[:10])
    assert assembler.buffered == 10
    assert not assembler.complete
    assembler.feed(SHORT_REQUEST[10:])
    assert assembler.complete


def test_trailing_bytes_in_same_message():
    with pytest.raises(TrailingBytesError, match="3 bytes after") as info:
        RequestAssembler().feed(SHORT_REQUEST + b"abc")
    assert info.value.trailing == 3


def test_trailing_bytes_in_last_fragment():
    assembler = RequestAssembler()
    assembler.feed(SHORT_REQUEST[:20])
    with pytest.raises(TrailingBytesError) as info:
        assembler.feed(SHORT_REQUEST[20:] + b"\x03\x00")
    assert info.value.trailing == 2


def test_bytes_after_completion():
    assembler = RequestAssembler()
    assembler.feed(SHORT_REQUEST)
    with pytest.raises(TrailingBytesError) as info:
        assembler.feed(b"\x03\x00\x00\x13")
    assert info.value.trailing == 4


def test_empty_feed_after_completion():
    assembler = RequestAssembler()
    assembler.feed(SHORT_REQUEST)
    assert assembler.feed(b"") is None


def test_wrong_outer_tag():
    with pytest.raises(UnexpectedTagError, match="0x16"):
        RequestAssembler().feed(b"\x16\x03\x01")  # a TLS ClientHello


def test_wrong_outer_tag_on_first_byte_alone():
    with pytest.raises(UnexpectedTagError):
        RequestAssembler().feed(b"G")  # an HTTP request


def test_indefinite_length():
    with pytest.raises(IndefiniteLengthError):
        RequestAssembler().feed(b"\x30\x80")


def test_oversize_declared_length_rejected_early():
    # 30 83 01 00 00: 65536 content bytes declared, none sent.
    with pytest.raises(PduTooLargeError) as info:
        RequestAssembler().feed(bytes.fromhex("3083010000"))
    assert info.value.size == 65536 + 5
    assert info.value.max_size == DEFAULT_MAX_REQUEST_SIZE


def test_limit_is_inclusive():
    assembler = RequestAssembler(max_size=len(SHORT_REQUEST))
    assert assembler.feed(SHORT_REQUEST) == SHORT_REQUEST


def test_limit_one_below():
    with pytest.raises(PduTooLargeError):
        RequestAssembler(max_size=len(SHORT_REQUEST) - 1).feed(SHORT_REQUEST[:2])


def test_too_many_length_octets():
    with pytest.raises(InvalidLengthError):
        RequestAssembler().feed(bytes.fromhex("3085"))


def test_non_minimal_length():
    with pytest.raises(InvalidLengthError, match="minimal"):
        RequestAssembler().feed(bytes.fromhex("30817f"))


def test_default_limit_is_64_kib():
    assert DEFAULT_MAX_REQUEST_SIZE == 65536


def test_max_size_below_header():
    with pytest.raises(ValueError):
        RequestAssembler(max_size=1)


# read_header


def test_header_short_form():
    assert read_header(b"\x30\x05") == DerHeader(tag=0x30, header_length=2, content_length=5)


def test_header_long_form_one_octet():
    assert read_header(b"\x30\x81\x80") == DerHeader(tag=0x30, header_length=3, content_length=128)


def test_header_long_form_two_octets():
    assert read_header(b"\x04\x82\x01\x00") == DerHeader(tag=0x04, header_length=4, content_length=256)


def test_header_at_offset():
    assert read_header(b"\xff\xa6\x03", offset=1) == DerHeader(tag=0xA6, header_length=2, content_length=3)


def test_header_incomplete():
    for data in (b"", b"\x30", b"\x30\x82", b"\x30\x82\x01"):
        assert read_header(data) is None, data.hex()


def test_header_leading_zero_length_octet():
    with pytest.raises(InvalidLengthError):
        read_header(b"\x30\x82\x00\x80")


def test_header_reserved_length_octet():
    with pytest.raises(InvalidLengthError, match="reserved"):
        read_header(b"\x30\xff")


def test_header_high_tag_number_form():
    with pytest.raises(UnexpectedTagError, match="high tag number"):
        read_header(b"\xbf\x1f\x01")

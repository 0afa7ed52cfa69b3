"""Decoders raise only their declared exception types on arbitrary bytes.

The seeded test always runs and is reproducible: it feeds random bytes and
mutated valid PDUs (bit flips, truncations, insertions). The hypothesis test
runs too when hypothesis is installed.
"""

import random

import pytest

from rdpconsole.wire.assembler import RequestAssembler
from rdpconsole.wire.der import DerFramingError
from rdpconsole.wire.preconnection import (
    PreconnectionPduError,
    decode_preconnection,
    encode_preconnection_v1,
    encode_preconnection_v2,
)
from rdpconsole.wire.rdcleanpath import (
    RDCleanPathError,
    decode_request,
    decode_response,
    encode_error,
    encode_request,
    encode_response,
)
from rdpconsole.wire.x224 import (
    TpktError,
    X224Error,
    build_connection_confirm,
    build_connection_request,
    build_negotiation_failure,
    parse_connection_confirm,
    parse_connection_request,
    read_tpkt_length,
)

SEED = 20240607
CASES_PER_DECODER = 2000
MAX_RANDOM_LENGTH = 300


def _assemble(data: bytes) -> None:
    assembler = RequestAssembler(max_size=1024)
    for start in range(0, len(data), 7):
        if assembler.feed(data[start:start + 7]) is not None:
            return


def _tpkt_length(data: bytes) -> None:
    read_tpkt_length(data[:4])


# decoder, declared exception types, valid inputs to mutate
DECODERS = {
    "decode_request": (
        decode_request,
        RDCleanPathError,
        [
            encode_request("rdp", "tok", build_connection_request()),
            encode_request("hyperv", "tok", preconnection_blob="vm", server_auth="s"),
        ],
    ),
    "decode_response": (
        decode_response,
        RDCleanPathError,
        [
            encode_response(build_connection_confirm(), [bytes(40), b"\x30\x00"], "127.0.0.1"),
            encode_error(1, 502, 10061, 40),
            encode_error(2, x224_connection_pdu=build_negotiation_failure(5)),
        ],
    ),
    "assembler": (
        _assemble,
        DerFramingError,
        [encode_request("rdp", "t" * 200, build_connection_request())],
    ),
    "decode_preconnection": (
        decode_preconnection,
        PreconnectionPduError,
        [encode_preconnection_v1(5), encode_preconnection_v2("0d6a1c63-1c1e-4d5b-9a8f-2c7a0f3a1b2c")],
    ),
    "parse_connection_request": (
        parse_connection_request,
        (X224Error, TpktError),
        [
            build_connection_request(),
            build_connection_request(None, 3, correlation_id=bytes(range(1, 17))),
        ],
    ),
    "parse_connection_confirm": (
        parse_connection_confirm,
        (X224Error, TpktError),
        [build_connection_confirm(), build_negotiation_failure(1)],
    ),
    "read_tpkt_length": (_tpkt_length, TpktError, [build_connection_confirm()]),
}


def _mutate(rng: random.Random, data: bytes) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        position = rng.randrange(len(mutated) + 1)
        if choice == 0 and mutated:
            mutated[position % len(mutated)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            mutated = mutated[:position]
        elif choice == 2:
            mutated[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif mutated:
            mutated[position % len(mutated)] = rng.choice([0x00, 0x7F, 0x80, 0x81, 0xFF])
    return bytes(mutated)


def _inputs(rng: random.Random, valid: list[bytes]):
    for index in range(CASES_PER_DECODER):
        if index % 2:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(MAX_RANDOM_LENGTH)))
        else:
            yield _mutate(rng, rng.choice(valid))


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_seeded_inputs_raise_declared_errors(name):
    decoder, declared, valid = DECODERS[name]
    rng = random.Random(f"{SEED}-{name}")
    for data in _inputs(rng, valid):
        try:
            decoder(data)
        except declared:
            pass
        except Exception as exc:  # noqa: BLE001 - the point is to catch anything undeclared
            pytest.fail(f"{name}({data.hex()}) raised {type(exc).__name__}: {exc}")


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is an optional test dependency
    given = None


if given is not None:

    @pytest.mark.parametrize("name", sorted(DECODERS))
    @settings(max_examples=300, deadline=None)
    @given(data=st.binary(max_size=MAX_RANDOM_LENGTH))
    def test_hypothesis_inputs_raise_declared_errors(name, data):
        decoder, declared, _valid = DECODERS[name]
        try:
            decoder(data)
        except declared:
            pass

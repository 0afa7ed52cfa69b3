"""The cap on concurrent sessions per console token."""

import pytest

from rdpconsole.gateway import errors
from rdpconsole.gateway.limits import SessionRegistry


def test_hold_counts_session():
    registry = SessionRegistry(2)

    with registry.hold("hash-a", "hash-a"):
        assert registry.open_sessions("hash-a") == 1


def test_hold_releases_on_exit():
    registry = SessionRegistry(1)

    with registry.hold("hash-a", "hash-a"):
        pass

    assert registry.open_sessions("hash-a") == 0
    assert len(registry) == 0


def test_hold_releases_on_error():
    registry = SessionRegistry(1)

    with pytest.raises(RuntimeError):
        with registry.hold("hash-a", "hash-a"):
            raise RuntimeError("session failed")

    assert registry.open_sessions("hash-a") == 0


def test_cap_rejects_extra_session():
    registry = SessionRegistry(1)

    with registry.hold("hash-a", "hash-a"):
        with pytest.raises(errors.TooManySessions):
            with registry.hold("hash-a", "hash-a"):
                pass


def test_cap_is_per_token():
    registry = SessionRegistry(1)

    with registry.hold("hash-a", "hash-a"), registry.hold("hash-b", "hash-b"):
        assert len(registry) == 2


def test_rejected_session_not_counted():
    registry = SessionRegistry(1)

    with registry.hold("hash-a", "hash-a"):
        with pytest.raises(errors.TooManySessions):
            with registry.hold("hash-a", "hash-a"):
                pass
        assert registry.open_sessions("hash-a") == 1

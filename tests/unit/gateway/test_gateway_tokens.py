"""Where a console session's token comes from: proxy_auth, the WebSocket URL and cookies."""

import pytest

from rdpconsole.gateway import errors
from rdpconsole.gateway.tokens import select_token
from rdpconsole.gateway.tokens import tokens_in_cookies
from rdpconsole.gateway.tokens import tokens_in_query

TOKEN = "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
OTHER = "11111111-2222-4333-8444-555555555555"


def test_query_tokens_in_order():
    assert tokens_in_query(b"title=x&token=a&token=b") == ["a", "b"]


def test_query_token_percent_decoded():
    assert tokens_in_query(b"token=a%2Db") == ["a-b"]


def test_query_without_token():
    assert tokens_in_query(b"title=server") == []


def test_cookie_token_found():
    assert tokens_in_cookies(f"session=1; token={TOKEN}; lang=en") == [TOKEN]


def test_cookie_quoted_value():
    assert tokens_in_cookies(f'token="{TOKEN}"') == [TOKEN]


def test_cookie_header_missing():
    assert tokens_in_cookies(None) == []


@pytest.mark.parametrize(
    ("proxy_auth", "query", "cookie"),
    [
        (TOKEN, b"", None),
        ("", f"token={TOKEN}".encode(), None),
        ("", b"", f"token={TOKEN}"),
        (TOKEN, f"token={TOKEN}".encode(), f"token={TOKEN}"),
    ],
    ids=["proxy_auth", "query", "cookie", "all agree"],
)
def test_select_token_sources(proxy_auth, query, cookie):
    assert select_token(proxy_auth, query, cookie) == TOKEN


def test_select_token_missing():
    with pytest.raises(errors.TokenMissing):
        select_token("", b"title=x", "lang=en")


def test_select_token_blank_query_is_missing():
    with pytest.raises(errors.TokenMissing):
        select_token("", b"token=", None)


def test_select_token_duplicate_query():
    with pytest.raises(errors.TokenConflict):
        select_token(TOKEN, f"token={TOKEN}&token={TOKEN}".encode(), None)


def test_select_token_conflicting_sources():
    with pytest.raises(errors.TokenConflict):
        select_token(TOKEN, f"token={OTHER}".encode(), None)


def test_select_token_conflicting_cookies():
    with pytest.raises(errors.TokenConflict):
        select_token("", b"", f"token={TOKEN}; token={OTHER}")


def test_conflict_message_hides_tokens():
    with pytest.raises(errors.TokenConflict) as raised:
        select_token(TOKEN, f"token={OTHER}".encode(), None)

    assert TOKEN not in str(raised.value)
    assert OTHER not in str(raised.value)

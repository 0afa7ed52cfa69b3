"""Tests of the roles that noauth2's X-Roles header implies."""

from rdpconsole.api import auth


def test_member_implies_reader():
    assert auth.expand_implied_roles(["member"]) == ["member", "reader"]


def test_admin_implies_member_and_reader():
    assert auth.expand_implied_roles(["admin"]) == ["admin", "member", "reader"]


def test_unknown_role_kept_alone():
    assert auth.expand_implied_roles(["auditor"]) == ["auditor"]


def test_repeated_roles_listed_once():
    assert auth.expand_implied_roles(["reader", "member", "reader"]) == ["reader", "member"]

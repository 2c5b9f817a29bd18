"""Certificate checks, with time frozen at the test PKI's reference time."""

from __future__ import annotations

import datetime as dt

import pytest

from smimehelper.core.validation import Purpose, find_problem
from tests.pki.make_pki import Pki


@pytest.mark.parametrize(
    ("name", "purpose", "code"),
    [
        ("bob", Purpose.ENCRYPT, None),
        ("carol", Purpose.ENCRYPT, None),
        ("alice", Purpose.SIGN, None),
        ("frank", Purpose.SIGN, None),
        ("expired", Purpose.ENCRYPT, "expired"),
        ("notyet", Purpose.ENCRYPT, "not_yet_valid"),
        ("signonly", Purpose.ENCRYPT, "wrong_usage"),
        ("signonly", Purpose.SIGN, None),
        ("wrongeku", Purpose.ENCRYPT, "wrong_usage"),
        ("weak", Purpose.ENCRYPT, "weak_key"),
    ],
)
def test_problem_codes(pki: Pki, name: str, purpose: Purpose, code: str | None) -> None:
    problem = find_problem(pki.entity(name).cert, purpose, pki.now)
    assert (problem.code if problem else None) == code
    if problem:
        assert pki.entity(name).email in problem.reason


def test_expiry_message_names_the_date_and_what_to_do(pki: Pki) -> None:
    problem = find_problem(pki.entity("expired").cert, Purpose.ENCRYPT, pki.now)
    assert problem is not None
    assert "expired on 2025-06-01" in problem.reason
    assert "ask expired@example.org for their new one" in problem.reason


def test_time_matters(pki: Pki) -> None:
    later = pki.now + dt.timedelta(days=400)
    problem = find_problem(pki.entity("bob").cert, Purpose.ENCRYPT, later)
    assert problem is not None and problem.code == "expired"


def test_email_mismatch(pki: Pki) -> None:
    problem = find_problem(pki.entity("bob").cert, Purpose.ENCRYPT, pki.now, "eve@example.org")
    assert problem is not None and problem.code == "email_mismatch"
    assert "bob@example.org" in problem.reason

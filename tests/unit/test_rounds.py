"""The loop guard (auth/rounds.py): one sign-in round per service within a few minutes."""

from __future__ import annotations

from typing import Any

from webapp.auth.rounds import PENDING_KEY, ROUND_WINDOW, ROUNDS_KEY, SignInRounds
from webapp.microsoft.errors import AccessRefusedError, AuthRequiredError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def refused_token(service: str = "sharepoint") -> AuthRequiredError:
    return AuthRequiredError(
        service,
        401,
        "invalid_client",
        "Token contains invalid signature.",
        "rid-1",
        diagnostics='3000006;reason="Token contains invalid signature."',
    )


def test_the_first_refusal_asks_for_a_sign_in_and_the_next_one_is_lasting() -> None:
    memory: dict[str, Any] = {}
    rounds = SignInRounds(memory, Clock())
    first = refused_token()
    assert rounds.checked(first) is first
    rounds.start("sharepoint", claims=None, consent=False)
    lasting = rounds.checked(refused_token())
    assert isinstance(lasting, AccessRefusedError)
    assert (lasting.service, lasting.request_id, lasting.diagnostics) == (
        "sharepoint",
        "rid-1",
        '3000006;reason="Token contains invalid signature."',
    )


def test_each_service_has_its_own_round() -> None:
    rounds = SignInRounds({}, Clock())
    rounds.start("sharepoint", claims=None, consent=False)
    assert not rounds.available("sharepoint")
    assert rounds.available("graph")


def test_a_round_is_available_again_after_the_window() -> None:
    clock = Clock()
    rounds = SignInRounds({}, clock)
    rounds.start("graph", claims=None, consent=False)
    clock.now += ROUND_WINDOW - 1
    assert not rounds.available("graph")
    clock.now += 1
    assert rounds.available("graph")


def test_rounds_survive_the_new_session_a_sign_in_starts() -> None:
    clock = Clock()
    before: dict[str, Any] = {}
    SignInRounds(before, clock).start("graph", claims=None, consent=False)
    after: dict[str, Any] = {}
    fresh = SignInRounds(after, clock)
    fresh.restore(SignInRounds(before, clock).started())
    assert not fresh.available("graph")


def test_junk_in_the_session_is_ignored() -> None:
    rounds = SignInRounds({ROUNDS_KEY: {"graph": "yesterday", "sharepoint": True}}, Clock())
    assert rounds.available("graph") and rounds.available("sharepoint")
    assert SignInRounds({ROUNDS_KEY: ["graph"]}, Clock()).started() == {}


def test_the_round_remembers_what_the_sign_in_must_ask_for_once() -> None:
    memory: dict[str, Any] = {}
    rounds = SignInRounds(memory, Clock())
    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    rounds.start("graph", claims=claims, consent=False)
    assert PENDING_KEY in memory
    assert rounds.take_pending() == {"service": "graph", "claims": claims, "consent": False}
    assert rounds.take_pending() is None

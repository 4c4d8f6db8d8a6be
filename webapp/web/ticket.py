"""The helpdesk ticket reference a deep link carries (`?ticket=INC0012345`), kept for the visit.

Anyone can send an employee a link, so the value is shown only as "reference from your
helpdesk link" and only in the format the helpdesk page documents: a ticket *number*, never
words (a link must not be able to put "CALL-HELPDESK-NOW" or "VISIT-EVIL-EXAMPLE-COM" on our
pages as if we said it, issue 16 item 9).
"""

from __future__ import annotations

import re
from typing import Final, TypedDict

from flask import Flask, g, request, session

PARAMETER: Final = "ticket"
SESSION_KEY = "helpdesk.ticket"
EXAMPLE = "INC0012345"
# A ticket number as service desks write them (INC0012345, REQ-2026-0001, CHG-42): at most
# six letters of prefix, then digits in groups joined by single hyphens; 3 to 32 characters.
# Short and plain (security.md §3.9): nothing that needs escaping, fits on one line, spells
# no words. Written so that JavaScript's RegExp reads it the same (the helpdesk page's script).
PATTERN = re.compile(r"(?=.{3,32}$)[A-Za-z]{0,6}-?[0-9]+(?:-[0-9]+)*")


def is_valid(value: str) -> bool:
    """Whether `value` is a ticket reference we accept."""
    return PATTERN.fullmatch(value) is not None


def _read() -> tuple[str | None, bool]:
    """(the visit's ticket, whether this request's `?ticket=` was malformed and ignored)."""
    if g.get("store_down"):  # the session store is unreachable: no ticket on the 503 page
        return None, False
    raw = request.args.get(PARAMETER, "")
    if raw and is_valid(raw):
        # Remembered for a signed-in visit only: an anonymous page view opens no session
        # (issue 16 item 7); the link keeps its ticket through sign-in by itself.
        if g.get("user") is not None and session.get(SESSION_KEY) != raw:
            session[SESSION_KEY] = raw
        return raw, False
    remembered = session.get(SESSION_KEY)
    kept = remembered if isinstance(remembered, str) and is_valid(remembered) else None
    return kept, bool(raw)


def current_ticket() -> str | None:
    """This visit's ticket reference: a valid `?ticket=` on this request (then remembered in
    the session for the following pages), else the one remembered earlier, else None.

    A malformed value is ignored, never echoed; `ticket_rejected()` says it happened.
    """
    return _visit()[0]


class Keep(TypedDict, total=False):
    """Link arguments carrying the ticket (typed so that `url_for` can check them)."""

    ticket: str


def keep() -> Keep:
    """Link arguments that carry the visit's ticket on: `url_for(endpoint, **keep())`."""
    reference = current_ticket()
    return {PARAMETER: reference} if reference else {}


def ticket_rejected() -> bool:
    """Whether this request carried a `?ticket=` that is not a valid reference."""
    return _visit()[1]


def _visit() -> tuple[str | None, bool]:
    """`_read()` once per request."""
    if "helpdesk_ticket" not in g:
        g.helpdesk_ticket = _read()
    visit: tuple[str | None, bool] = g.helpdesk_ticket
    return visit


def init_app(app: Flask) -> None:
    @app.context_processor
    def _ticket_context() -> dict[str, object]:
        return {"helpdesk_ticket": current_ticket(), "ticket_rejected": ticket_rejected()}

"""The ticket reference: what counts as valid, and how it is kept for the visit."""

from __future__ import annotations

import pytest
from flask import Flask, g, render_template_string

from webapp.web import ticket


@pytest.mark.parametrize(
    "value", ["INC0012345", "REQ-2026-0001", "INC-42", "INC42", "123", "CHG0000001", "9" * 32]
)
def test_ticket_numbers_as_the_helpdesk_page_documents_them_are_valid(value: str) -> None:
    assert ticket.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ab",
        "12",
        "9" * 33,
        "abc",
        "A" * 32,
        # Words: a link must not be able to put an instruction on our pages.
        "CALL-HELPDESK-NOW",
        "VISIT-EVIL-EXAMPLE-COM",
        "SEND-PASSWORD-TO-IT",
        "PASSWORD",
        "CALL-555-0100-NOW",
        "INC-",
        "INC--42",
        "INC 0012345",
        "INC_0012345",
        "<script>",
        "INC0012345\n",
        "INC0012345\x00",
        "ÆØÅ123",
        "INC%300",
        "١٢٣٤",  # Arabic-Indic digits: not "0-9"
    ],
)
def test_anything_else_is_not(value: str) -> None:
    assert not ticket.is_valid(value)


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "unit-test"
    ticket.init_app(app)
    return app


@pytest.fixture
def signed_in(app: Flask) -> Flask:
    @app.before_request
    def _someone() -> None:
        g.user = "someone"

    return app


def test_a_valid_ticket_is_remembered_for_the_following_pages(signed_in: Flask) -> None:
    app = signed_in
    page = "{{ helpdesk_ticket }}|{{ ticket_rejected }}"
    app.add_url_rule("/p", "p", lambda: render_template_string(page))
    client = app.test_client()
    assert client.get("/p?ticket=INC0012345").text == "INC0012345|False"
    assert client.get("/p").text == "INC0012345|False"
    assert client.get("/p?ticket=bad%20one").text == "INC0012345|True"
    assert client.get("/p?ticket=INC42").text == "INC42|False"
    assert client.get("/p?ticket=").text == "INC42|False"


def test_a_malformed_first_ticket_leaves_none(app: Flask) -> None:
    app.add_url_rule("/p", "p", lambda: str(ticket.current_ticket()))
    assert app.test_client().get("/p?ticket=<b>").text == "None"


def test_an_anonymous_visit_shows_the_ticket_without_remembering_it(app: Flask) -> None:
    page = "{{ helpdesk_ticket }}"
    app.add_url_rule("/p", "p", lambda: render_template_string(page))
    client = app.test_client()
    response = client.get("/p?ticket=INC0012345")
    assert response.text == "INC0012345"
    assert "Set-Cookie" not in response.headers
    assert client.get("/p").text == "None"

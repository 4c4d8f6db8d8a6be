"""The language switch: the choice sticks for the session (English or Danish)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session
from werkzeug.wrappers import Response

from webapp.auth.next_link import safe_next
from webapp.auth.views import is_deep_link_page
from webapp.extensions import LANGUAGE_KEY, LANGUAGES

bp = Blueprint("language", __name__)


@bp.post("/language")
def choose() -> Response:
    language = request.form.get("language", "")
    if language in LANGUAGES:
        session[LANGUAGE_KEY] = language
    back = safe_next(
        request.form.get("next"), lambda path: path in ("/", "/helpdesk") or is_deep_link_page(path)
    )
    return redirect(back)

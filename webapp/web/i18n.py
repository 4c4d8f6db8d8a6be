"""The language switch: the choice sticks in a cookie of its own (English or Danish).

Not in the session: anonymous page views must not create server-side sessions (issue 16
item 7), and the switch is on every page. So the form carries no CSRF token; it only sets a
display preference, and a POST another site makes a browser send is ignored (Fetch Metadata:
`Sec-Fetch-Site`, sent by every current browser).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request
from werkzeug.wrappers import Response

from webapp.auth.next_link import safe_next
from webapp.auth.views import is_deep_link_page
from webapp.extensions import LANGUAGES, csrf

bp = Blueprint("language", __name__)

# A preference, kept for a year.
COOKIE_MAX_AGE = 365 * 24 * 3600


@bp.post("/language")
@csrf.exempt
def choose() -> Response:
    back = safe_next(
        request.form.get("next"), lambda path: path in ("/", "/helpdesk") or is_deep_link_page(path)
    )
    response = redirect(back)
    language = request.form.get("language", "")
    if language in LANGUAGES and request.headers.get("Sec-Fetch-Site") != "cross-site":
        response.set_cookie(
            current_app.config["LANGUAGE_COOKIE"],
            language,
            max_age=COOKIE_MAX_AGE,
            secure=current_app.extensions["settings"].secure_cookies,
            httponly=True,
            samesite="Lax",
            path="/",
        )
    return response

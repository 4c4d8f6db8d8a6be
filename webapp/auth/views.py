"""Sign-in, the redirect URI and sign-out: the thin Flask side of `auth.flow`.

The flow record (MSAL's flow dict and the page to return to) is kept server-side in the
record store, keyed by `state` and bound to this browser by a short-lived cookie. The
callback is a cross-site form POST (response_mode=form_post), on which the Lax session
cookie is not sent, so the flow cannot live in the session (security.md §0 item 2).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
)
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from webapp import audit
from webapp.auth.flow import SignInError
from webapp.auth.next_link import safe_next
from webapp.extensions import csrf, limiter
from webapp.store import pop_json, set_json
from webapp.web import context

bp = Blueprint("auth", __name__)
logger = logging.getLogger(__name__)

FLOW_TTL = 600
# Pages a deep link may open after sign-in (helpdesk links, pages the session expired on).
DEEP_LINK_ENDPOINTS = frozenset(
    {
        "overview.index",
        "photo.upload",
        "photo.resync",
        "overview.attributes",
        "profile.index",
        "history.index",
    }
)


def redirect_uri() -> str:
    """The registered redirect URI: from PUBLIC_URL when set, never from a spoofable Host."""
    return context.absolute_url("auth.redirect_uri_view")


def is_deep_link_page(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _args = adapter.match(path, method="GET")
    except HTTPException:  # not found, method not allowed, redirects: not a page
        return False
    return endpoint in DEEP_LINK_ENDPOINTS


def _binding(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@bp.get("/login")
@limiter.limit("30 per minute", key_func=lambda: f"ip:{request.remote_addr}")
def login() -> Response:
    """Start sign-in and send the browser to the authority's sign-in page.

    A round the error handlers asked for (auth/guard.py) carries a resource's claims
    challenge or asks for consent, for the user already signed in: no account picker.
    """
    target = safe_next(request.args.get("next"), is_deep_link_page)
    rounds = context.sign_in_rounds()
    pending = rounds.take_pending()
    if pending is not None and g.user is not None:
        flow = context.auth().start(
            redirect_uri(),
            login_hint=g.user.username or None,
            # Consent is asked for once, explicitly (reference §1.6, AADSTS65001); otherwise
            # Entra's own session decides what to show (e.g. the stronger sign-in).
            prompt="consent" if pending.get("consent") else None,
            # The claims go to Entra as the resource sent them (reference §9.2).
            claims_challenge=pending.get("claims") or None,
        )
    else:
        flow = context.auth().start(redirect_uri())
    cookie_name = current_app.config["AUTH_FLOW_COOKIE"]
    browser_token = request.cookies.get(cookie_name) or secrets.token_urlsafe(32)
    record = {
        "flow": flow,
        "next": target,
        "binding": _binding(browser_token),
        # The loop guard's memory, for the session the callback starts (auth/rounds.py).
        "rounds": rounds.started(),
    }
    set_json(context.store(), f"flow:{flow['state']}", record, FLOW_TTL)
    response = redirect(flow["auth_uri"])
    secure = context.settings().secure_cookies
    response.set_cookie(
        cookie_name,
        browser_token,
        max_age=FLOW_TTL,
        secure=secure,
        httponly=True,
        # The callback is a cross-site POST: only SameSite=None (which needs Secure)
        # reaches it. Over plain http (demo, loopback) the sign-in pages are same-site.
        samesite="None" if secure else "Lax",
        path="/",
    )
    return response


@bp.route("/auth/redirect", methods=["GET", "POST"], endpoint="redirect_uri_view")
@csrf.exempt  # protected by state + PKCE + nonce + the browser-bound flow record
def callback() -> Response | tuple[str, int]:
    """The redirect URI: redeem the code, check the ID token, start a fresh session.

    Only the response mode we ask for is accepted: a form POST (response_mode=form_post).
    An answer in the query string (a GET, or a POST with the code in its URL) is refused
    without touching the flow: codes in URLs end up in logs, histories and Referers
    (security.md §0 item 2, RFC 9700 §4.3.1), and no flow of ours produces one.
    """
    cookie = request.cookies.get(current_app.config["AUTH_FLOW_COOKIE"], "")
    try:
        if request.method != "POST" or request.args:
            raise SignInError("response_mode", f"answer by {request.method} with a query string")
        params: dict[str, Any] = request.form.to_dict()
        state = params.get("state", "")
        record = pop_json(context.store(), f"flow:{state}") if state else None
        if record is None or not cookie or record["binding"] != _binding(cookie):
            raise SignInError("state", "no sign-in started in this browser for this state")
        user = context.auth().complete(record["flow"], params)
    except SignInError as exc:
        logger.warning("sign-in failed: %s", exc.reason)
        audit.event("sign_in.failed", reason=exc.reason)
        return render_template("auth/failed.html", reason=exc.reason), 400
    # A new session id at every sign-in (security.md A1): keep only what was just set.
    interface = current_app.session_interface
    if not isinstance(interface, ServerSideSessionInterface) or not isinstance(
        session, ServerSideSession
    ):
        raise RuntimeError("sign-in needs flask-session's server-side sessions (extensions.py)")
    interface.regenerate(session)
    context.sign_in_rounds().restore(record.get("rounds"))
    audit.event("sign_in.succeeded", account=f"{user.oid}.{user.tid}")
    target = safe_next(record.get("next"), is_deep_link_page)
    response = redirect(target)
    expire_cookie(response, current_app.config["AUTH_FLOW_COOKIE"])
    return response


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and at the authority (a POST: CSRF-protected, security.md A8)."""
    target = context.auth().sign_out(context.absolute_url("auth.signed_out"))
    session.clear()
    response = redirect(target)
    # Only what this app owns. "cache" and "storage" are scoped to our origin; "cookies" would
    # clear every cookie of the registrable domain and its subdomains (MDN, Clear-Site-Data:
    # https://developer.mozilla.org/docs/Web/HTTP/Headers/Clear-Site-Data), e.g. the
    # sign-ins of every other app on contoso.com. Our own cookies are expired by name instead
    # (the language choice is a preference and stays).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    for name in (current_app.config["SESSION_COOKIE_NAME"], current_app.config["AUTH_FLOW_COOKIE"]):
        expire_cookie(response, name)
    return response


def expire_cookie(response: Response, name: str) -> None:
    """Expire one of our cookies; a `__Host-` cookie is dropped by browsers only when the
    expiring Set-Cookie is Secure with Path=/, like the one that set it."""
    response.delete_cookie(name, path="/", secure=context.settings().secure_cookies, httponly=True)


@bp.get("/signed-out")
def signed_out() -> str:
    return render_template("auth/signed_out.html")

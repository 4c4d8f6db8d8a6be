"""The signed-in user's own page: both services' photo and profile side by side, diagnosed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, g, render_template, request, session, url_for

from webapp import __version__, upstream, wording
from webapp.auth.guard import login_required
from webapp.sync.diagnosis import Action, Diagnosis, diagnose
from webapp.sync.snapshot import PictureHint, Snapshot, read_snapshot

bp = Blueprint("overview", __name__)

# A helpdesk ticket reference in a deep link (issue 7; security.md §3.9: strict regex, escaped).
TICKET = re.compile(r"[A-Za-z0-9-]{3,32}")
# Where SharePoint kept the picture last time (server-side session; a URL, no personal bytes).
HINT_KEY = "overview.picture_hint"


def ticket() -> tuple[str | None, bool]:
    """The valid ticket reference of this request, and whether an invalid one was given."""
    raw = request.args.get("ticket")
    if raw is None or raw == "":
        return None, False
    if TICKET.fullmatch(raw):
        return raw, False
    return None, True


def picture_hint() -> PictureHint | None:
    """The stored hint, used by this page and by the picture proxy."""
    stored = session.get(HINT_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("picture_url"), str):
        return None
    host = stored.get("personal_site_host_url")
    return PictureHint(stored["picture_url"], host if isinstance(host, str) else None)


def _read() -> tuple[Snapshot, Diagnosis]:
    snapshot = read_snapshot(
        upstream.graph(), upstream.sharepoint(), now=datetime.now(UTC), hint=picture_hint()
    )
    hint = snapshot.picture_hint
    if hint is not None and hint != picture_hint():
        session[HINT_KEY] = {
            "picture_url": hint.picture_url,
            "personal_site_host_url": hint.personal_site_host_url,
        }
    return snapshot, diagnose(snapshot)


def _page(template: str) -> str:
    reference, bad_reference = ticket()
    snapshot, diagnosis = _read()
    keep = {"ticket": reference} if reference else {}
    action_urls = {
        Action.RESYNC_PHOTO: url_for("resync.index", **keep),
        Action.UPLOAD_PHOTO: url_for("photo.upload", **keep),
        Action.RETRY: request.full_path.rstrip("?"),
    }
    summary = wording.helpdesk_summary(
        diagnosis,
        snapshot,
        name=g.user.name,
        username=g.user.username,
        ticket=reference,
        version=__version__,
    )
    return render_template(
        template,
        snapshot=snapshot,
        diagnosis=diagnosis,
        wording=wording,
        action_urls=action_urls,
        ticket=reference,
        bad_ticket=bad_reference,
        keep=keep,
        summary=summary,
    )


@bp.get("/")
def index() -> str:
    if g.user is None:
        return render_template("overview/welcome.html")
    return _overview()


@login_required
def _overview() -> str:
    return _page("overview/index.html")


@bp.get("/attributes")
@login_required
def attributes() -> str:
    """The attribute comparison on its own (a helpdesk deep link)."""
    return _page("overview/attributes.html")

"""The signed-in user's own page: both services' photo and profile side by side, diagnosed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, render_template, request, url_for

from webapp import __version__, upstream, wording
from webapp.auth.guard import login_required
from webapp.sync.diagnosis import Action, Diagnosis, diagnose
from webapp.sync.snapshot import Snapshot, read_snapshot
from webapp.ticket import current_ticket, ticket_rejected
from webapp.views import pictures

bp = Blueprint("overview", __name__)


def _read() -> tuple[Snapshot, Diagnosis, dict[str, str]]:
    snapshot = read_snapshot(
        upstream.graph(),
        upstream.sharepoint(),
        now=datetime.now(UTC),
        hint=pictures.picture_hint(),
    )
    return snapshot, diagnose(snapshot), pictures.remember(snapshot)


def _page(template: str) -> str:
    # The visit's ticket reference from a helpdesk link (issue 7), validated by webapp.ticket.
    reference, bad_reference = current_ticket(), ticket_rejected()
    snapshot, diagnosis, picture_urls = _read()
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
        picture_urls=picture_urls,
    )


@bp.get("/")
def index() -> str:
    """Signed out: what the app is for; signed in: both services side by side, diagnosed."""
    if g.user is None:
        return render_template("overview/welcome.html")
    return _page("overview/index.html")


@bp.get("/attributes")
@login_required
def attributes() -> str:
    """The attribute comparison on its own (a helpdesk deep link)."""
    return _page("overview/attributes.html")

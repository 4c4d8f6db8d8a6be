"""The signed-in user's own page (both services' photo and profile side by side, diagnosed),
and the pictures on it, streamed from Graph and SharePoint so the browser holds no token.

Each picture URL carries a version (a hash of its bytes); caching and headers are every
personal picture's (webapp/web/pictures.py).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    render_template,
    request,
    session,
    url_for,
)

from webapp import about
from webapp.auth.guard import login_required
from webapp.changes import wording as changes
from webapp.microsoft.errors import (
    AccessRefusedError,
    AuthRequiredError,
    ThrottledError,
    UpstreamError,
)
from webapp.microsoft.models import Photo
from webapp.overview import pictures, wording
from webapp.overview.diagnosis import Action, Diagnosis, diagnose
from webapp.overview.snapshot import COMPARED_SIZE, STORED_SIZE, Snapshot, read_snapshot
from webapp.web import context, ticket
from webapp.web.errors import named_wait
from webapp.web.pictures import picture_response, same_origin_only
from webapp.web.ticket import current_ticket, ticket_rejected

bp = Blueprint("overview", __name__)
logger = logging.getLogger(__name__)

_GRAPH_SIZE = re.compile(r"[0-9]{1,4}x[0-9]{1,4}")


def _recent() -> pictures.RecentPictures:
    return context.per_app(pictures.RecentPictures)


def _remember(snapshot: Snapshot) -> dict[str, str]:
    """Keep what the overview read for the browser's picture requests; returns their URLs.

    Also stores where SharePoint's legacy library keeps the picture, so the next overview can
    fetch it together with the profile.
    """
    hint = snapshot.picture_hint
    if hint is not None and hint != pictures.picture_hint(session):
        session[pictures.HINT_KEY] = pictures.hint_record(hint)
    shown = pictures.shown(snapshot)
    _recent().remember(context.user_key(), shown)
    urls: dict[str, str] = {}
    if "graph" in shown:
        urls["graph"] = url_for("overview.graph_picture", v=pictures.version(shown["graph"]))
    compared = shown.get(f"sharepoint/{COMPARED_SIZE}")
    for size in ("S", "M", "L"):
        # A size that could not be read now is asked for when the browser wants it.
        photo = shown.get(f"sharepoint/{size}") or compared
        if photo is not None:
            urls[f"sharepoint/{size}"] = url_for(
                "overview.sharepoint_picture", size=size, v=pictures.version(photo)
            )
    stored = shown.get("sharepoint/stored")
    if stored is not None:
        urls["sharepoint/stored"] = url_for("overview.stored_picture", v=pictures.version(stored))
    return urls


def _read() -> tuple[Snapshot, Diagnosis, dict[str, str]]:
    """Both sides, diagnosed. A SharePoint that refuses the user's tokens is shown as a
    part that could not be read; Outlook and Teams refusing them leaves nothing to show, so
    the explained page (web/errors.py) takes over."""
    snapshot = read_snapshot(
        context.graph(),
        context.sharepoint(),
        account=context.user().username,
        now=datetime.now(UTC),
        hint=pictures.picture_hint(session),
    )
    for error in (snapshot.graph.profile_error, snapshot.graph.photo_error):
        if isinstance(error, AccessRefusedError):
            raise error
    return snapshot, diagnose(snapshot), _remember(snapshot)


def _page(template: str) -> str:
    # The visit's ticket reference from a helpdesk link (issue 7), validated by web.ticket.
    reference, bad_reference = current_ticket(), ticket_rejected()
    snapshot, diagnosis, picture_urls = _read()
    keep = ticket.keep()
    action_urls = {
        Action.RESYNC_PHOTO: url_for("photo.resync", **keep),
        Action.UPLOAD_PHOTO: url_for("photo.upload", **keep),
        Action.RETRY: request.full_path.rstrip("?"),
    }
    summary = wording.helpdesk_summary(
        diagnosis,
        snapshot,
        name=context.user().name,
        username=context.user().username,
        ticket=reference,
        version=about.VERSION,
        recent_changes=changes.recent_summary(context.history(), context.user_key()),
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


def _serve(photo: Photo | None) -> Response:
    if photo is None:
        return picture_response(None, "")
    return picture_response(photo.data, pictures.version(photo))


def _failed(exc: UpstreamError) -> Response:
    logger.info("picture from %s failed: %s %s", exc.service, exc.status, exc.code)
    response = Response("Microsoft did not send the picture.", status=502, mimetype="text/plain")
    if isinstance(exc, ThrottledError):
        response.status_code = 503
        if exc.retry_after is not None:
            named_wait(response, round(exc.retry_after))
    return response


def _just_read(name: str) -> Photo | None:
    wanted = request.args.get("v")
    return _recent().get(context.user_key(), name, wanted) if wanted else None


@bp.get("/pictures/graph", defaults={"size": None})
@bp.get("/pictures/graph/<size>")
@login_required
def graph_picture(size: str | None) -> Response:
    """The photo Outlook and Teams show: the largest, or one of the sizes Graph offers."""
    same_origin_only()
    if size is not None and not _GRAPH_SIZE.fullmatch(size):
        abort(404)
    recent = _just_read("graph") if size is None else None
    if recent is not None:
        return _serve(recent)
    try:
        return _serve(context.graph().photo(size))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)


@bp.get("/pictures/sharepoint/<any(S, M, L):size>")
@login_required
def sharepoint_picture(size: str) -> Response:
    """The small, medium or large picture SharePoint pages show (userphoto.aspx, §9.1)."""
    same_origin_only()
    recent = _just_read(f"sharepoint/{size}")
    if recent is not None:
        return _serve(recent)
    try:
        return _serve(context.sharepoint().served_picture(size, context.user().username))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)


@bp.get("/pictures/sharepoint/stored")
@login_required
def stored_picture() -> Response:
    """The copy in SharePoint's legacy picture library (PictureURL's medium file, §4.7)."""
    same_origin_only()
    recent = _just_read("sharepoint/stored")
    if recent is not None:
        return _serve(recent)
    client = context.sharepoint()
    try:
        hint = pictures.picture_hint(session)
        # Without the overview's hint the profile says where the picture is (one call more).
        profile = hint.as_profile() if hint is not None else client.my_properties()
        return _serve(client.picture(STORED_SIZE, profile))
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return _failed(exc)

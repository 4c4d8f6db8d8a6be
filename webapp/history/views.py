"""Your changes: the person's own history, newest first, its thumbnails and its downloads.

Only the signed-in person's own stream is ever read (the key is theirs), so a thumbnail URL
with someone else's entry id finds nothing. Putting an earlier photo back is the photo
feature's: the form posts to `photo.restore`, which applies undo's rules and limits.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, url_for

from webapp.auth.guard import login_required
from webapp.changes import wording as words
from webapp.changes.log import Entry
from webapp.history import export, wording
from webapp.web import context
from webapp.web.pictures import picture_response, same_origin_only

bp = Blueprint("history", __name__)


@dataclass(frozen=True)
class Row:
    """One change as the page shows it; `restore_op` names the change whose replaced photo can
    still be put back, with a one-time `form_token` for that form."""

    entry: Entry
    described: words.Described
    utc: str
    pictures: dict[str, str]
    restore_op: str | None = None
    form_token: str | None = None


def _row(entry: Entry, now: float) -> Row:
    pictures = {
        name: url_for("history.picture", entry_id=entry.id, name=name) for name in entry.thumbnails
    }
    until = entry.details.get("restorable_until")
    restorable = "previous" in entry.thumbnails and isinstance(until, float | int) and until > now
    return Row(
        entry=entry,
        described=words.describe(entry),
        utc=words.utc_text(entry),
        pictures=pictures,
        restore_op=entry.details.get("op") if restorable else None,
        # What photo/forms.py's OperationForm checks (urlsafe, 16–64 characters).
        form_token=secrets.token_urlsafe(16) if restorable else None,
    )


@bp.get("/history")
@login_required
def index() -> str:
    """Every change the person made here, newest first, with what each step achieved."""
    settings = context.settings()
    now = time.time()
    rows = [_row(entry, now) for entry in context.history().entries(context.user_key())]
    return render_template(
        "history/index.html",
        rows=rows,
        days=settings.history_days,
        max_entries=settings.history_max_entries,
    )


@bp.get("/history/pictures/<entry_id>/<any(new, previous):name>")
@login_required
def picture(entry_id: str, name: str) -> Response:
    """A thumbnail of one of the person's own entries (entries never change: cached alike)."""
    same_origin_only()
    data = context.history().picture(context.user_key(), entry_id, name)
    return picture_response(data, f"{entry_id}-{name}")


def _download(body: bytes, mimetype: str, extension: str) -> Response:
    response = Response(body, mimetype=mimetype)
    name = f"{wording.FILE_NAME}-{datetime.now(UTC).strftime('%Y%m%d')}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/history.json")
@login_required
def download_json() -> Response:
    """Everything kept, thumbnails included, in machine-readable form."""
    entries = context.history().entries(context.user_key())
    exported_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return _download(export.as_json(entries, exported_at), "application/json", "json")


@bp.get("/history.csv")
@login_required
def download_csv() -> Response:
    """One row per change, in the page's language, for a spreadsheet."""
    rows = []
    for entry in context.history().entries(context.user_key()):
        described = words.describe(entry, short=False)
        rows.append(
            (
                entry.iso_time,
                described.title,
                described.outcome,
                "\n".join(described.lines),
                entry.request_id or "",
            )
        )
    header = [str(text) for text in wording.CSV_HEADER]
    return _download(export.as_csv(header, rows), "text/csv", "csv")

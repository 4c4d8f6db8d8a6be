"""The photo pages: upload and crop a new photo, re-sync, follow a change to both services,
undo, remove.

Every write is a CSRF-protected POST (security.md A10) under one per-user limit shared by
upload, remove, undo and retry: WRITE_LIMIT (security.md §3.6, C9). Re-syncs have their own,
RESYNC_LIMIT: each one costs a Graph read and several SharePoint calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp import about, audit
from webapp.auth.guard import login_required
from webapp.extensions import limiter
from webapp.imaging.pipeline import CropBox, PhotoRejectedError, PipelineLimits, normalise
from webapp.photo import recording, update, wording
from webapp.photo.forms import (
    ConfirmForm,
    OperationForm,
    PhotoUploadForm,
    new_form_token,
    validated,
)
from webapp.photo.operations import Operation, OperationBusyError, OperationStore, SideState
from webapp.photo.resync import resync as start_resync
from webapp.web import context
from webapp.web.errors import request_id
from webapp.web.ticket import current_ticket
from webapp.wording import service_name

bp = Blueprint("photo", __name__)

# Ten photo changes per user and hour (security.md §3.6): far above what a person needs,
# low enough that a script cannot burn the tenant's Graph and SharePoint quota.
WRITE_LIMIT = "10 per hour"
_writes = limiter.shared_limit(WRITE_LIMIT, scope="photo-write")
RESYNC_LIMIT = "6 per hour"

F = TypeVar("F", bound=FlaskForm)


def operations() -> OperationStore:
    """The op records; every run of a change is told to the person's history."""
    history, rid = context.history(), request_id()
    return OperationStore(
        context.store(),
        on_change=lambda op, retried: recording.record(history, op, retried, request_id=rid),
    )


def upstreams() -> update.Upstreams:
    return update.Upstreams(context.graph(), context.sharepoint(), context.user().username)


def mine() -> tuple[OperationStore, update.Upstreams, str]:
    """What every photo change runs on: the records, the user's clients and account key."""
    return operations(), upstreams(), context.user_key()


def _posted(form: F) -> F:
    """A submitted form; a bad or stale one is a 400 (CSRF, missing token)."""
    if not form.validate():
        abort(400)
    return form


def _progress(op: Operation) -> Response:
    return redirect(url_for("photo.status", op_id=op.id), 303)


def _confirm(template: str) -> str:
    """A page that asks before a change, with a fresh form token (one change per submit, E5)."""
    form = ConfirmForm(formdata=None)
    form.form_token.data = new_form_token()
    return render_template(template, form=form)


def pipeline_limits() -> PipelineLimits:
    return PipelineLimits(max_bytes=context.settings().max_upload_mb * 1024 * 1024)


def _unfinished() -> Operation | None:
    """The user's latest change if it still needs them (e.g. back from sign-in, C11)."""
    store = operations()
    op = store.latest(context.user_key())
    if op is None or op.verified or op.undone_by is not None:
        return None
    result = update.outcome(op, time.time(), store.running(op.user) == op.id)
    return op if result in _NEEDS_USER else None


_NEEDS_USER = (
    update.Outcome.INTERRUPTED,
    update.Outcome.NOTHING_CHANGED,
    update.Outcome.WAIT_THEN_RETRY,
    update.Outcome.PARTIAL,
)


def _upload_page(
    form: PhotoUploadForm, errors: Sequence[object], status: int = 200
) -> tuple[str, int]:
    form.form_token.data = new_form_token()
    limits = pipeline_limits()
    return (
        render_template(
            "photo/upload.html",
            form=form,
            errors=errors,
            accepted=wording.accepted(limits),
            unfinished=_unfinished(),
            max_bytes=limits.max_bytes,
            max_pixels=limits.max_pixels,
            min_side=limits.min_side,
            # The browser sends a copy this big at most: twice what Microsoft keeps, so the
            # pipeline still crops and scales it itself (issue 17).
            send_side=2 * limits.output_side,
            too_large=str(wording.UPLOAD_TOO_LARGE) % {"mb": limits.max_bytes // (1024 * 1024)},
        ),
        status,
    )


@bp.get("/photo")
@login_required
def upload() -> tuple[str, int]:
    return _upload_page(PhotoUploadForm(formdata=None), [])


@bp.post("/photo")
@login_required
@_writes
def save() -> Response | tuple[str, int]:
    form = PhotoUploadForm()
    if not form.validate():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _upload_page(form, errors, 400)
    limits = pipeline_limits()
    # Read at most one byte past the limit: the pipeline refuses it (MAX_CONTENT_LENGTH already
    # bounds the request, security.md B1). The file name is never used (B13). Handed over once:
    # decoding drops the bytes before Microsoft is called.
    received = [form.photo.data.read(limits.max_bytes + 1)]
    crop = form.crop()
    box = None if crop is None else CropBox(crop[0], crop[1], crop[0] + crop[2], crop[1] + crop[2])
    try:
        # Decoded under the user's lock (in `update.upload`): one person, one decode at a time.
        op = update.upload(
            *mine(), lambda: normalise(received.pop(), box, limits), validated(form.form_token)
        )
    except PhotoRejectedError as exc:
        audit.event("photo.refused", reason=exc.reason.value)
        recording.record_rejected(
            context.history(), context.user_key(), exc.reason, request_id=request_id()
        )
        return _upload_page(form, wording.rejection(exc.reason, limits), 422)
    return _progress(op)


@bp.get("/photo/saving/<form_token>.json")
@login_required
def saving(form_token: str) -> Response | tuple[str, int]:
    """How far the upload sent with `form_token` got, while its POST is still working (issue 17).

    204 until the pipeline has accepted the photo and the change has started. Also where the
    browser goes when the POST's answer never reached it (a broken connection, or a sign-in
    redirect to Microsoft that a script may not follow): the change's status page.
    """
    op = operations().for_form(context.user_key(), form_token)
    if op is None:
        return "", 204
    return jsonify(
        {**status_view(op).as_json(), "status_url": url_for("photo.status", op_id=op.id)}
    )


@bp.errorhandler(OperationBusyError)
def busy_elsewhere(busy: OperationBusyError) -> Response:
    """Another change of this user is running: show its progress instead (security.md E5)."""
    flash(str(wording.BUSY), "info")
    if busy.op_id and operations().get(context.user_key(), busy.op_id) is not None:
        return redirect(url_for("photo.status", op_id=busy.op_id), 303)
    return redirect(url_for("photo.upload"), 303)


def _own_op(op_id: str) -> Operation:
    op = operations().get(context.user_key(), op_id)
    if op is None:
        abort(404)
    return op


@dataclass(frozen=True)
class SideView:
    service: str
    name: str
    state: SideState
    label: str
    css: str


@dataclass(frozen=True)
class StatusView:
    """What both the status page and its JSON say about an operation now."""

    op: Operation
    outcome: update.Outcome
    headline: str
    served: str | None
    next_steps: list[str]
    sides: list[SideView]
    following: bool
    elapsed: int
    limit: int
    can_retry: bool
    can_undo: bool
    summary: str | None = None

    def as_json(self) -> dict[str, object]:
        """The polled JSON: states and sentences only, never bytes (security.md E8)."""
        return {
            "outcome": self.outcome.value,
            "headline": self.headline,
            "served": self.served,
            "next_steps": self.next_steps,
            "sides": [
                {"service": s.service, "state": s.state.value, "label": s.label} for s in self.sides
            ],
            "following": self.following,
            "elapsed": self.elapsed,
            "limit": self.limit,
            "can_retry": self.can_retry,
            "can_undo": self.can_undo,
        }


def status_view(op: Operation) -> StatusView:
    now = time.time()
    running = operations().running(op.user) == op.id
    latest = update.is_latest(operations(), op)
    result = update.outcome(op, now, running)
    sides = [("graph", op.graph)] if op.writes_graph else []
    sides.append(("sharepoint", op.sharepoint))
    served = wording.served(op)
    return StatusView(
        op=op,
        outcome=result,
        headline=str(wording.headline(op, result)),
        served=None if served is None else str(served),
        next_steps=[str(step) for step in wording.next_steps(op, result, now)],
        sides=[
            SideView(
                service=name,
                name=service_name(name),
                state=side.state,
                label=str(wording.side_state(side.state)),
                css=wording.state_class(side.state),
            )
            for name, side in sides
        ],
        following=running or update.following_through(op, now),
        elapsed=0 if op.written_at is None else int(now - op.written_at),
        limit=update.FOLLOW_THROUGH_SECONDS,
        can_retry=not running and update.retry_allowed(op, now) and latest,
        can_undo=op.undoable and latest,
        summary=wording.helpdesk_summary(
            op,
            result,
            name=context.user().name,
            username=context.user().username,
            ticket=current_ticket(),
            version=about.VERSION,
        ),
    )


@bp.get("/photo/status/<op_id>")
@login_required
def status(op_id: str) -> str:
    op = update.follow_up(*mine(), op_id) or _own_op(op_id)
    return render_template(
        "photo/status.html",
        form_token=new_form_token(),
        title=wording.KIND_TITLES[op.kind],
        **vars(status_view(op)),
    )


@bp.get("/photo/status/<op_id>.json")
@login_required
def status_json(op_id: str) -> Response:
    op = update.follow_up(*mine(), op_id) or _own_op(op_id)
    return jsonify(status_view(op).as_json())


@bp.post("/photo/retry")
@login_required
@_writes
def retry() -> Response:
    op = update.retry(*mine(), validated(_posted(OperationForm()).op_id))
    if op is None:
        abort(404)
    return _progress(op)


@bp.post("/photo/undo")
@login_required
@_writes
def undo() -> Response:
    form = _posted(OperationForm())
    op = update.undo(*mine(), validated(form.op_id), validated(form.form_token))
    if op is None:
        flash(str(wording.UNDO_NOT_POSSIBLE), "error")
        return redirect(url_for("photo.status", op_id=form.op_id.data), 303)
    return _progress(op)


@bp.post("/photo/restore")
@login_required
@_writes
def restore() -> Response:
    """Put back a photo an earlier change replaced (the form is on the history page)."""
    form = _posted(OperationForm())
    op = update.restore(*mine(), validated(form.op_id), validated(form.form_token))
    if op is None:
        flash(str(wording.RESTORE_NOT_POSSIBLE), "error")
        return redirect(url_for("history.index"), 303)
    return _progress(op)


@bp.get("/photo/remove")
@login_required
def remove() -> str:
    return _confirm("photo/remove.html")


@bp.post("/photo/remove")
@login_required
@_writes
def remove_confirmed() -> Response:
    return _progress(update.remove(*mine(), validated(_posted(ConfirmForm()).form_token)))


@bp.get("/photo/resync")
@login_required
def resync() -> str:
    """Make SharePoint show the current photo now, as far as the tenant allows (§9.1)."""
    return _confirm("photo/resync.html")


@bp.post("/photo/resync")
@login_required
@limiter.limit(RESYNC_LIMIT)
def resync_start() -> Response:
    return _progress(start_resync(*mine(), validated(_posted(ConfirmForm()).form_token)))


@bp.errorhandler(429)
def rate_limited(exc: Exception) -> Response:
    return limited_page()


def limited_page() -> Response:
    """The 429 page saying in how many minutes the next change is possible (C9)."""
    current = limiter.current_limit
    wait = max(1, int(current.reset_at - time.time())) if current is not None else 3600
    minutes = -(-wait // 60)
    if g.get("user") is not None:
        subject = "resync" if request.endpoint == "photo.resync_start" else "photo"
        recording.record_limited(
            context.history(), context.user_key(), subject, wait, request_id=request_id()
        )
    body = render_template(
        "photo/limited.html",
        message=wording.rate_limited(minutes),
        request_id=request_id(),
    )
    response = current_app.make_response((body, 429))
    response.headers["Retry-After"] = str(wait)
    return response

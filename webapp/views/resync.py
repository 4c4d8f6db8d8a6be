"""The re-sync page: make SharePoint show the photo Exchange/Entra already has (issue 6 item 5).

Re-syncs are limited to RESYNC_LIMIT per user (security.md §3.6): each one costs a Graph read
and several SharePoint calls.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from webapp.auth.guard import login_required
from webapp.extensions import limiter
from webapp.forms import ConfirmForm, new_form_token
from webapp.sync.operations import OperationBusyError
from webapp.sync.resync import resync
from webapp.views.photo import limited_page, operations, redirect_busy, upstreams, user_key

bp = Blueprint("resync", __name__)

RESYNC_LIMIT = "6 per hour"


@bp.get("/photo/resync")
@login_required
def index() -> str:
    form = ConfirmForm(formdata=None)
    form.form_token.data = new_form_token()
    return render_template("resync/index.html", form=form)


@bp.post("/photo/resync")
@login_required
@limiter.limit(RESYNC_LIMIT)
def start() -> Response:
    form = ConfirmForm()
    if not form.validate():
        abort(400)
    try:
        op = resync(operations(), upstreams(), user_key(), form.form_token.data)
    except OperationBusyError as busy:
        return redirect_busy(busy)
    return redirect(url_for("photo.status", op_id=op.id), 303)


@bp.errorhandler(429)
def rate_limited(exc: Exception) -> Response:
    return limited_page()

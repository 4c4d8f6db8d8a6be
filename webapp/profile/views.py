"""Your profile: edit the fields you own, see who maintains the rest, resolve conflicts."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from webapp import about, audit
from webapp.auth.guard import login_required
from webapp.changes import wording as changes
from webapp.extensions import limiter
from webapp.profile import recording, wording
from webapp.profile.fields import EDITABLE_BY_NAME
from webapp.profile.forms import (
    KEEP_MINE,
    KEEP_THEIRS,
    ProfileFields,
    ProfileForm,
    ResolveForm,
    form_text,
)
from webapp.profile.reading import ProfileView, read_profile
from webapp.profile.saving import SaveResult
from webapp.profile.saving import save as save_profile
from webapp.web import context, ticket
from webapp.web.errors import request_id
from webapp.web.ticket import current_ticket

bp = Blueprint("profile", __name__)

# Twenty profile saves per user and hour, shared by saving and resolving a conflict. A save
# costs a Graph PATCH per group of fields plus a SharePoint write per changed SharePoint field
# and a read of both sides: twenty is several sittings of corrections for a person, and keeps
# a script from spending the tenant's Graph and SharePoint budget (security.md §3.6, C9).
WRITE_LIMIT = "20 per hour"
_writes = limiter.shared_limit(WRITE_LIMIT, scope="profile-write")


def _form(view: ProfileView, typed: dict[str, str], tokens: dict[str, str]) -> ProfileFields:
    """The edit form: what is stored now, overlaid with what the user typed and did not get
    stored (a failed save keeps it)."""
    data: dict[str, str] = {}
    for row in view.editable:
        data.update(form_text(row.field, row.graph_value))
    data.update(typed)
    data.update({f"token_{name}": value for name, value in tokens.items()})
    return ProfileForm(formdata=None, data=data)


def _typed(form: ProfileFields) -> dict[str, str]:
    """The raw text of every field the form sent."""
    typed: dict[str, str] = {}
    for spec in form.sent():
        typed.update(form.typed(spec))
    return typed


def _render(
    view: ProfileView,
    typed: dict[str, str],
    tokens: dict[str, str],
    result: SaveResult | None = None,
    status: int = 200,
) -> tuple[str, int]:
    conflicts = result.conflicts if result is not None else ()
    reference = current_ticket()
    return (
        render_template(
            "profile/index.html",
            view=view,
            form=_form(view, typed, tokens),
            can_save=bool(tokens),
            result=result,
            conflicts=conflicts,
            form_text=form_text,
            fields=EDITABLE_BY_NAME,
            keep_mine=KEEP_MINE,
            keep_theirs=KEEP_THEIRS,
            words=wording,
            ticket=reference,
            keep=ticket.keep(),
            summary=wording.helpdesk_summary(
                view,
                name=context.user().name,
                username=context.user().username,
                ticket=reference,
                taken_at=datetime.now(UTC),
                version=about.VERSION,
                recent_changes=changes.recent_summary(context.history(), context.user_key()),
            ),
        ),
        status,
    )


@bp.get("/profile")
@login_required
def index() -> tuple[str, int]:
    view = read_profile(context.graph(), context.sharepoint(), session)
    return _render(view, {}, view.tokens)


def _saved(form: ProfileFields) -> Response | tuple[str, int]:
    result = save_profile(context.graph(), context.sharepoint(), form.submission(), session)
    if result.saved:
        audit.event("profile.saved", fields=",".join(result.saved))
    if result.refused:
        audit.event("profile.refused", fields=",".join(result.refused))
    recording.record_save(context.history(), context.user_key(), result, request_id=request_id())
    if result.complete:
        # Post/redirect/get: a reload shows what both sides hold now and sends nothing twice.
        for category, line in wording.outcome_lines(result):
            flash(line, category)
        return redirect(url_for("profile.index", **ticket.keep()))
    # Keep what the user typed; a refused field is shown read-only instead.
    status = 422 if result.problems else 200
    tokens = result.next_tokens(form.tokens())
    return _render(result.profile, _typed(form), tokens, result, status)


@bp.post("/profile")
@login_required
@_writes
def save() -> Response | tuple[str, int]:
    return _saved(ProfileForm())


@bp.post("/profile/resolve")
@login_required
@_writes
def resolve() -> Response | tuple[str, int]:
    """The conflict step: save the fields where the user kept their own version."""
    form = ResolveForm()
    if not form.submission().values:
        flash(str(wording.KEPT_STORED), "info")
        return redirect(url_for("profile.index", **ticket.keep()))
    return _saved(form)

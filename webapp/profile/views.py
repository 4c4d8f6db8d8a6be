"""Your profile: edit the fields you own, see who maintains the rest, resolve conflicts."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from webapp import about
from webapp.auth.guard import login_required
from webapp.profile import editing, wording
from webapp.profile.editing import Birthday, Kind, ProfileView, SaveResult, Value
from webapp.profile.forms import KEEP_MINE, KEEP_THEIRS, ProfileForm, ResolveForm
from webapp.web import context as upstream
from webapp.web.ticket import current_ticket

bp = Blueprint("profile", __name__)


def _keep() -> dict[str, str]:
    reference = current_ticket()
    return {"ticket": reference} if reference else {}


def form_text(name: str, value: Value) -> dict[str, str]:
    """A value as the form's controls hold it (lists one item per line)."""
    kind = editing.EDITABLE_BY_NAME[name].kind
    if kind is Kind.BIRTHDAY:
        if not isinstance(value, Birthday):
            return {"birthday_day": "", "birthday_month": ""}
        return {"birthday_day": str(value.day), "birthday_month": str(value.month)}
    if kind is Kind.LIST:
        return {name: "\n".join(value) if isinstance(value, tuple) else ""}
    return {name: value if isinstance(value, str) else ""}


def _form(view: ProfileView, typed: dict[str, str], tokens: dict[str, str]) -> ProfileForm:
    """The edit form: what is stored now, overlaid with what the user typed and did not get
    stored (a failed save keeps it)."""
    data: dict[str, str] = {}
    for row in view.editable:
        data.update(form_text(row.field.name, row.graph_value))
    data.update(typed)
    data.update({f"token_{name}": value for name, value in tokens.items()})
    return ProfileForm(formdata=None, data=data)


def _typed(form: ProfileForm) -> dict[str, str]:
    """The raw text of every field the form sent."""
    typed: dict[str, str] = {}
    for name in form.submission().values:
        parts = ("birthday_day", "birthday_month") if name == "birthday" else (name,)
        typed.update({part: form[part].data or "" for part in parts})
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
            keep_mine=KEEP_MINE,
            keep_theirs=KEEP_THEIRS,
            words=wording,
            ticket=reference,
            keep=_keep(),
            summary=wording.helpdesk_summary(
                view,
                name=g.user.name,
                username=g.user.username,
                ticket=reference,
                version=about.VERSION,
            ),
        ),
        status,
    )


@bp.get("/profile")
@login_required
def index() -> tuple[str, int]:
    view = editing.read_profile(upstream.graph(), upstream.sharepoint(), session)
    return _render(view, {}, view.tokens)


def _saved(form: ProfileForm) -> Response | tuple[str, int]:
    result = editing.save(upstream.graph(), upstream.sharepoint(), form.submission(), session)
    if result.complete:
        # Post/redirect/get: a reload shows what both sides hold now and sends nothing twice.
        for category, line in wording.outcome_lines(result):
            flash(line, category)
        return redirect(url_for("profile.index", **_keep()))
    # Keep what the user typed; a refused field is shown read-only instead.
    status = 422 if result.problems else 200
    tokens = result.next_tokens(form.tokens())
    return _render(result.profile, _typed(form), tokens, result, status)


@bp.post("/profile")
@login_required
def save() -> Response | tuple[str, int]:
    return _saved(ProfileForm())


@bp.post("/profile/resolve")
@login_required
def resolve() -> Response | tuple[str, int]:
    """The conflict step: save the fields where the user kept their own version."""
    form = ResolveForm()
    if not form.submission().values:
        flash(wording.KEPT_STORED, "info")
        return redirect(url_for("profile.index", **_keep()))
    return _saved(form)

"""The signed-in user's own page: who they are and what each Microsoft service answers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, g, render_template

from webapp import upstream
from webapp.auth.guard import login_required
from webapp.microsoft.errors import AuthRequiredError, UpstreamError

bp = Blueprint("overview", __name__)


@bp.get("/")
def index() -> str:
    if g.user is None:
        return render_template("overview/welcome.html")
    return _overview()


@login_required
def _overview() -> str:
    graph, sharepoint = upstream.graph(), upstream.sharepoint()
    with ThreadPoolExecutor(max_workers=2) as pool:
        me = pool.submit(graph.me)
        props = pool.submit(sharepoint.my_properties)
        answers = {"graph": _answer(me), "sharepoint": _answer(props)}
    return render_template("overview/index.html", answers=answers)


def _answer(future):  # type: ignore[no-untyped-def]
    """The service's value, or the error that stopped it (re-auth errors propagate)."""
    try:
        return {"value": future.result(), "error": None}
    except AuthRequiredError:
        raise
    except UpstreamError as exc:
        return {"value": None, "error": exc}

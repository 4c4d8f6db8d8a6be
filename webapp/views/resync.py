"""The re-sync page: make SharePoint show the photo Exchange/Entra already has."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.auth.guard import login_required

bp = Blueprint("resync", __name__)


@bp.get("/photo/resync")
@login_required
def index() -> str:
    return render_template("resync/index.html")

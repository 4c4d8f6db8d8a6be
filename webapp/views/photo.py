"""The photo pages: upload and crop a new photo, follow its write to both services, undo, remove."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.auth.guard import login_required

bp = Blueprint("photo", __name__)


@bp.get("/photo")
@login_required
def upload() -> str:
    return render_template("photo/upload.html")

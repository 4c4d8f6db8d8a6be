"""Stylesheets and scripts: kept by the browser until they change (webapp/web/static_files.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask.testing import FlaskClient

from tests.support.signin import SignIn
from webapp.web.static_files import FileVersions

FILES = re.compile(r'(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]{16})"')
KEPT = "private, max-age=31536000, immutable"


def test_every_stylesheet_and_script_a_page_names_is_kept_a_year(
    client: FlaskClient, sign_in: SignIn
) -> None:
    named = set(FILES.findall(client.get("/").get_data(as_text=True)))  # signed out
    sign_in.as_user("stale-photo")
    for path in ("/", "/photo", "/profile", "/helpdesk"):
        page = client.get(path).get_data(as_text=True)
        assert "/static/" not in FILES.sub("", page)  # none without its hash
        named |= set(FILES.findall(page))
    assert {file for file, _ in named} >= {
        "/static/css/app.css",
        "/static/js/localtime.js",
        "/static/js/upload.js",
        "/static/css/profile.css",
    }
    for file, version in named:
        response = client.get(f"{file}?v={version}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == KEPT
        # A browser that asks whether its copy still holds is told to keep it just as long.
        again = client.get(
            f"{file}?v={version}", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304
        assert again.headers["Cache-Control"] == KEPT


def test_a_file_asked_for_with_another_hash_or_none_is_not_kept(client: FlaskClient) -> None:
    """A page of the previous release (a rolling deploy) may still name the old hash: it gets
    today's file, which the browser must not keep under the old name."""
    for address in ("/static/css/app.css?v=0123456789abcdef", "/static/css/app.css"):
        response = client.get(address)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"


def test_the_hash_changes_with_the_file_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "app.css"
    sheet.write_text("body { color: black; }")
    versions = FileVersions(tmp_path)
    first = versions.of("css/app.css")
    assert first == versions.of("css/app.css")
    written = sheet.stat().st_mtime_ns
    sheet.write_text("body { color: navy;  }")  # the same size: the content decides
    # A release writes it later; two writes in one test can share the file system's tick.
    os.utime(sheet, ns=(written + 10**9, written + 10**9))
    second = versions.of("css/app.css")
    assert second is not None and second != first
    assert versions.of("css/none.css") is None

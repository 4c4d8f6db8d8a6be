"""The history page's own words: the downloads' column names and file names."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CSV_HEADER = (
    _l("Time (UTC)"),
    _l("What changed"),
    _l("Result"),
    _l("Details"),
    _l("Request id"),
)
FILE_NAME = "profilefix-changes"

"""The whole history as files to download: JSON with everything kept (thumbnails included)
and CSV for a spreadsheet, safe to open there."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from webapp.changes.log import Entry

# A cell starting with = + - @ (or a tab or carriage return) is a formula to Excel and
# LibreOffice; a leading ' keeps it text (OWASP, "CSV Injection",
# https://owasp.org/www-community/attacks/CSV_Injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def as_json(entries: Iterable[Entry], exported_at: str) -> bytes:
    document = {"exported_at": exported_at, "entries": [entry.as_json() for entry in entries]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def as_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 with a byte order mark, which Excel needs to read æ, ø and å right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(text) for text in header])
    for row in rows:
        writer.writerow([cell(text) for text in row])
    return ("\ufeff" + out.getvalue()).encode()

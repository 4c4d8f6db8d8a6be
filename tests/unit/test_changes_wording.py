"""Every kind of recorded change reads as sentences, in English and in Danish; the downloads are
safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from webapp import wording as vocabulary
from webapp.changes import wording
from webapp.changes.log import Entry, EntryKind, Refusal, Step
from webapp.extensions import LANGUAGES
from webapp.history import export
from webapp.imaging.pipeline import Rejection
from webapp.profile.refusals import Refusal as ProfileRefusal

# 2024-05-01 12:03:00 UTC
AT = "1714564980000-0"


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(
        Path(vocabulary.__file__).parent / "translations"
    )
    Babel(app)
    with app.test_request_context(), force_locale(request.param):
        yield request.param


def entry(kind: EntryKind, details: dict[str, Any], request_id: str | None = "a1b2c3d4") -> Entry:
    return Entry(AT, kind, details, request_id)


def photo(kind: EntryKind, graph: Step, sharepoint: Step, **extra: object) -> Entry:
    steps = {"graph": {"step": graph.value}, "sharepoint": {"step": sharepoint.value}}
    return entry(kind, {"op": "op-1", "steps": steps, **extra})


def readable(text: str) -> None:
    assert text and "%(" not in text and text.strip() == text


def read_all(described: wording.Described) -> None:
    readable(described.title)
    readable(described.outcome)
    for line in described.lines:
        readable(line)


EVERY_KIND: dict[str, Entry] = {
    "uploaded": photo(EntryKind.PHOTO_UPLOADED, Step.VERIFIED, Step.WRITTEN),
    "removed": photo(EntryKind.PHOTO_REMOVED, Step.WRITTEN, Step.TAKES_FROM_MICROSOFT_365),
    "undone": photo(EntryKind.PHOTO_UNDONE, Step.WRITTEN, Step.WRITTEN),
    "restored": photo(EntryKind.PHOTO_RESTORED, Step.WRITTEN, Step.VERIFIED),
    "resynced": entry(
        EntryKind.PHOTO_RESYNCED,
        {"op": "op-2", "steps": {"sharepoint": {"step": Step.NOTHING_TO_COPY.value}}},
    ),
    "retried": photo(EntryKind.PHOTO_RETRIED, Step.WRITTEN, Step.WRITTEN, of="photo_uploaded"),
    "profile": entry(
        EntryKind.PROFILE_SAVED,
        {
            "changes": [
                {"field": "about_me", "old": None, "new": "Runs the Aarhus office"},
                {"field": "skills", "old": ["Python"], "new": ["Python", "Rust"]},
                {"field": "birthday", "old": "--03-12", "new": "1990-03-12"},
            ],
            "refused": {"mobile_phone": "on_premises"},
            "failed": {"schools": {"code": "graph:503:serviceNotAvailable", "request_id": "r1"}},
            "not_confirmed": ["interests"],
        },
    ),
    "profile-refused": entry(
        EntryKind.REFUSED,
        {"reason": Refusal.POLICY.value, "fields": {"birthday": "organisation"}},
    ),
    "limit-photo": entry(
        EntryKind.REFUSED, {"reason": Refusal.RATE_LIMIT.value, "subject": "photo"}
    ),
    "limit-resync": entry(
        EntryKind.REFUSED, {"reason": Refusal.RATE_LIMIT.value, "subject": "resync"}
    ),
    "file-refused": entry(
        EntryKind.REFUSED, {"reason": Refusal.PHOTO_REJECTED.value, "code": "too_large_bytes"}
    ),
}


def test_every_kind_of_entry_is_covered_here() -> None:
    assert {e.kind for e in EVERY_KIND.values()} == set(EntryKind)


@pytest.mark.parametrize("name", EVERY_KIND)
def test_every_kind_of_change_reads_as_sentences(language: str, name: str) -> None:
    described = wording.describe(EVERY_KIND[name])
    read_all(described)
    read_all(wording.describe(EVERY_KIND[name], values=False))


def test_every_step_every_refusal_and_every_rejection_has_words(language: str) -> None:
    for step in Step:
        read_all(wording.describe(photo(EntryKind.PHOTO_UPLOADED, step, Step.NOT_REACHED)))
    for code in wording.FIELD_REFUSALS:
        details = {"reason": Refusal.POLICY.value, "fields": {"about_me": code}}
        read_all(wording.describe(entry(EntryKind.REFUSED, details)))
    for rejection in Rejection:
        details = {"reason": Refusal.PHOTO_REJECTED.value, "code": rejection.value}
        read_all(wording.describe(entry(EntryKind.REFUSED, details)))


def test_profile_refusal_codes_are_the_profile_features() -> None:
    assert set(wording.FIELD_REFUSALS) == {r.value for r in ProfileRefusal}


def test_a_saved_profile_shows_old_and_new_values(language: str) -> None:
    described = wording.describe(EVERY_KIND["profile"])
    assert described.status == "status-pending"  # saved, but some fields were not
    about, skills, birthday, *problems = described.lines
    if language == "en":
        assert described.title == "Profile details saved"
        assert about == "About me: “(empty)” → “Runs the Aarhus office”"
        assert skills == "Skills: “Python” → “Python, Rust”"
        assert birthday == "Birthday: “March 12” → “March 12, 1990”"
        assert problems[0].startswith("Mobile phone not saved: it is maintained in")
        assert "graph:503:serviceNotAvailable, request id r1" in problems[1]
    else:
        assert described.title == "Profiloplysninger gemt"
        assert about == "Om mig: “(tom)” → “Runs the Aarhus office”"
        assert birthday == "Fødselsdag: “12. marts” → “12. marts 1990”"


def test_photo_steps_name_each_service_and_microsofts_answer(language: str) -> None:
    steps = {
        "graph": {"step": "written"},
        "sharepoint": {"step": "failed", "code": "sharepoint:503:x", "request_id": "sp-9"},
    }
    described = wording.describe(entry(EntryKind.PHOTO_UPLOADED, {"steps": steps}))
    assert described.status == "status-pending"
    if language == "en":
        assert described.title == "New photo"
        assert described.outcome == "Partly done"
        assert described.lines == [
            "Outlook and Teams (Exchange and Entra ID): saved",
            "SharePoint: not saved: Microsoft answered with an error "
            "(sharepoint:503:x, request id sp-9)",
        ]
    else:
        assert described.title == "Nyt billede"
        assert described.outcome == "Delvist gennemført"


def test_nothing_to_copy_is_not_changed(language: str) -> None:
    assert wording.describe(EVERY_KIND["resynced"]).status == "status-failed"
    assert wording.describe(EVERY_KIND["uploaded"]).status == "status-ok"


def test_long_values_are_cut_on_the_page_and_kept_whole_in_the_downloads(language: str) -> None:
    text = "word " * 200
    details = {"changes": [{"field": "about_me", "old": "", "new": text}]}
    long_entry = entry(EntryKind.PROFILE_SAVED, details)
    assert len(wording.describe(long_entry).lines[0]) < 250
    assert text.strip() in wording.describe(long_entry, short=False).lines[0]


def test_the_helpdesk_summary_names_fields_but_not_their_values(language: str) -> None:
    lines = wording.summary_lines([EVERY_KIND["profile"], EVERY_KIND["uploaded"]])
    assert len(lines) == 3
    assert "Aarhus" not in "\n".join(lines) and "1990" not in "\n".join(lines)
    assert "2024-05-01 12:03 UTC" in lines[1] and "a1b2c3d4" in lines[1]
    if language == "en":
        assert lines[0] == "Recent changes made in ProfileFix (newest first):"
        assert "Saved: About me, Skills, Birthday" in lines[1]
    assert wording.summary_lines([]) == []


# -- the downloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+45 20 12 34 56", "'+45 20 12 34 56"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("About me: =1", "About me: =1"),
        ("", ""),
    ],
)
def test_a_csv_cell_never_starts_a_formula(text: str, cell: str) -> None:
    assert export.cell(text) == cell


def test_csv_is_utf8_with_a_byte_order_mark_and_quoted_lines() -> None:
    body = export.as_csv(["Tid", "Ændring"], [["=cmd", "two\nlines, with comma"]])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["Tid", "Ændring"], ["'=cmd", "two\nlines, with comma"]]


def test_json_download_holds_every_entry_with_its_thumbnails() -> None:
    pictured = Entry(AT, EntryKind.PHOTO_UPLOADED, {"op": "x"}, "r", {"new": b"\xff\xd8\xff"})
    document = json.loads(export.as_json([pictured], exported_at="2024-05-02T00:00:00Z"))
    (only,) = document["entries"]
    assert only["time"] == "2024-05-01T12:03:00Z"
    assert only["kind"] == "photo_uploaded"
    assert only["pictures"]["new"] == "data:image/jpeg;base64,/9j/"


def test_a_step_written_by_a_later_version_reads_as_its_code(language: str) -> None:
    steps = {"graph": {"step": "queued_for_later"}}
    described = wording.describe(entry(EntryKind.PHOTO_UPLOADED, {"steps": steps}))
    assert described.lines[0].endswith(": queued_for_later")
    assert described.status == "status-failed"

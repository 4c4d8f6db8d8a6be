"""Every code the diagnosis can produce has a sentence, in English and in Danish."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from tests.support.adele import snapshot
from webapp import wording as vocabulary
from webapp.extensions import LANGUAGES
from webapp.microsoft.errors import (
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
    UpstreamTimeoutError,
)
from webapp.microsoft.models import GraphUser
from webapp.microsoft.properties import Attribute, RowState
from webapp.overview import wording
from webapp.overview.diagnosis import (
    Action,
    AttributeVerdict,
    Finding,
    FindingCode,
    Helpdesk,
    Limit,
    PhotoVerdict,
    StoredCopy,
    diagnose,
)
from webapp.profile import wording as profile_wording
from webapp.profile.reading import build_view

PARAMS: dict[str, object] = {
    "fresh_for": 90,
    "helpdesk_after_hours": 72,
    "service": "sharepoint",
    "retry_after": None,
    "attribute": Attribute.DEPARTMENT,
    "graph_property": "department",
    "sharepoint_property": "Department",
    "graph_value": "Operations",
    "sharepoint_value": None,
}


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(
        Path(vocabulary.__file__).parent / "translations"
    )
    Babel(app)
    with app.test_request_context(), force_locale(request.param):
        yield request.param


def sentence(text: str | None) -> None:
    assert text and "%(" not in text and text.strip() == text


def test_every_verdict_attribute_and_state_has_words(language: str) -> None:
    for verdict in PhotoVerdict:
        sentence(wording.verdict(verdict))
    for attributes in AttributeVerdict:
        sentence(wording.attribute_verdict(attributes))
    for attribute in Attribute:
        sentence(wording.attribute_name(attribute))
    for state in RowState:
        sentence(wording.row_state(state))
    for stored in StoredCopy:
        sentence(wording.stored_copy(stored))
    if language == "da":
        older = wording.verdict(PhotoVerdict.SHAREPOINT_OLDER)
        assert older == "SharePoint viser stadig en ældre kopi af dit billede fra sin cache."


@pytest.mark.parametrize(
    ("fresh_for", "stated", "unit"),
    [
        (90, "2", "minutes"),
        (60, "1", "minute"),
        (7200, "2", "hours"),
        (None, None, None),
        (0, None, None),
    ],
)
def test_waiting_for_sharepoints_cache_names_only_the_time_sharepoint_stated(
    language: str, fresh_for: int | None, stated: str | None, unit: str | None
) -> None:
    finding = Finding(FindingCode.PHOTO_SHAREPOINT_OLDER, {"fresh_for": fresh_for})
    text = wording.wait_text(finding)
    sentence(text)
    digits = [c for c in text if c.isdigit()]
    assert digits == ([stated] if stated else [])
    if language == "en" and unit:
        assert f"up to {stated} more {unit}." in text
    for hours in ("24", "72"):
        assert hours not in text


@pytest.mark.parametrize(
    "code",
    [
        FindingCode.PHOTO_SHAREPOINT_OLDER,
        FindingCode.PHOTO_SHAREPOINT_PLACEHOLDER,
        FindingCode.PHOTO_REMOVED_STILL_IN_SHAREPOINT,
        FindingCode.ATTRIBUTE_DIFFERS,
    ],
)
def test_what_waiting_brings_reads_as_whole_sentences_not_a_fragment(
    language: str, code: FindingCode
) -> None:
    # Not "What you can do: Or wait: …" any more (issue 15).
    finding = Finding(code, PARAMS)
    for text in (wording.wait_text(finding), wording.advice(finding) or ""):
        sentence(text)
        assert text[0].isupper() and text.endswith(".")
        assert not text.startswith(("Or ", "Eller "))


def test_the_photo_buttons_say_what_they_do_for_the_finding(language: str) -> None:
    in_sync = Finding(FindingCode.PHOTO_IN_SYNC)
    none = Finding(FindingCode.PHOTO_NONE_ANYWHERE)
    older = Finding(FindingCode.PHOTO_SHAREPOINT_OLDER)
    labels = {
        (action, finding.code): wording.action_label(action, finding)
        for action in (Action.UPLOAD_PHOTO, Action.RESYNC_PHOTO)
        for finding in (in_sync, none, older)
    }
    for label in labels.values():
        sentence(label)
    # Without a photo the upload adds one; in sync, the re-sync is for a page still showing
    # an old one: neither contradicts the verdict above it.
    assert labels[Action.UPLOAD_PHOTO, none.code] != labels[Action.UPLOAD_PHOTO, older.code]
    assert labels[Action.RESYNC_PHOTO, in_sync.code] != labels[Action.RESYNC_PHOTO, older.code]
    if language == "en":
        assert labels[Action.UPLOAD_PHOTO, none.code] == "Add a photo"
        assert labels[Action.UPLOAD_PHOTO, older.code] == "Change my photo"


@pytest.mark.parametrize("code", list(FindingCode))
def test_every_finding_reads_as_a_sentence_with_every_way_forward(
    language: str, code: FindingCode
) -> None:
    finding = Finding(code, PARAMS, can=tuple(Action), cannot=tuple(Limit))
    sentence(wording.finding_meaning(finding))
    for action in (Action.RESYNC_PHOTO, Action.UPLOAD_PHOTO, Action.RETRY):
        sentence(wording.action_label(action))
        sentence(wording.action_label(action, finding))
    sentence(wording.wait_text(finding))
    advice = wording.advice(finding)
    assert (advice is None) == (code is FindingCode.PHOTO_IN_SYNC)
    if advice is not None:
        sentence(advice)
    for limit in Limit:
        sentence(wording.limit_text(limit, finding))
    for advice in Helpdesk:
        text = wording.helpdesk_text(Finding(code, PARAMS, helpdesk=advice))
        assert (text is None) == (advice is Helpdesk.NOT_NEEDED)
        if text is not None:
            sentence(text)


def test_unset_values_and_unknown_dates_read_as_words(language: str) -> None:
    sentence(vocabulary.value(None))
    sentence(vocabulary.value(""))
    sentence(str(vocabulary.local_time(None)))
    assert "<time" not in vocabulary.local_time(None)


def test_a_moment_is_a_time_element_with_utc_for_the_script_and_as_text(language: str) -> None:
    copenhagen = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 20, 9, 30, 15, tzinfo=copenhagen)
    assert vocabulary.local_time(moment) == (
        '<time datetime="2026-11-20T08:30:15Z" data-local-time>2026-11-20 08:30 UTC</time>'
    )
    assert vocabulary.local_time(moment, id='t"1') == (
        '<time id="t&#34;1" datetime="2026-11-20T08:30:15Z" data-local-time>'
        "2026-11-20 08:30 UTC</time>"
    )


@pytest.mark.parametrize(
    "error",
    [
        ThrottledError("graph", 429, retry_after=41),
        ThrottledError("sharepoint", 429),
        ServiceUnavailableError("sharepoint", 503, retry_after=5),
        ServiceUnavailableError("sharepoint", 503),
        UpstreamTimeoutError("graph", code="Timeout"),
        ForbiddenError("sharepoint", 403),
        NotFoundError("sharepoint", 404),
        BadResponseError("graph", 200),
        BadRequestError("graph", 400),
        UpstreamError("graph", 500),
    ],
)
def test_every_upstream_failure_reads_as_a_sentence(language: str, error: UpstreamError) -> None:
    sentence(vocabulary.upstream_failure(error))


def test_graph_throttling_names_the_wait(language: str) -> None:
    text = vocabulary.upstream_failure(ThrottledError("graph", 429, retry_after=41))
    assert "41" in text
    if language == "en":
        assert text.startswith("Microsoft is busy")


def test_helpdesk_summary_names_who_when_verdicts_and_version(language: str) -> None:
    taken = snapshot()
    text = wording.helpdesk_summary(
        diagnose(taken),
        taken,
        name="Adele Vance",
        username="AdeleV@contoso.com",
        ticket="INC0012345",
        version="9.9.9",
    )
    assert "Adele Vance <AdeleV@contoso.com>" in text
    assert "INC0012345" in text
    assert "2026-11-26 09:30:00" in text
    assert "[in_sync]" in text
    assert "9.9.9" in text


def test_the_profile_summary_has_the_same_frame_and_names_a_failed_service(language: str) -> None:
    taken = snapshot()
    down = ServiceUnavailableError("sharepoint", 503, code="serverBusy", request_id="req-42")
    view = build_view(
        GraphUser.from_graph({"id": "u1", "displayName": "Adele Vance"}),
        None,
        read_only={},
        sharepoint_error=down,
    )
    text = profile_wording.helpdesk_summary(
        view,
        name="Adele Vance",
        username="AdeleV@contoso.com",
        ticket="INC0012345",
        taken_at=taken.taken_at,
        version="9.9.9",
    )
    overview = wording.helpdesk_summary(
        diagnose(taken),
        taken,
        name="Adele Vance",
        username="AdeleV@contoso.com",
        ticket="INC0012345",
        version="9.9.9",
    )
    # Title, ticket, who and when read the same on both pages.
    assert text.splitlines()[:4] == overview.splitlines()[:4]
    assert "req-42" in text and "503" in text and "serverBusy" in text
    assert text.endswith("9.9.9")

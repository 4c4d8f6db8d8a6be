"""The profile page through the app, real MSAL and the emulator: each save path and each refusal,
as the signed-in employee meets them (reference §8)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from html import unescape
from html.parser import HTMLParser

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from requests.adapters import BaseAdapter

from m365_emulator import sync
from m365_emulator.tenant import Tenant
from tests.support.emulator import Emulator
from tests.support.signin import SignIn


class _ProfileForm(HTMLParser):
    """The fields of the page's edit form (the one posting to /profile) as a browser sends them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action", "").split("?")[0] == self.action
        elif not self.inside or "name" not in a and tag != "option":
            return
        elif tag == "input" and (a.get("type") != "radio" or "checked" in a):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_of(html: str, action: str = "/profile") -> dict[str, str]:
    parser = _ProfileForm(action)
    parser.feed(html)
    # A newline right after <textarea> is not part of the value (HTML parsing rules).
    return {k: v[1:] if v.startswith("\n") else v for k, v in parser.fields.items()}


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed, entities decoded."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def open_profile(client: FlaskClient) -> tuple[str, dict[str, str]]:
    response = client.get("/profile")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, form_of(html)


@pytest.fixture
def patch_log(app: Flask, emulator: Emulator) -> list[dict[str, object]]:
    """Every PATCH /me body the app sends, recorded at the transport."""
    bodies: list[dict[str, object]] = []
    http = app.extensions["http"]
    inner = http.get_adapter(emulator.url)

    class Recording(BaseAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            if request.method == "PATCH":
                bodies.append(json.loads(request.body))
            return inner.send(request, **kwargs)

        def close(self) -> None:
            inner.close()

    http.mount(f"{emulator.url}/v1.0/me", Recording())
    return bodies


def refuse_patches(
    app: Flask, emulator: Emulator, answer: Callable[[dict[str, object]], tuple[int, str] | None]
) -> None:
    """Answer some PATCH /me calls with a Graph error the emulator cannot be told to give.

    A transport-level stub (STYLE §3.8): the emulator has no tenant switch that makes a
    member's own field answer 403, nor a fault that targets PATCH only.
    """
    http = app.extensions["http"]
    inner = http.get_adapter(emulator.url)

    class Refusing(BaseAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            if request.method == "PATCH":
                refusal = answer(json.loads(request.body))
                if refusal is not None:
                    status, code = refusal
                    response = requests.Response()
                    response.status_code = status
                    response.headers["Content-Type"] = "application/json"
                    response._content = json.dumps(
                        {"error": {"code": code, "message": "Refused by the test."}}
                    ).encode()
                    response.url = request.url
                    response.request = request
                    return response
            return inner.send(request, **kwargs)

        def close(self) -> None:
            inner.close()

    http.mount(f"{emulator.url}/v1.0/me", Refusing())


# SharePoint-backed property the caller may not write (reference §8.2 error table [S64]).
UNAUTHORIZED = "DirectoryObjectUnauthorizedAccessException"


@pytest.fixture
def hannah(client: FlaskClient, sign_in: SignIn) -> Iterator[FlaskClient]:
    sign_in.as_user("half-profile")
    yield client


def upa(tenant: Tenant, key: str) -> dict[str, list[str]]:
    return dict(tenant.user(key).sharepoint.multi_values)


# -- reading ------------------------------------------------------------------------------------


def test_signed_out_visitor_comes_back_to_the_profile_after_sign_in(
    client: FlaskClient, sign_in: SignIn
) -> None:
    response = client.get("/profile?ticket=INC0012345")
    assert response.status_code == 302
    auth_uri = client.get(response.headers["Location"]).headers["Location"]
    answer = sign_in.answer(auth_uri, "half-profile")
    assert sign_in.finish(answer).headers["Location"] == "/profile?ticket=INC0012345"


def test_page_groups_fields_by_owner_with_both_sides(hannah: FlaskClient, tenant: Tenant) -> None:
    html, form = open_profile(hannah)
    text = text_of(html)
    assert "Yours to edit" in text
    assert "Managed by your organisation" in text
    assert form["skills"] == "Onboarding\nEmployment law"
    assert form["about_me"].startswith("HR partner for Sales and Marketing.")
    assert "may take up to 48 hours" in text
    # Both sides of the organisation's fields, who maintains them, where colleagues see them.
    assert "Job title Stored in Entra ID HR Business Partner" in text
    assert "Shown in SharePoint HR Business Partner Maintained by Your HR system" in text
    assert "profile card (Outlook, Teams), people search, SharePoint profile" in text
    assert "Please change my job title in Microsoft 365 from “HR Business Partner”" in text
    # The manager as SharePoint names it, without the claims prefix.
    manager = tenant.user("half-profile").sharepoint.properties["Manager"]
    assert manager.startswith("i:0#.f|membership|")
    assert f"Shown in SharePoint {manager.rsplit('|', 1)[-1]} Maintained by" in text


def test_helpdesk_summary_lists_the_fields_that_differ(
    client: FlaskClient, sign_in: SignIn
) -> None:
    sign_in.as_user("drifted-attributes")
    html, _ = open_profile(client)
    text = text_of(html)
    assert "Fields that differ between Entra ID and SharePoint:" in text
    assert "Job title: Entra ID “Senior Program Manager”, SharePoint" in text
    assert "Department: Entra ID “Operations”, SharePoint" in text
    # The summary is for the helpdesk: folded away below the fields, closed until asked for.
    details = html.index('<details class="helpdesk-details" id="details">')
    assert html.index('id="helpdesk-summary"') > details > html.index('name="about_me"')


# -- saving -------------------------------------------------------------------------------------


def test_skill_and_about_me_are_saved_in_a_request_of_their_own_and_read_back(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    form["skills"] += "\nPayroll"
    form["about_me"] = "HR partner. <script>alert(1)</script>"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 302
    page = hannah.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved: About me, Skills." in text_of(page)
    assert "may take up to 48 hours" in text_of(page)
    # Markup is shown as text, never rendered.
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert patch_log == [
        {
            "aboutMe": "HR partner. <script>alert(1)</script>",
            "skills": ["Onboarding", "Employment law", "Payroll"],
        }
    ]
    # Both sides now hold it: SharePoint's own profile store too.
    assert upa(tenant, "half-profile")["SPS-Skills"] == ["Onboarding", "Employment law", "Payroll"]
    assert "Stored in Entra ID Onboarding, Employment law, Payroll" in text_of(page)
    assert "Shown in SharePoint Onboarding, Employment law, Payroll" in text_of(page)


def test_mobile_phone_goes_in_a_request_of_its_own(
    hannah: FlaskClient, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    form["interests"] = "Running\nChess"
    form["mobile_phone"] = "+45 20 12 34 56"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 302
    assert patch_log == [{"interests": ["Running", "Chess"]}, {"mobilePhone": "+45 20 12 34 56"}]
    html, form = open_profile(hannah)
    assert form["mobile_phone"] == "+45 20 12 34 56"
    assert "Saved: Interests, Mobile phone." in text_of(html)


def test_a_birthday_is_day_and_month_stored_in_sharepoints_year(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    assert "birthday_year" not in form  # day and month only (reference §9.3)
    form.update(birthday_day="29", birthday_month="2")
    assert hannah.post("/profile", data=form).status_code == 302
    assert patch_log == [{"birthday": "2000-02-29T00:00:00Z"}]
    html, form = open_profile(hannah)
    assert (form["birthday_day"], form["birthday_month"]) == ("29", "2")
    assert "Stored in Entra ID February 29 Shown in SharePoint February 29" in text_of(html)


def test_a_stored_birthday_is_not_removed_and_the_page_says_why(
    hannah: FlaskClient, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    form.update(birthday_day="3", birthday_month="7")
    assert hannah.post("/profile", data=form).status_code == 302
    patch_log.clear()
    _, form = open_profile(hannah)
    form.update(birthday_day="", birthday_month="")
    response = hannah.post("/profile", data=form)
    assert response.status_code == 422
    assert "does not let a stored birthday be removed, only changed" in text_of(
        response.get_data(as_text=True)
    )
    assert patch_log == []  # never null (Graph's birthday is not nullable, §9.3)


@pytest.mark.parametrize("day", ["1²", "١٢", "１２"])
def test_a_birthday_in_other_digits_gets_a_message_not_a_server_error(
    hannah: FlaskClient, patch_log: list[dict[str, object]], day: str
) -> None:
    _, form = open_profile(hannah)
    form.update(birthday_day=day, birthday_month="4")
    response = hannah.post("/profile", data=form)
    assert response.status_code == 422
    assert "This is not a date in the calendar." in text_of(response.get_data(as_text=True))
    assert patch_log == []


def test_the_same_value_stored_two_ways_is_not_shown_as_differing(
    hannah: FlaskClient, tenant: Tenant
) -> None:
    user = tenant.user("half-profile")
    html, _ = open_profile(hannah)
    about = tenant.user("half-profile").sharepoint.properties["AboutMe"]
    with tenant.lock:
        # SharePoint keeps About me as HTML and lists in its own order (reference §9.3).
        user.sharepoint.properties["AboutMe"] = f"<div>{about}</div>"
        user.sharepoint.multi_values["SPS-Skills"] = ["Employment law", "Onboarding"]
    html, _ = open_profile(hannah)
    text = text_of(html)
    assert "The two sides differ." not in text
    assert "Fields that differ between Entra ID (Graph) and SharePoint:" not in text


def test_unchanged_form_sends_nothing(
    hannah: FlaskClient, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    response = hannah.post("/profile", data=form)
    assert response.status_code == 302
    assert patch_log == []
    assert "Nothing to save" in text_of(hannah.get("/profile").get_data(as_text=True))


def test_invalid_values_save_nothing_and_keep_what_was_typed(
    hannah: FlaskClient, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    form["skills"] = "Payroll\n  payroll  \nOnboarding"
    form["about_me"] = "x" * 2001
    form["interests"] = "Chess"
    form.update(birthday_day="31", birthday_month="4")
    response = hannah.post("/profile", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert "Nothing was saved yet: please correct the marked fields." in text
    assert "“payroll” is in the list more than once." in text
    assert "This is 2001 characters long; the limit is 2000." in text
    assert "This is not a date in the calendar." in text
    assert patch_log == []
    kept = form_of(html)
    assert kept["skills"] == "Payroll\n  payroll  \nOnboarding"
    assert kept["about_me"] == "x" * 2001
    assert kept["interests"] == "Chess"
    assert kept["birthday_day"] == "31"


# -- no silent overwrite ------------------------------------------------------------------------


def test_a_field_changed_elsewhere_is_not_overwritten_and_both_values_are_shown(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    user = tenant.user("half-profile")
    sync.write_profile_fields(tenant, user, {"skills": ["Changed in SharePoint"]})
    form["skills"] = "Onboarding\nPayroll"
    form["schools"] = "Aarhus University"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "Saved: Schools." in text
    assert "Changed elsewhere since you opened this page, so not saved yet: Skills." in text
    assert "Save my version: Onboarding, Payroll" in text
    assert "Keep what is stored now: Changed in SharePoint" in text
    assert patch_log == [{"schools": ["Aarhus University"]}]
    assert upa(tenant, "half-profile")["SPS-Skills"] == ["Changed in SharePoint"]

    resolve = form_of(response.get_data(as_text=True), action="/profile/resolve")
    assert resolve["choice_skills"] == "mine"
    assert hannah.post("/profile/resolve", data=resolve).status_code == 302
    assert upa(tenant, "half-profile")["SPS-Skills"] == ["Onboarding", "Payroll"]


def test_keeping_the_version_stored_elsewhere_writes_nothing(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    sync.write_profile_fields(tenant, tenant.user("half-profile"), {"aboutMe": "Theirs"})
    form["about_me"] = "Mine"
    response = hannah.post("/profile", data=form)
    resolve = form_of(response.get_data(as_text=True), action="/profile/resolve")
    resolve["choice_about_me"] = "theirs"
    response = hannah.post("/profile/resolve", data=resolve)
    assert response.status_code == 302
    page = text_of(hannah.get("/profile").get_data(as_text=True))
    assert "Kept what is stored in Microsoft 365" in page
    assert patch_log == []
    assert tenant.user("half-profile").sharepoint.properties["AboutMe"] == "Theirs"


def test_a_field_changed_elsewhere_but_not_here_is_left_alone(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    sync.write_profile_fields(tenant, tenant.user("half-profile"), {"interests": ["Sailing"]})
    form["skills"] = "Onboarding"
    assert hannah.post("/profile", data=form).status_code == 302
    assert patch_log == [{"skills": ["Onboarding"]}]
    assert upa(tenant, "half-profile")["SPS-Interests"] == ["Sailing"]


# -- refusals -----------------------------------------------------------------------------------


def test_on_premises_synced_phone_is_read_only_with_an_explanation_from_the_start(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    sign_in.as_user("synced-onprem")
    # Graph says the account is synced (onPremisesSyncEnabled), so the page knows before any
    # save that the number is mastered on premises (reference §8.2).
    html, form = open_profile(client)
    assert "mobile_phone" not in form
    assert "token_mobile_phone" not in form
    text = text_of(html)
    assert "Mobile phone Your account is maintained in your organisation's on-premises" in text
    assert "Maintained by Your IT department, in your on-premises Active Directory" in text
    phone = tenant.user("synced-onprem").directory["mobilePhone"]
    assert f"Stored in Entra ID {phone}" in text
    form["skills"] = "Audit"
    response = client.post("/profile", data=form)
    assert response.status_code == 302
    assert patch_log == [{"skills": ["Audit"]}]


def test_a_403_for_a_field_makes_it_read_only_not_an_error_page(
    hannah: FlaskClient, app: Flask, emulator: Emulator
) -> None:
    refuse_patches(
        app,
        emulator,
        lambda body: (403, "Authorization_RequestDenied") if "mobilePhone" in body else None,
    )
    _, form = open_profile(hannah)
    form["mobile_phone"] = "+45 20 12 34 56"
    form["skills"] = "Onboarding"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "Saved: Skills." in text
    assert "Mobile phone: Your organisation does not let you change this yourself" in text
    assert "mobile_phone" not in form_of(response.get_data(as_text=True))


def test_grouped_fields_refused_with_400_are_sent_one_per_request(
    hannah: FlaskClient, app: Flask, emulator: Emulator, tenant: Tenant
) -> None:
    sent: list[dict[str, object]] = []

    def grouped_refused(body: dict[str, object]) -> tuple[int, str] | None:
        sent.append(body)
        return (400, "BadRequest") if len(body) > 1 else None

    refuse_patches(app, emulator, grouped_refused)
    _, form = open_profile(hannah)
    form["skills"] = "Onboarding\nPayroll"
    form["schools"] = "Aarhus University"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 302
    assert sent == [
        {"skills": ["Onboarding", "Payroll"], "schools": ["Aarhus University"]},
        {"skills": ["Onboarding", "Payroll"]},
        {"schools": ["Aarhus University"]},
    ]
    assert upa(tenant, "half-profile")["SPS-School"] == ["Aarhus University"]


def test_sharepoint_profile_not_writable_keeps_the_text_and_explains(
    hannah: FlaskClient, app: Flask, emulator: Emulator
) -> None:
    refuse_patches(
        app,
        emulator,
        lambda body: (
            (500, f"-1, Microsoft.Office.Server.Directory.{UNAUTHORIZED}")
            if "aboutMe" in body
            else None
        ),
    )
    _, form = open_profile(hannah)
    form["about_me"] = "New text"
    response = hannah.post("/profile", data=form)
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "About me: Your SharePoint profile cannot be written right now" in text
    # Read-only from now on, and what was typed is still on the page to copy.
    assert "about_me" not in form_of(response.get_data(as_text=True))
    assert "Not saved. What you typed: New text" in text


def test_graph_down_before_saving_saves_nothing_and_keeps_the_text(
    hannah: FlaskClient, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    _, form = open_profile(hannah)
    form["about_me"] = "Typed while Graph was down"
    tenant.faults.fail_always("graph", 404)
    response = hannah.post("/profile", data=form)
    tenant.faults.clear()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nothing was saved: we could not read your profile first." in text_of(html)
    assert form_of(html)["about_me"] == "Typed while Graph was down"
    assert patch_log == []


def test_saving_without_the_csrf_token_is_refused(hannah: FlaskClient) -> None:
    _, form = open_profile(hannah)
    del form["csrf_token"]
    form["about_me"] = "No token"
    assert hannah.post("/profile", data=form).status_code == 400


def test_a_refusal_of_one_grouped_field_is_found_and_the_rest_is_saved(
    hannah: FlaskClient, app: Flask, emulator: Emulator, tenant: Tenant
) -> None:
    # SharePoint's per-property "users may edit" flag may gate one field (§8.2, UNCONFIRMED).
    refuse_patches(
        app,
        emulator,
        lambda body: (403, "Authorization_RequestDenied") if "birthday" in body else None,
    )
    _, form = open_profile(hannah)
    form["skills"] = "Onboarding"
    form.update(birthday_day="12", birthday_month="4")
    response = hannah.post("/profile", data=form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert "Saved: Skills." in text
    assert "Birthday: Your organisation does not let you change this yourself" in text
    assert "birthday_day" not in form_of(html)
    assert "Not saved. What you typed: April 12" in text
    assert upa(tenant, "half-profile")["SPS-Skills"] == ["Onboarding"]


def test_an_old_value_that_breaks_our_rules_does_not_block_other_changes(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    # Written before (e.g. in Delve) with a duplicate and over our About me limit.
    old = {"skills": ["Excel", "excel"], "aboutMe": "y" * 2500}
    sync.write_profile_fields(tenant, tenant.user("half-profile"), old)
    sign_in.as_user("half-profile")
    _, form = open_profile(client)
    form["interests"] = "Chess"
    assert client.post("/profile", data=form).status_code == 302
    assert patch_log == [{"interests": ["Chess"]}]


def test_sharepoint_down_still_lets_the_employee_edit_through_graph(
    app: Flask, client: FlaskClient, sign_in: SignIn, patch_log: list[dict[str, object]]
) -> None:
    # SharePoint answers 503 with Retry-After: 5 until the budget is spent (on the test clock).
    sign_in.as_user("sharepoint-down")
    html, form = open_profile(client)
    text = text_of(html)
    assert "We could not read your SharePoint profile, so its side is missing below." in text
    assert "Shown in SharePoint (could not be read)" in text
    form["skills"] = "Contracts"
    assert client.post("/profile", data=form).status_code == 302
    assert patch_log == [{"skills": ["Contracts"]}]


# -- a user without SharePoint (reference §9.2) -------------------------------------------------


def test_without_a_sharepoint_licence_the_rest_of_the_profile_still_saves(
    client: FlaskClient, sign_in: SignIn, tenant: Tenant, patch_log: list[dict[str, object]]
) -> None:
    sign_in.as_user("no-sharepoint")
    first = client.get("/profile")
    # SharePoint refuses every token of theirs: one round through sign-in, then explained.
    assert first.status_code == 302
    auth_uri = client.get(first.headers["Location"]).headers["Location"]
    assert sign_in.finish(sign_in.answer(auth_uri, "no-sharepoint")).status_code == 302

    html, form = open_profile(client)
    text = text_of(html)
    assert "your account has no SharePoint licence, so it cannot be read or changed here" in text
    assert "SharePoint could not be read: it refused your sign-in" in text
    assert {"skills", "about_me", "birthday_day"}.isdisjoint(form)
    assert "token_mobile_phone" in form  # the directory field stays editable

    form["mobile_phone"] = "+45 20 00 00 00"
    response = client.post("/profile", data=form)
    assert response.status_code == 302
    assert patch_log == [{"mobilePhone": "+45 20 00 00 00"}]
    assert "Saved: Mobile phone." in text_of(client.get("/profile").get_data(as_text=True))
    selects = [r.query for r in tenant.requests_to("graph") if r.path.endswith("/me")]
    assert any("aboutMe" in q for q in selects) and any("mobilePhone" in q for q in selects)
    assert not any("aboutMe" in q and "mobilePhone" in q for q in selects)  # apart


def test_a_saved_profile_is_a_security_event_naming_fields_not_values(
    hannah: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, form = open_profile(hannah)
    form["about_me"] = "Confidential words about me"
    assert hannah.post("/profile", data=form).status_code == 302
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "profilefix.security"]
    (saved,) = [line for line in lines if line["event"] == "profile.saved"]
    assert saved["fields"] == "about_me"
    oid = tenant.user("half-profile").oid
    assert saved["user"] == hashlib.sha256(f"{oid}.{tenant.tenant_id}".encode()).hexdigest()[:16]
    assert "Confidential" not in "\n".join(r.getMessage() for r in caplog.records)

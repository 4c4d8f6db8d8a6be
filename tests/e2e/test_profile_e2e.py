"""An employee fills in their profile in Chromium, sees it on both sides, and the page passes
axe in Danish and fits a 360 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import axe_report, demo_sign_in
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e

SCRIPT = "<script>alert(1)</script>"


def test_add_a_skill_and_about_me_then_see_both_sides_after_reload(
    page: Page, live_server: LiveServer
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    demo_sign_in(page, live_server, "half-profile", start="/profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")

    skills = page.get_by_label("Skills", exact=True)
    skills.fill(skills.input_value() + "\nPayroll")
    about = page.get_by_label("About me", exact=True)
    about.fill(f"HR partner. {SCRIPT}")
    page.get_by_role("button", name="Save my changes").click()

    expect(page.get_by_text("Saved: About me, Skills.")).to_be_visible()
    expect(page.get_by_text("may take up to 48 hours").first).to_be_visible()
    for side in ("Stored in Entra ID", "Shown in SharePoint"):
        skills_side = page.locator("#sides-skills div", has_text=side)
        expect(skills_side).to_contain_text("Onboarding, Employment law, Payroll")
        about_side = page.locator("#sides-about_me div", has_text=side)
        expect(about_side).to_contain_text(f"HR partner. {SCRIPT}")  # markup shown as text

    page.reload()
    expect(page.get_by_label("Skills", exact=True)).to_have_value(
        "Onboarding\nEmployment law\nPayroll"
    )
    expect(page.get_by_label("About me", exact=True)).to_have_value(f"HR partner. {SCRIPT}")
    assert dialogs == []
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_wrong_job_title_gets_a_request_text_to_copy(page: Page, live_server: LiveServer) -> None:
    demo_sign_in(page, live_server, "half-profile", start="/profile")
    job_title = page.locator("#field-job_title")
    job_title.get_by_text("Ask for a change").click()
    request = job_title.get_by_label("Request text for your helpdesk", exact=False)
    expect(request).to_have_value(
        re.compile(
            re.escape(
                "Please change my job title in Microsoft 365 from “HR Business Partner” to "
                "[your correct job title]."
            )
        )
    )
    job_title.get_by_role("button", name="Copy request text").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")


def test_profile_in_danish_passes_axe_and_fits_a_phone(page: Page, live_server: LiveServer) -> None:
    demo_sign_in(page, live_server, "half-profile", start="/profile")
    page.locator("form.language-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "da")
    page.locator("details").evaluate_all("(all) => all.forEach((d) => { d.open = true; })")

    report = axe_report(page)
    assert not report, report

    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_edit_and_save_with_the_keyboard_alone(page: Page, live_server: LiveServer) -> None:
    demo_sign_in(page, live_server, "half-profile", start="/profile")
    page.get_by_label("Interests", exact=True).focus()
    page.keyboard.type("Chess")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Save my changes":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_text("Saved: Interests.")).to_be_visible()
    job_title = page.locator("#field-job_title")
    job_title.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(job_title.get_by_label("Request text for your helpdesk", exact=False)).to_be_visible()

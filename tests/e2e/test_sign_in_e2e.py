"""Signing in when Microsoft asks for more: a stronger sign-in (issue 14) asked once, landing on
the page asked for. Every demo user's sign-in, verdict and sign-out: test_screens_e2e.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import in_app
from tests.support.demo_app import LiveServer

pytestmark = pytest.mark.e2e


def test_a_stronger_sign_in_is_asked_once_and_lands_on_the_page_asked_for(
    page: Page, live_server: LiveServer
) -> None:
    """Issue 14: Graph answers the step-up user's first call with a claims challenge (an
    authentication context); the app sends them to Entra with those claims once, and back."""
    tenant = live_server.tenant
    user = tenant.user("step-up")
    tenant.consents.clear()  # the first sign-in: the consent page too
    page.goto("/attributes?ticket=INC0012345")
    page.get_by_label(user.upn, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Accept").click()

    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    expect(page.get_by_text("authentication context c1")).to_be_visible()
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(in_app)

    assert page.url.endswith("/attributes?ticket=INC0012345")
    expect(page.locator("[data-attributes-verdict]")).to_have_text(
        "SharePoint shows the same profile details as Outlook and Teams."
    )
    page.reload()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Elina Virtanen")
    entra = [r.path for r in tenant.requests_to("entra")]
    assert sum(p.endswith("/oauth2/v2.0/authorize") for p in entra) == 2  # sign-in, step-up
    assert sum(p.endswith("/authorize/verify") for p in entra) == 1
    assert page.csp_violations == []  # type: ignore[attr-defined]

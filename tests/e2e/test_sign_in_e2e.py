"""A person signs in to the demo tenant in Chromium, lands on their page, and signs out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, demo_sign_in, in_app

pytestmark = pytest.mark.e2e


def test_every_demo_user_can_sign_in_and_out(page: Page, live_server: LiveServer) -> None:
    for user in list(live_server.tenant.users.values()):
        demo_sign_in(page, live_server, user.key)
        name = user.directory["displayName"]
        expect(page.get_by_role("heading", level=1)).to_contain_text(str(name))
        expect(page.get_by_text("Demo tenant")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("signed out")
        page.goto("/")
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_helpdesk_link_survives_sign_in(page: Page, live_server: LiveServer) -> None:
    demo_sign_in(page, live_server, "in-sync", start="/attributes?ticket=INC0012345")
    assert page.url.endswith("/attributes?ticket=INC0012345")


def test_a_stronger_sign_in_is_asked_once_and_lands_on_the_page_asked_for(
    page: Page, live_server: LiveServer
) -> None:
    """Issue 14: Graph answers the step-up user's first call with a claims challenge (an
    authentication context); the app sends them to Entra with those claims once, and back."""
    tenant = live_server.tenant
    user = tenant.user("step-up")
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
        "SharePoint shows the same profile details as Entra ID."
    )
    page.reload()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Elina Virtanen")
    entra = [r.path for r in tenant.requests_to("entra")]
    assert sum(p.endswith("/oauth2/v2.0/authorize") for p in entra) == 2  # sign-in, step-up
    assert sum(p.endswith("/authorize/verify") for p in entra) == 1
    assert page.csp_violations == []  # type: ignore[attr-defined]

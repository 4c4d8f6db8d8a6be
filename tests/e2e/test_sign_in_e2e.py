"""A person signs in to the demo tenant in Chromium, lands on their page, and signs out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.chromium import demo_sign_in
from tests.support.demo_app import LiveServer

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

"""Settings: demo without configuration, one-line errors for unsafe or contradictory input."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from webapp.settings import Settings, SettingsError

GOOD = {
    "CLIENT_ID": "8f2b1c3d-0000-4000-8000-000000000001",
    "CLIENT_SECRET": "s3cret",
    "TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "SHAREPOINT_URL": "https://contoso.sharepoint.com",
    "SECRET_KEY": "Vq3xT8-kL2mZr9YwB4nH7cJ0fD6sA1gE5uP_iO",
    "ORGANISATION_NAME": "Contoso",
}


def test_no_client_id_means_demo_mode() -> None:
    assert Settings.from_env({}) is None


def test_real_tenant_defaults_follow_microsoft() -> None:
    settings = Settings.from_env(GOOD)
    assert settings is not None
    assert settings.authority == f"https://login.microsoftonline.com/{GOOD['TENANT_ID']}"
    assert settings.graph_endpoint == "https://graph.microsoft.com/v1.0"
    assert settings.sharepoint_scopes_for() == [
        "https://contoso.sharepoint.com/AllSites.Read",
        "https://contoso.sharepoint.com/AllSites.Write",
    ]
    assert settings.sharepoint_scopes_for("https://contoso-my.sharepoint.com")[0] == (
        "https://contoso-my.sharepoint.com/AllSites.Read"
    )
    assert settings.secure_cookies


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CLIENT_SECRET": ""}, "CLIENT_SECRET"),
        ({"SHAREPOINT_URL": ""}, "SHAREPOINT_URL"),
        ({"AUTHORITY": "http://login.example.test/tenant"}, "AUTHORITY"),
        ({"AUTHORITY": "https://login.example.test"}, "AUTHORITY"),
        ({"GRAPH_ENDPOINT": "http://graph.example.test/v1.0"}, "GRAPH_ENDPOINT"),
        ({"SHAREPOINT_URL": "https://contoso.sharepoint.com/sites/hr"}, "SHAREPOINT_URL"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"TENANT_ID": ""}, "TENANT_ID"),
        ({"REDIS_URL": "http://redis"}, "REDIS_URL"),
        ({"PUBLIC_URL": "profile.contoso.com"}, "PUBLIC_URL"),
        ({"REQUESTS_CA_BUNDLE": "/no/such/file.pem"}, "REQUESTS_CA_BUNDLE"),
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB"),
        ({"TRUSTED_PROXIES": "9"}, "TRUSTED_PROXIES"),
        ({"HISTORY_MAX_ENTRIES": "0"}, "HISTORY_MAX_ENTRIES"),
        ({"HISTORY_DAYS": "a year"}, "HISTORY_DAYS"),
        ({"ORGANISATION_NAME": "Contoso|Evil"}, "ORGANISATION_NAME"),
        ({"ORGANISATION_NAME": "Contoso Ltd"}, "ORGANISATION_NAME"),
        ({"ORGANISATION_NAME": "Contoso\tLtd"}, "ORGANISATION_NAME"),
        ({"ORGANISATION_NAME": "Bräuer"}, "ORGANISATION_NAME"),
        ({"ORGANISATION_NAME": ""}, "ORGANISATION_NAME"),
        ({"SHAREPOINT_SCOPES": "https://contoso.sharepoint.com/AllSites.Read"}, "SHAREPOINT_"),
        ({"SHAREPOINT_SCOPES": "AllSites.Read;AllSites.Write"}, "SHAREPOINT_SCOPES"),
        # A real tenant over plain http: cookies and tokens in the clear (localhost excepted).
        ({"PUBLIC_URL": "http://profile.contoso.com"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "http://10.0.0.5:8000"}, "PUBLIC_URL"),
        # Long enough, but guessable: one repeated character, a repeated short pattern.
        ({"SECRET_KEY": "x" * 48}, "SECRET_KEY"),
        ({"SECRET_KEY": "abcd" * 12}, "SECRET_KEY"),
        ({"SECRET_KEY": "0123456789abcdef" * 2}, "SECRET_KEY"),
        ({"SECRET_KEY": "changeme-" * 5}, "SECRET_KEY"),
        # On App Service (it sets WEBSITE_HOSTNAME) behind its front end, with nothing set to
        # say so: redirect URIs would be built for http and the wrong host.
        ({"WEBSITE_HOSTNAME": "profilefix.azurewebsites.net"}, "TRUSTED_PROXIES"),
    ],
)
def test_bad_setting_stops_start_up_with_one_line_naming_it(change: dict, named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**GOOD, **change})
    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


@pytest.mark.parametrize(
    "name", ["CLIENT_SECRET", "TENANT_ID", "SHAREPOINT_URL", "AUTHORITY", "GRAPH_ENDPOINT"]
)
def test_tenant_setting_without_client_id_is_refused(name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} is set but CLIENT_ID is not"):
        Settings.from_env({name: GOOD.get(name, "https://login.example.test/t")})


def test_sharepoint_scopes_are_a_setting_asked_for_on_every_sharepoint_host() -> None:
    settings = Settings.from_env(
        {**GOOD, "SHAREPOINT_SCOPES": "AllSites.Read, AllSites.Write User.ReadWrite.All"}
    )
    assert settings is not None
    assert settings.sharepoint_scopes_for("https://contoso-my.sharepoint.com") == [
        "https://contoso-my.sharepoint.com/AllSites.Read",
        "https://contoso-my.sharepoint.com/AllSites.Write",
        "https://contoso-my.sharepoint.com/User.ReadWrite.All",
    ]


def test_the_organisation_name_is_required_with_a_real_tenant() -> None:
    without = {k: v for k, v in GOOD.items() if k != "ORGANISATION_NAME"}
    with pytest.raises(SettingsError, match="^ORGANISATION_NAME is not set"):
        Settings.from_env(without)


@pytest.mark.parametrize(
    "public_url", ["http://localhost:5000", "http://127.0.0.1:5000", "http://[::1]:5000"]
)
def test_plain_http_is_allowed_on_this_machine_only(public_url: str) -> None:
    assert Settings.from_env({**GOOD, "PUBLIC_URL": public_url}) is not None


@pytest.mark.parametrize(
    "key",
    [
        "integration-test-secret-key-0123456789abcdef",
        # Real random keys of the documented kinds, including the shortest (32 hex digits).
        "9f86d081884c7d659a2feaa0c55ad015",
        "Ut8rS0y1oE7mMZ2aVfQ9hWJ3kXcLgP5tN4bRr6sD-_vGq1eHc0TzYxA8iKjLmNoP",
    ],
)
def test_random_secret_keys_are_accepted(key: str) -> None:
    assert Settings.from_env({**GOOD, "SECRET_KEY": key}) is not None


def test_app_service_with_its_proxy_settings_starts() -> None:
    env = {**GOOD, "WEBSITE_HOSTNAME": "profilefix.azurewebsites.net", "TRUSTED_PROXIES": "1"}
    assert Settings.from_env(env) is not None


def test_http_public_url_turns_off_secure_cookies() -> None:
    settings = Settings.from_env({**GOOD, "PUBLIC_URL": "http://localhost:5000"})
    assert settings is not None and not settings.secure_cookies


def test_config_readme_documents_every_setting_and_nothing_else() -> None:
    readme = (Path(__file__).parents[2] / "config" / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    fields = {f.name.upper() for f in dataclasses.fields(Settings) if f.name != "demo"}
    assert documented == fields

"""The app's settings: read once from the environment (and `.env`), typed, validated.

Every field is documented in `config/README.md` (a test keeps the two in step). Nothing
reads the environment at import time; `create_app()` calls `Settings.from_env()`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

GRAPH_DEFAULT = "https://graph.microsoft.com/v1.0"
AUTHORITY_HOST_DEFAULT = "https://login.microsoftonline.com"
MIN_SECRET_KEY_LENGTH = 32
# Today's delegated SharePoint permissions (reference §4.9): read the profile and pictures,
# push the own picture. Some tenants refuse SetMyProfilePicture without "Read and write user
# profiles" (User.ReadWrite.All, admin consent; issue 14), so the list is a setting.
SHAREPOINT_SCOPES_DEFAULT = ("AllSites.Read", "AllSites.Write")
# A SharePoint permission name as Entra spells scope values, e.g. AllSites.Write.
_PERMISSION = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*")
# Goes into the User-Agent (`NONISV|<name>|ProfileFix/<version>`): visible ASCII without the
# format's separator, so the header stays one parseable product token (reference §4.1).
_ORGANISATION = re.compile(r"[!-{}~]+")


class SettingsError(ValueError):
    """A setting is missing, contradictory or unsafe; the message is one line with the fix."""


@dataclass(frozen=True)
class Settings:
    """What the app needs to know about its tenant and its surroundings."""

    client_id: str
    client_secret: str
    tenant_id: str
    authority: str
    graph_endpoint: str
    sharepoint_url: str
    secret_key: str
    redis_url: str | None = None
    public_url: str | None = None
    requests_ca_bundle: str | None = None
    # How many reverse proxies in front of the app set X-Forwarded-* (0: trust none).
    trusted_proxies: int = 0
    max_upload_mb: int = 20
    session_idle_minutes: int = 30
    session_max_hours: int = 8
    metrics_allowed_from: tuple[str, ...] = ("127.0.0.1", "::1")
    # Named in the User-Agent of every call (`NONISV|<organisation>|ProfileFix/<version>`):
    # SharePoint deprioritises undecorated traffic (reference §4.1, security.md §1.5).
    organisation_name: str = "ProfileFix"
    # Delegated SharePoint permission names; each is asked for on every SharePoint host the
    # app calls (the tenant's and the My Site host), as `<origin>/<name>`.
    sharepoint_scopes: tuple[str, ...] = SHAREPOINT_SCOPES_DEFAULT
    # Set only by the demo wiring: the app then shows the "Demo tenant" banner.
    demo: bool = field(default=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings | None:
        """Settings for a real tenant, or None when no CLIENT_ID is set (demo mode).

        :raise SettingsError: when a setting is missing, contradictory or unsafe.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        client_id = get("CLIENT_ID")
        if client_id is None:
            for name in ("CLIENT_SECRET", "SHAREPOINT_URL", "AUTHORITY"):
                if get(name):
                    raise SettingsError(
                        f"{name} is set but CLIENT_ID is not: set CLIENT_ID to the app "
                        "registration's Application (client) ID, or unset "
                        f"{name} to run the demo."
                    )
            return None
        tenant_id = get("TENANT_ID") or ""
        authority = get("AUTHORITY")
        if authority is None:
            if not tenant_id:
                raise SettingsError(
                    "TENANT_ID is not set: set it to your Directory (tenant) ID, or set "
                    "AUTHORITY to the full authority URL."
                )
            authority = f"{AUTHORITY_HOST_DEFAULT}/{tenant_id}"
        settings = cls(
            client_id=client_id,
            client_secret=get("CLIENT_SECRET") or "",
            tenant_id=tenant_id or urlsplit(authority).path.strip("/").split("/")[0],
            authority=authority.rstrip("/"),
            graph_endpoint=(get("GRAPH_ENDPOINT") or GRAPH_DEFAULT).rstrip("/"),
            sharepoint_url=(get("SHAREPOINT_URL") or "").rstrip("/"),
            secret_key=get("SECRET_KEY") or "",
            redis_url=get("REDIS_URL"),
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            requests_ca_bundle=get("REQUESTS_CA_BUNDLE"),
            trusted_proxies=_int(get("TRUSTED_PROXIES"), "TRUSTED_PROXIES", 0, 0, 5),
            max_upload_mb=_int(get("MAX_UPLOAD_MB"), "MAX_UPLOAD_MB", 20, 1, 50),
            session_idle_minutes=_int(
                get("SESSION_IDLE_MINUTES"), "SESSION_IDLE_MINUTES", 30, 5, 24 * 60
            ),
            session_max_hours=_int(get("SESSION_MAX_HOURS"), "SESSION_MAX_HOURS", 8, 1, 72),
            organisation_name=_required_organisation(get("ORGANISATION_NAME")),
            sharepoint_scopes=tuple((get("SHAREPOINT_SCOPES") or "").replace(",", " ").split())
            or SHAREPOINT_SCOPES_DEFAULT,
            metrics_allowed_from=tuple(
                a.strip()
                for a in (get("METRICS_ALLOWED_FROM") or "127.0.0.1,::1").split(",")
                if a.strip()
            ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """:raise SettingsError: naming the first setting that is wrong, and the fix."""
        if not self.client_secret:
            raise SettingsError(
                "CLIENT_SECRET is not set: create a client secret under the app "
                "registration's Certificates & secrets and set CLIENT_SECRET to its value."
            )
        if not self.sharepoint_url:
            raise SettingsError(
                "SHAREPOINT_URL is not set: set it to your tenant's SharePoint origin, "
                "e.g. https://contoso.sharepoint.com."
            )
        for name, url in (
            ("AUTHORITY", self.authority),
            ("GRAPH_ENDPOINT", self.graph_endpoint),
            ("SHAREPOINT_URL", self.sharepoint_url),
        ):
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                raise SettingsError(
                    f"{name} must be an https:// URL (got {url!r}): Microsoft's endpoints, "
                    "and MSAL, accept only https."
                )
        if not urlsplit(self.authority).path.strip("/"):
            raise SettingsError(
                "AUTHORITY has no tenant in its path: use "
                "https://login.microsoftonline.com/<TENANT_ID>."
            )
        if urlsplit(self.sharepoint_url).path.strip("/"):
            raise SettingsError(
                "SHAREPOINT_URL must be an origin without a path, "
                "e.g. https://contoso.sharepoint.com (not a site URL)."
            )
        if len(self.secret_key) < MIN_SECRET_KEY_LENGTH and not self.demo:
            raise SettingsError(
                f"SECRET_KEY is missing or shorter than {MIN_SECRET_KEY_LENGTH} characters: "
                'set it to a random value, e.g. python -c "import secrets; '
                'print(secrets.token_urlsafe(48))", the same on every instance.'
            )
        if not _ORGANISATION.fullmatch(self.organisation_name):
            raise SettingsError(
                "ORGANISATION_NAME must be one word of letters, digits and punctuation, "
                f"without spaces or '|' (got {self.organisation_name!r}): it goes into the "
                "User-Agent of every call, e.g. Contoso or Contoso-Ltd."
            )
        for name in self.sharepoint_scopes:
            if not _PERMISSION.fullmatch(name):
                raise SettingsError(
                    f"SHAREPOINT_SCOPES must list SharePoint permission names such as "
                    f"AllSites.Read AllSites.Write (got {name!r}): the SharePoint host is "
                    "added for each host the app calls."
                )
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
                raise SettingsError(
                    f"PUBLIC_URL must be a base URL like https://profile.contoso.com "
                    f"(got {self.public_url!r})."
                )
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in (
            "redis",
            "rediss",
            "unix",
        ):
            raise SettingsError(
                "REDIS_URL must start with redis://, rediss:// or unix:// "
                f"(got {self.redis_url!r})."
            )
        if self.requests_ca_bundle is not None and not os.path.isfile(self.requests_ca_bundle):
            raise SettingsError(
                f"REQUESTS_CA_BUNDLE points to {self.requests_ca_bundle!r}, which is not a "
                "file: give the path of the PEM file with the CA certificates to trust."
            )

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure (and `__Host-` prefixed) unless the app is served over http."""
        if self.public_url is not None:
            return self.public_url.startswith("https://")
        return not self.demo

    @property
    def graph_scopes(self) -> list[str]:
        """Least privilege for Graph (reference §3.3, §8.2): read and own-profile writes."""
        return ["User.Read", "User.ReadWrite"]

    def sharepoint_scopes_for(self, origin: str | None = None) -> list[str]:
        """The SharePoint scopes for `origin` (default: SHAREPOINT_URL), fully qualified as
        Entra wants them (reference §4.9)."""
        origin = (origin or self.sharepoint_url).rstrip("/")
        return [f"{origin}/{name}" for name in self.sharepoint_scopes]

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests build their variants with it)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _required_organisation(value: str | None) -> str:
    if value is None:
        raise SettingsError(
            "ORGANISATION_NAME is not set: set it to your organisation's name as one word, "
            "e.g. Contoso; every call to Microsoft names it in its User-Agent (SharePoint "
            "deprioritises traffic that does not say whose it is)."
        )
    return value


def _int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number (got {raw!r}).") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high} (got {value}).")
    return value

"""The app's settings: read once from the environment (and `.env`), typed, validated.

Every field is documented in `config/README.md` (a test keeps the two in step). Nothing
reads the environment at import time; `create_app()` calls `Settings.from_env()`.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv

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
# What a SECRET_KEY must carry by `secret_key_bits`: "x" * 48 has 0, a repeated "abcd" 8,
# secrets.token_hex(16) about 115 (never under 90 in 20,000 draws), token_urlsafe(48) about 330.
MIN_SECRET_KEY_BITS = 80
# Settings that belong to a real tenant: with any of them but no CLIENT_ID, someone meant to
# configure one, and silently running the demo instead would hide it.
TENANT_SETTINGS = ("CLIENT_SECRET", "TENANT_ID", "SHAREPOINT_URL", "AUTHORITY", "GRAPH_ENDPOINT")
# Azure App Service sets this in every app's environment; the app then runs behind the
# platform's front end, which terminates TLS and sets X-Forwarded-* (deploy/azure-app-service.md).
APP_SERVICE_MARKER = "WEBSITE_HOSTNAME"


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
    # Each person's change history keeps this many entries at most, none older than this.
    history_max_entries: int = 100
    history_days: int = 400
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
            for name in TENANT_SETTINGS:
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
            history_max_entries=_int(
                get("HISTORY_MAX_ENTRIES"), "HISTORY_MAX_ENTRIES", 100, 1, 1000
            ),
            history_days=_int(get("HISTORY_DAYS"), "HISTORY_DAYS", 400, 1, 3650),
            metrics_allowed_from=tuple(
                a.strip()
                for a in (get("METRICS_ALLOWED_FROM") or "127.0.0.1,::1").split(",")
                if a.strip()
            ),
        )
        settings.validate()
        if get(APP_SERVICE_MARKER) and settings.trusted_proxies == 0 and not settings.public_url:
            raise SettingsError(
                f"TRUSTED_PROXIES is 0 and PUBLIC_URL is not set, but {APP_SERVICE_MARKER} says "
                "this runs on Azure App Service behind its front end: set TRUSTED_PROXIES=1 "
                "and PUBLIC_URL=https://<your host>."
            )
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
        if not self.demo:
            self._validate_secret_key()
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
            if parts.scheme == "http" and not self.demo and not _is_loopback(parts.hostname):
                raise SettingsError(
                    f"PUBLIC_URL must start with https:// (got {self.public_url!r}): over plain "
                    "http the session cookie and the sign-in answer travel in the clear "
                    "(http is accepted for localhost only)."
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

    def _validate_secret_key(self) -> None:
        fix = (
            'set it to a random value, e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(48))", the same on every instance.'
        )
        if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SECRET_KEY is missing or shorter than {MIN_SECRET_KEY_LENGTH} characters: {fix}"
            )
        bits = secret_key_bits(self.secret_key)
        if bits < MIN_SECRET_KEY_BITS:
            raise SettingsError(
                f"SECRET_KEY is guessable (about {bits:.0f} bits by its characters, at least "
                f"{MIN_SECRET_KEY_BITS} needed): {fix}"
            )

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure (and `__Host-` prefixed) unless the app is served over http."""
        if self.public_url is not None:
            return self.public_url.startswith("https://")
        return not self.demo

    @property
    def graph_scopes(self) -> list[str]:
        """Least privilege for Graph (reference §3.3, §8.2): read and own-profile writes, and
        User.ReadBasic.All for one's own manager (`/me/manager`; User.Read alone is not enough,
        see m365_emulator/graph.py READ_MANAGER_SCOPES). None needs an administrator's consent."""
        return ["User.Read", "User.ReadWrite", "User.ReadBasic.All"]

    def sharepoint_scopes_for(self, origin: str | None = None) -> list[str]:
        """The SharePoint scopes for `origin` (default: SHAREPOINT_URL), fully qualified as
        Entra wants them (reference §4.9)."""
        origin = (origin or self.sharepoint_url).rstrip("/")
        return [f"{origin}/{name}" for name in self.sharepoint_scopes]

    @property
    def sign_in_scopes(self) -> list[str]:
        """What one sign-in asks consent for: Graph's and SharePoint's scopes together (one
        consent covers both resources, reference §2.2, §2.7)."""
        return self.graph_scopes + self.sharepoint_scopes_for()

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests build their variants with it)."""
        return replace(self, **changes)  # replace() refuses names that are not fields


def _required_organisation(value: str | None) -> str:
    if value is None:
        raise SettingsError(
            "ORGANISATION_NAME is not set: set it to your organisation's name as one word, "
            "e.g. Contoso; every call to Microsoft names it in its User-Agent (SharePoint "
            "deprioritises traffic that does not say whose it is)."
        )
    return value


def secret_key_bits(key: str) -> float:
    """A measurable estimate of a key's entropy, in bits.

    The key is cut to the shortest unit it repeats ("abcdabcd…" → "abcd"); the estimate is that
    unit's length times the Shannon entropy of its character frequencies. It catches what people
    type (one character, a word or pattern repeated); it cannot tell a random-looking phrase
    from a random key, which is why the key must also be long.
    """
    unit = key[: _period(key)]
    counts = Counter(unit)
    per_char = -sum(n / len(unit) * math.log2(n / len(unit)) for n in counts.values())
    return len(unit) * per_char


def _period(text: str) -> int:
    """The length of the shortest prefix that `text` repeats (a last copy may be cut short)."""
    for size in range(1, len(text)):
        if all(text[i] == text[i % size] for i in range(size, len(text))):
            return size
    return len(text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_environment() -> Settings | None:
    """Settings from the environment and `.env` (PROFILEFIX_ENV_FILE names another file), for
    starting a server: None selects the demo.

    :raise SystemExit: with one line naming the setting and the fix, instead of a traceback
        (and instead of the demo, when a tenant was half configured).
    """
    load_dotenv(os.environ.get("PROFILEFIX_ENV_FILE", ".env"))
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"ProfileFix cannot start: {exc}") from None


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

"""The emulated tenant's state: directory users, photos, SharePoint profiles, grants, clock.

Everything the three emulated services (Entra ID, Graph, SharePoint) know lives in one
`Tenant`, guarded by one re-entrant lock, so that concurrent requests from several app
instances see a consistent tenant. The services are views over this state; the modelled
sync between them (reference §5) lives in `sync.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from m365_emulator.conditional_access import ConditionalAccess
from m365_emulator.faults import Faults

DEMO_TENANT_ID = "5b1e5f5a-7d6a-4c1e-9f63-2f6d1c0d7a11"
DEMO_CLIENT_ID = "d3b07384-d9a0-4c5b-9f1d-6a7e5c2b1f00"
# A demo tenant's published secret: nothing real is behind it.
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"
# Entra role template ids (learn.microsoft.com/entra/identity/role-based-access-control/
# permissions-reference; the first two also in graph-docs-contrib
# concepts/profilephoto-configure-settings.md).
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PEOPLE_ADMINISTRATOR = "024906de-61e5-49c8-8572-40335f1e0e10"

# How SharePoint gets and shows the photo (reference §9.1 vs §5.2-5.3). `current`: Graph's store
# is the only one; userphoto.aspx redirects to a front-door cache of it. `classic`: SharePoint
# pulls the Exchange photo into its own library when the user views it, and accepts uploads.
PHOTO_MODELS = ("current", "classic")


class Clock:
    """Wall clock that tests can move forward (the sync model's 24 h interval, code expiry)."""

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Back to the real time (tests that moved the clock must not leak into others)."""
        with self._lock:
            self._offset = 0.0


@dataclass(frozen=True)
class Origins:
    """Where each emulated service is reached, as `scheme://host[:port]` without a slash.

    `browser` is the prefix under which the pages a browser visits (authorize, sign-out)
    are served. In-process demo mode serves them under the app's own origin, so it is a
    path only (e.g. ``/_m365``); standalone it is the login origin.
    """

    login: str
    graph: str
    sharepoint: str
    mysite: str
    browser: str

    @classmethod
    def single(cls, origin: str) -> Origins:
        """All services on one origin (the standalone HTTPS server, the test server)."""
        origin = origin.rstrip("/")
        return cls(login=origin, graph=origin, sharepoint=origin, mysite=origin, browser=origin)

    @classmethod
    def virtual(cls, browser_prefix: str = "/_m365") -> Origins:
        """Reserved `.test` host names, reached in-process through the transport adapter."""
        return cls(
            login="https://login.m365.test",
            graph="https://graph.m365.test",
            sharepoint="https://contoso.sharepoint.m365.test",
            mysite="https://contoso-my.sharepoint.m365.test",
            browser=browser_prefix.rstrip("/"),
        )

    def hosts(self) -> set[str]:
        """Host[:port] values that requests to this tenant's services carry."""
        return {
            urlsplit(o).netloc
            for o in (self.login, self.graph, self.sharepoint, self.mysite)
            if "://" in o
        }


@dataclass
class ClientRegistration:
    """An app registration: credentials and registered redirect URIs (Entra's reply URLs)."""

    client_id: str
    secret: str
    redirect_uris: list[str]
    name: str = "Profile photo fixer"
    # Demo only: accept any redirect URI whose path is one of these (the demo app can be
    # served on whatever host and port; a real registration lists exact URIs).
    any_origin_paths: tuple[str, ...] = ()
    post_logout_redirect_uris: list[str] = field(default_factory=list)


@dataclass
class StoredPhoto:
    """One version of a user's photo as the source of truth (Entra/Exchange) holds it."""

    data: bytes
    content_type: str
    width: int
    height: int
    etag: str
    version: int
    stored_at: float


@dataclass
class SharePointPictures:
    """The My Site host's three thumbnails, generated from some photo version."""

    small: bytes
    medium: bytes
    large: bytes
    # Which StoredPhoto.version they were made from; None when uploaded to SharePoint directly.
    source_version: int | None
    taken_at: float


@dataclass
class FrontDoorCopy:
    """What SharePoint's front-door cache (afdcache.ashx) holds of one user's Graph photo.

    One copy per user, all sizes rendered from it (per-size caching is UNCONFIRMED).
    """

    data: bytes | None  # the Graph photo it was filled from; None: there was none
    source_version: int | None
    # When it was filled. None only for seeded copies: "filled just before anyone looked", so
    # the lifetime starts at the first request and a demo viewer sees the old copy whenever
    # they look first.
    filled_at: float | None


@dataclass
class SharePointProfile:
    """The user's UPA record: properties as SharePoint last imported or was told them."""

    properties: dict[str, str]
    pictures: SharePointPictures | None = None
    placeholder_state: str = "1"
    exchange_sync_state: str = "1"
    last_photo_pull: float | None = None
    front_door: FrontDoorCopy | None = None  # current photo model only (reference §9.1)
    # Multi-valued UPA properties (SPS-Skills, ...) as lists; rendered "|"-joined by SharePoint.
    multi_values: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class PendingAttributeImport:
    """An Entra attribute change that SharePoint's profile import has not picked up yet."""

    property_key: str
    value: str
    due_at: float


@dataclass
class User:
    """A directory user with mailbox and photo state, and their SharePoint profile."""

    key: str  # demo key, e.g. "stale-photo"; stable across resets
    oid: str
    upn: str
    directory: dict[str, object]  # Graph user properties by Graph name (displayName, ...)
    demonstrates: str  # one line for the sign-in page
    has_mailbox: bool = True
    on_premises_synced: bool = False
    photo: StoredPhoto | None = None
    sharepoint: SharePointProfile = field(default_factory=lambda: SharePointProfile({}))
    pending_imports: list[PendingAttributeImport] = field(default_factory=list)
    password: str = ""  # unused: the demo sign-in page only picks a user
    # Graph's 404 `error.code` for "no photo" (several occur in the wild, reference §3.3).
    photo_not_found_code: str = "ImageNotFound"
    # This user's photo model when it differs from the tenant's (a demo device: a real tenant
    # has one model for everyone); None follows `Tenant.photo_model`.
    photo_model: str | None = None
    # False: no SharePoint licence, so SharePoint refuses the user's tokens and Graph refuses
    # SharePoint-backed fields (reference §9.2).
    has_sharepoint: bool = True
    roles: list[str] = field(default_factory=list)  # Entra role template ids held
    # Emulator switch: photo update settings that apply to this user instead of the tenant's,
    # so that one demo tenant can show a user whose organisation restricts photo changes.
    photo_policy: PhotoUpdateSettings | None = None


@dataclass
class PhotoUpdateSettings:
    """Who may change profile photos in the cloud: Graph beta `photoUpdateSettings`
    (reference §9.1; graph-docs-contrib concepts/profilephoto-configure-settings.md)."""

    source: str = "cloud"  # "cloud" or "onPremises" (cloud updates off for everyone)
    allowed_roles: list[str] = field(default_factory=list)  # role template ids; []: anyone
    # Emulator switch, not served: the Graph `error.code` of a refused photo change. Codes seen
    # are ErrorAccessDenied, ForbiddenByPolicy, …ProfileAccessDeniedException (reference §9.1;
    # which one this refusal carries is UNCONFIRMED).
    refusal_code: str = "ErrorAccessDenied"

    def allows(self, user: User) -> bool:
        """Whether `user` may change their photo through Graph. Changes apply at once here;
        Microsoft's take up to 24 hours (concept article above)."""
        if self.source != "cloud":
            return False
        return not self.allowed_roles or any(r in self.allowed_roles for r in user.roles)


@dataclass
class LoggedRequest:
    """One request as the emulator saw it, for tests and benchmarks."""

    at: float
    service: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0
    duration: float = 0.0
    user_oid: str | None = None
    # The parsed body of a JSON request (profile edits, SharePoint property writes), so tests
    # can see what was sent; form posts (tokens, codes, secrets) and images are never kept.
    json_body: object = None


class Tenant:
    """All state of one emulated Microsoft 365 tenant.

    Hold `tenant.lock` while reading or changing several fields that must agree. The
    seeded content comes from `seed.py`; `reset()` puts it back (tests call it between
    tests so one test's writes never leak into the next).
    """

    def __init__(
        self,
        origins: Origins,
        *,
        tenant_id: str = DEMO_TENANT_ID,
        domain: str = "contoso.onmicrosoft.com",
        clock: Clock | None = None,
        photo_pull_interval: float = 24 * 3600,
        attribute_import_delay: float = 24 * 3600,
        code_lifetime: float = 600,
        access_token_lifetime: float = 3600,
        cae_token_lifetime: float = 24 * 3600,
        local_uploads_disabled: bool = False,
        photo_model: str = "current",
        photo_cache_lifetime: float = 24 * 3600,
        seed: Callable[[Tenant], None] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.origins = origins
        self.tenant_id = tenant_id
        self.domain = domain
        self.clock = clock or Clock()
        # Exchange → SharePoint picture pull: at most once per interval (reference §5.2 step 5).
        self.photo_pull_interval = photo_pull_interval
        # Entra → SharePoint UPA attribute import delay (reference §5.5: batch, not guaranteed).
        self.attribute_import_delay = attribute_import_delay
        self.code_lifetime = code_lifetime
        self.access_token_lifetime = access_token_lifetime
        # Tokens of CAE sessions (clients declaring cp1) live longer: "up to 28 hours"
        # (concept-continuous-access-evaluation, "Token lifetime"); about 24 h is reported
        # (BloodHoundAD/BARK #2). The exact figure is UNCONFIRMED.
        self.cae_token_lifetime = cae_token_lifetime
        # MC653734 (reference §4.5, §5.4): SharePoint refuses local picture uploads.
        self.local_uploads_disabled = local_uploads_disabled
        self._initial_local_uploads_disabled = local_uploads_disabled
        # Configuration like the intervals above: `reset()` keeps it (tests that change it
        # put it back themselves).
        if photo_model not in PHOTO_MODELS:
            raise ValueError(f"photo_model must be one of {PHOTO_MODELS}, not {photo_model!r}")
        self.photo_model = photo_model
        # How long SharePoint's front-door cache serves a copy before it fetches the Graph photo
        # again. Microsoft gives no figure (reference §9.1, UNCONFIRMED): a day by default, as
        # SPO's photo caching was reported (§4.7 [S45]); the demo uses seconds.
        self.photo_cache_lifetime = photo_cache_lifetime
        self._seed = seed
        self.clients: dict[str, ClientRegistration] = {}
        self.users: dict[str, User] = {}  # by oid
        # Entra grant state: consents per (oid, client_id), one-time codes, refresh tokens.
        self.consents: dict[tuple[str, str], set[str]] = {}
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.requests: list[LoggedRequest] = []
        self.faults = Faults()
        self.conditional_access = ConditionalAccess(self.clock)
        self.photo_update_settings = PhotoUpdateSettings()
        # The tenant's RS256 key (tokens.SigningKey), made on first use and kept across
        # resets so that a long-running server's JWKS stays stable.
        self.signing_key: object | None = None
        # Test-only: claims to override (value None: drop) in every ID token issued, so the
        # app's own ID-token checks can be exercised (security.md A5).
        self.id_token_tamper: dict[str, object] = {}
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every change and grant; reseed the demo content."""
        with self.lock:
            self.clients.clear()
            self.users.clear()
            self.consents.clear()
            self.codes.clear()
            self.refresh_tokens.clear()
            self.requests.clear()
            self.faults.clear()
            self.conditional_access.clear()
            self.photo_update_settings = PhotoUpdateSettings()
            self.id_token_tamper = {}
            self.clock.reset()
            self.local_uploads_disabled = self._initial_local_uploads_disabled
            if self._seed is not None:
                self._seed(self)

    # -- lookups ---------------------------------------------------------------------------
    def user(self, key_or_oid: str) -> User:
        """A user by demo key, object id or UPN (case-insensitive); KeyError if unknown."""
        with self.lock:
            if key_or_oid in self.users:
                return self.users[key_or_oid]
            wanted = key_or_oid.lower()
            for user in self.users.values():
                if user.key == key_or_oid or user.upn.lower() == wanted:
                    return user
        raise KeyError(key_or_oid)

    def photo_model_of(self, user: User) -> str:
        """The photo model that governs `user`'s picture: their own override, else the tenant's."""
        return user.photo_model or self.photo_model

    def add_user(self, user: User) -> User:
        with self.lock:
            self.users[user.oid] = user
        return user

    def add_client(self, client: ClientRegistration) -> ClientRegistration:
        with self.lock:
            self.clients[client.client_id] = client
        return client

    def log(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.requests.append(entry)

    def requests_to(self, service: str) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if r.service == service]

    def now(self) -> datetime:
        return self.clock.now()

    def expires(self, seconds: float) -> datetime:
        return self.clock.now() + timedelta(seconds=seconds)

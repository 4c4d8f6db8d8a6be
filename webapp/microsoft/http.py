"""Outbound HTTP policy for Graph and SharePoint: session, timeouts, headers, retries, errors."""

from __future__ import annotations

import base64
import binascii
import email.utils
import inspect
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from webapp import about
from webapp.microsoft.errors import (
    AuthRequiredError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
    UpstreamTimeoutError,
)

logger = logging.getLogger(__name__)

# security.md §3.10: connect just over a TCP retransmit window, read 20 s; requests has no default.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 20.0)

# Graph sends Retry-After on 429 and may on 503/504 (reference §3.1); SharePoint throttles with
# 429 or 503, both with Retry-After (reference §4.8).
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# A Retry-After beyond a day is nonsense; clamp so that arithmetic stays finite.
MAX_RETRY_AFTER = 86_400.0

# A shared hold longer than this is not recorded as is: a persistent SharePoint block (§4.8) is
# better rediscovered by the next call than imposed on every instance for hours.
MAX_SHARED_HOLD = 600.0

# A retry may read for at most what is left of the budget, but never less than this: a call
# then ends within about budget + this, well under gunicorn's 30 s (security.md §3.10).
MIN_RETRY_READ = 2.0

SUCCESS = range(200, 300)


def decorated_user_agent(company: str, version: str = about.VERSION) -> str:
    """`NONISV|<company>|ProfileFix/<version>`: SharePoint deprioritises undecorated traffic.

    Format from reference §4.1 and security.md §1.5. Raises ValueError when `company` would
    break the format.
    """
    if not company or any(c in company for c in "| \r\n\t"):
        raise ValueError(f"company name {company!r} cannot go into a User-Agent")
    return f"NONISV|{company}|{about.NAME}/{version}"


DEFAULT_USER_AGENT = decorated_user_agent(about.NAME)


class _PolicyAdapter(HTTPAdapter):
    """Transport adapter that applies a default timeout and, if given, a fixed CA bundle."""

    def __init__(self, timeout: tuple[float, float], ca_bundle: str | None) -> None:
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        # requests lets REQUESTS_CA_BUNDLE override `session.verify`; an explicit bundle wins.
        if self._ca_bundle is not None and kwargs.get("verify") is not False:
            kwargs["verify"] = self._ca_bundle
        return super().send(request, **kwargs)


class _ApiSession(requests.Session):
    """A Session that never follows redirects (ASVS 15.3.2; hosts come from config only)."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def build_session(
    ca_bundle: str | None = None,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> requests.Session:
    """A Session for Microsoft APIs: default timeouts, no redirects, decorated User-Agent.

    Without `ca_bundle`, `REQUESTS_CA_BUNDLE` is honoured as requests does by default.
    """
    session = _ApiSession()
    adapter = _PolicyAdapter(timeout, ca_bundle)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_bundle is not None:
        session.verify = ca_bundle
    session.headers["User-Agent"] = user_agent
    return session


# -- Retry-After ---------------------------------------------------------------------------------

_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After`/`RateLimit-Reset` value.

    Accepts delta-seconds and HTTP-dates (RFC 9110 §10.2.3); a date in the past gives 0.
    Returns None when the value is absent or invalid (negative numbers included).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    try:
        delta = when.timestamp() - now
    except (OverflowError, ValueError):
        return None
    return min(max(0.0, delta), MAX_RETRY_AFTER)


def retry_after_from(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a throttled response asks for: the larger of Retry-After and RateLimit-Reset.

    SharePoint may send both (reference §4.8, security.md §1.5). None when neither is usable.
    """
    hints = [
        parse_retry_after(headers.get(name), now) for name in ("Retry-After", "RateLimit-Reset")
    ]
    usable = [h for h in hints if h is not None]
    return max(usable) if usable else None


# -- shared throttle state and call records (issue 8) -------------------------------------------


class ThrottleGate(Protocol):
    """Shared "service throttled until" state, so all instances hold back, not only the one told."""

    def wait_time(self, service: str) -> float:
        """Seconds until `service` may be called again (0 when it may be called now)."""
        ...

    def hold(self, service: str, seconds: float) -> None:
        """Record that `service` asked callers to wait `seconds` from now."""
        ...


class NoThrottleGate:
    """A gate that shares nothing: each call learns about throttling by itself."""

    def wait_time(self, service: str) -> float:
        return 0.0

    def hold(self, service: str, seconds: float) -> None:
        return None


class LocalThrottleGate:
    """A gate shared by the threads of one process (a Redis-backed one shares across instances)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_time(self, service: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(service, 0.0) - self._clock())

    def hold(self, service: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._until[service] = max(until, self._until.get(service, 0.0))


@dataclass(frozen=True)
class UpstreamCall:
    """One HTTP exchange with a service, for logs and metrics (never URLs, tokens or bodies)."""

    service: str
    operation: str
    method: str
    status: int | None  # None: no response (timeout, connection failure)
    duration: float
    attempt: int  # 0 for the first try, 1.. for retries


@dataclass(frozen=True)
class RetryPolicy:
    """How one call retries (security.md §0 item 7 and checklist C1–C4).

    `budget` is the most wall-clock time one call may spend including waits; a wait that would
    cross it raises instead, and a retry reads for at most the rest of it (`MIN_RETRY_READ` at
    least). Without Retry-After the waits are `backoff_base * 2**n` (n = 0, 1,
    2 …) capped at `backoff_max`, each scaled by a random factor in 1 ± `jitter`.
    """

    budget: float = 10.0
    max_retries: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 8.0
    jitter: float = 0.2

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2**retry)
        return delay * (1.0 + self.jitter * (2.0 * rand() - 1.0))


@dataclass(frozen=True)
class CallOptions:
    """Transport settings shared by the clients (built once from Settings)."""

    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    gate: ThrottleGate = field(default_factory=NoThrottleGate)
    on_call: Callable[[UpstreamCall], None] | None = None
    # None: the session's User-Agent if decorated (build_session), else DEFAULT_USER_AGENT.
    user_agent: str | None = None
    # What a 401 that one silent refresh did not cure becomes: the AuthRequiredError itself
    # (the user signs in again) or, from a loop guard, a lasting error (None: always sign in).
    on_auth_failure: Callable[[AuthRequiredError], UpstreamError] | None = None


# -- error mapping (STYLE §3.6: status + body → one error type, here and nowhere else) ----------

_ERROR_BY_STATUS: dict[int, type[UpstreamError]] = {
    400: BadRequestError,
    401: AuthRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    429: ThrottledError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}

_CLAIMS = re.compile(r'claims="([^"]*)"')


def _text(value: object) -> str | None:
    # SharePoint puts messages in {"lang": ..., "value": ...} (reference §4.8).
    if isinstance(value, Mapping):
        value = value.get("value")
    return value if isinstance(value, str) else None


def _parse_error_body(resp: requests.Response) -> tuple[str | None, str | None, str | None]:
    """(code, message, request id) from a Graph or SharePoint error body, if it has one.

    Graph: `{"error":{"code","message","innerError":{"request-id"}}}` (reference §3.1);
    SharePoint verbose `{"error":{"code","message":{"value"}}}`, JSON light
    `{"odata.error":...}` (reference §4.8); OAuth-style `{"error":"...","error_description":...}`.
    """
    try:
        body = resp.json()
    except ValueError:
        return None, None, None
    if not isinstance(body, Mapping):
        return None, None, None
    error = body.get("error", body.get("odata.error"))
    if isinstance(error, str):
        return error, _text(body.get("error_description")), None
    if not isinstance(error, Mapping):
        return None, None, None
    code = error.get("code")
    inner = error.get("innerError", error.get("innererror"))
    request_id = inner.get("request-id") if isinstance(inner, Mapping) else None
    return (
        str(code) if code is not None else None,
        _text(error.get("message")),
        request_id if isinstance(request_id, str) else None,
    )


def _claims_challenge(resp: requests.Response) -> str | None:
    """The decoded claims of a CAE / Conditional Access challenge (security.md §1.3), if any."""
    header = resp.headers.get("WWW-Authenticate", "")
    if "insufficient_claims" not in header:
        return None
    match = _CLAIMS.search(header)
    if not match:
        return None
    raw = match.group(1)
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return raw


def error_from_response(
    service: str, resp: requests.Response, retry_after: float | None = None
) -> UpstreamError:
    """The error a non-success response means, with the service's code and request id.

    429, and 503 naming a wait (`retry_after` given), are throttling: SharePoint throttles
    with either (reference §4.8), Graph sends Retry-After on both (§3.1).
    """
    code, message, request_id = _parse_error_body(resp)
    request_id = (
        request_id
        or resp.headers.get("request-id")
        or resp.headers.get("SPRequestGuid")
        or resp.headers.get("x-ms-request-id")
    )
    message = message or resp.reason or ""
    status = resp.status_code
    if status == 401:
        return AuthRequiredError(
            service,
            status,
            code,
            message,
            request_id,
            retry_after,
            claims_challenge=_claims_challenge(resp),
            # SharePoint says why it refused a token here (sp-dev-docs #7152; reference §9.2).
            diagnostics=resp.headers.get("x-ms-diagnostics"),
        )
    if 300 <= status < 400:
        return BadResponseError(service, status, code, f"redirected: {message}", request_id)
    cls = _ERROR_BY_STATUS.get(status, UpstreamError)
    if status == 503 and retry_after is not None:
        cls = ThrottledError
    return cls(service, status, code, message, request_id, retry_after)


def json_body(service: str, resp: requests.Response) -> dict[str, Any]:
    """The JSON object of a success response; raises BadResponseError if it is not one."""
    try:
        body = resp.json()
    except ValueError as exc:
        raise BadResponseError(
            service,
            resp.status_code,
            message=f"expected JSON, got {resp.headers.get('Content-Type', 'no content type')}",
        ) from exc
    if not isinstance(body, dict):
        raise BadResponseError(service, resp.status_code, message="expected a JSON object")
    return body


# -- the requester ------------------------------------------------------------------------------


def _accepts(provider: Callable[..., str], name: str) -> bool:
    try:
        params = inspect.signature(provider).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def _fresh_token(provider: Callable[..., str], claims: str | None) -> str | None:
    """A new token after a 401: silently refreshed with the claims a challenge asked for
    (reference §9.2: CAE and location changes are cured that way), else force-refreshed.
    None when the provider cannot take the claims (only a sign-in can)."""
    if claims is not None:
        return provider(claims_challenge=claims) if _accepts(provider, "claims_challenge") else None
    if _accepts(provider, "force_refresh"):
        return provider(force_refresh=True)
    return provider()


class _Bearer(AuthBase):
    """`Authorization: Bearer` as a requests auth, so that a ~/.netrc entry can never replace it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def _decorated_or_default(session: requests.Session) -> str:
    user_agent = session.headers.get("User-Agent", "")
    if isinstance(user_agent, bytes):
        user_agent = user_agent.decode("latin-1")
    return user_agent if user_agent.startswith(("NONISV|", "ISV|")) else DEFAULT_USER_AGENT


class Requester:
    """Sends one logical call to one service with our headers, retries and error mapping.

    Each call gets `Authorization: Bearer`, the decorated `User-Agent` and a `client-request-id`
    (uuid4, kept across its retries; retries also carry `Retry-Attempt`, as Graph's SDK
    RetryHandler does). 429/502/503/504 are retried, POST included (our POST is
    SetMyProfilePicture, idempotent in effect; security.md §3.10), honouring Retry-After /
    RateLimit-Reset or backing off exponentially, but only while the call stays within
    `RetryPolicy.budget`; past it the mapped error is raised with `retry_after`. A 401 gets one
    retry with a freshly asked-for token: refreshed with the claims of a claims challenge
    (`claims_challenge=` when the provider accepts it), else `force_refresh=True` when the
    provider accepts it. A 401 that persists goes through `CallOptions.on_auth_failure`.
    """

    def __init__(
        self,
        session: requests.Session,
        service: str,
        options: CallOptions | None = None,
    ) -> None:
        self.session = session
        self.service = service
        self.options = options or CallOptions()
        self.user_agent = self.options.user_agent or _decorated_or_default(session)

    def request(
        self,
        method: str,
        url: str,
        *,
        token_provider: Callable[..., str],
        operation: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        json: object = None,
        success: Container[int] = SUCCESS,
        retry_on: Container[int] = RETRYABLE_STATUSES,
    ) -> requests.Response:
        """The response once its status is in `success`; statuses in `retry_on` are retried.

        Raises the `errors.py` type for any other outcome (see the class docstring).
        """
        options = self.options
        policy = options.retry
        start = time.monotonic()
        self._wait_for_gate(start)
        token = token_provider()
        request_id = str(uuid.uuid4())
        retry = 0
        refreshed = False
        while True:
            sent = {
                **(headers or {}),
                "User-Agent": self.user_agent,
                "client-request-id": request_id,
            }
            if retry:
                sent["Retry-Attempt"] = str(retry)
            began = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=sent,
                    auth=_Bearer(token),
                    data=data,
                    json=json,
                    timeout=self._timeout(start, retry),
                    allow_redirects=False,
                )
            except requests.ConnectTimeout as exc:
                self._record(operation, method, None, began, retry)
                raise UpstreamTimeoutError(
                    self.service, code="ConnectTimeout", message="could not connect in time"
                ) from exc
            except requests.Timeout as exc:
                # Not retried: the service may have acted on the request before going quiet.
                self._record(operation, method, None, began, retry)
                raise UpstreamTimeoutError(
                    self.service, code="ReadTimeout", message="no answer in time"
                ) from exc
            except requests.exceptions.SSLError as exc:
                self._record(operation, method, None, began, retry)
                raise ServiceUnavailableError(
                    self.service, code="TLSError", message="TLS handshake or certificate failed"
                ) from exc
            except requests.ConnectionError as exc:
                self._record(operation, method, None, began, retry)
                delay = policy.backoff(retry)
                if retry < policy.max_retries and self._fits(start, delay):
                    time.sleep(delay)
                    retry += 1
                    continue
                raise ServiceUnavailableError(
                    self.service, code="ConnectionFailed", message="could not connect"
                ) from exc
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                self._record(operation, method, None, began, retry)
                raise BadResponseError(
                    self.service, code="BrokenBody", message="the response body was cut or garbled"
                ) from exc
            self._record(operation, method, resp.status_code, began, retry)
            status = resp.status_code
            if status in success:
                return resp
            if status == 401 and not refreshed:
                refreshed = True
                fresh = _fresh_token(token_provider, _claims_challenge(resp))
                if fresh is not None and fresh != token:
                    token = fresh
                    resp.close()
                    continue
            if status in retry_on:
                hinted = retry_after_from(resp.headers)
                if hinted is not None and status in (429, 503):
                    options.gate.hold(self.service, min(hinted, MAX_SHARED_HOLD))
                delay = hinted if hinted is not None else policy.backoff(retry)
                if retry < policy.max_retries and self._fits(start, delay):
                    logger.info(
                        "%s %s answered %s; retry in %.1f s", self.service, operation, status, delay
                    )
                    resp.close()
                    time.sleep(delay)
                    retry += 1
                    continue
                # Past the budget or the retries. A bare 503 is an outage, not a queue: only
                # a wait the service named (or a 429) makes it ThrottledError.
                if hinted is None and status != 429:
                    raise error_from_response(self.service, resp)
                raise error_from_response(self.service, resp, retry_after=delay)
            error = error_from_response(self.service, resp)
            if isinstance(error, AuthRequiredError) and options.on_auth_failure is not None:
                raise options.on_auth_failure(error)
            raise error

    def _timeout(self, start: float, retry: int) -> tuple[float, float]:
        connect, read = self.options.timeout
        if retry == 0:
            return connect, read
        remaining = self.options.retry.budget - (time.monotonic() - start)
        return connect, min(read, max(remaining, MIN_RETRY_READ))

    def _fits(self, start: float, delay: float) -> bool:
        return time.monotonic() - start + delay <= self.options.retry.budget

    def _wait_for_gate(self, start: float) -> None:
        wait = self.options.gate.wait_time(self.service)
        if wait <= 0:
            return
        if not self._fits(start, wait):
            raise ThrottledError(
                self.service,
                code="ThrottledElsewhere",
                message="the service asked all callers to wait",
                retry_after=wait,
            )
        time.sleep(wait)

    def _record(
        self, operation: str, method: str, status: int | None, began: float, retry: int
    ) -> None:
        duration = time.monotonic() - began
        logger.debug(
            "%s %s %s -> %s in %.3f s (attempt %d)",
            self.service,
            operation,
            method,
            status,
            duration,
            retry,
        )
        if self.options.on_call is not None:
            self.options.on_call(
                UpstreamCall(self.service, operation, method, status, duration, retry)
            )

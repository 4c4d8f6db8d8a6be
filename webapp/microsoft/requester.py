"""One logical call to Graph or SharePoint: headers, the retry budget, Retry-After, timeouts.

The clock and the sleeper are injectable (`CallOptions.clock` / `.sleep`), so tests of
throttling and back-off run on a fake clock; production uses time.monotonic and time.sleep.
"""

from __future__ import annotations

import email.utils
import inspect
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import requests

from webapp.microsoft.bearer import Bearer
from webapp.microsoft.errors import (
    AuthRequiredError,
    BadResponseError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
    UpstreamTimeoutError,
)
from webapp.microsoft.responses import claims_challenge, error_from_response
from webapp.microsoft.session import DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, is_decorated
from webapp.microsoft.throttle import NoThrottleGate, ThrottleGate, holds_everyone

logger = logging.getLogger(__name__)

# Graph sends Retry-After on 429 and may on 503/504 (reference §3.1); SharePoint throttles with
# 429 or 503, both with Retry-After (reference §4.8).
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# A Retry-After beyond a day is nonsense; clamp so that arithmetic stays finite.
MAX_RETRY_AFTER = 86_400.0

# A retry may read for at most what is left of the budget, but never less than this: a call
# then ends within about budget + this, well under gunicorn's 30 s (security.md §3.10).
MIN_RETRY_READ = 2.0

SUCCESS = range(200, 300)

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


# -- options and records -------------------------------------------------------------------------


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

    `budget` is the most time one call may spend including waits; a wait that would cross it
    raises instead, and a retry reads for at most the rest of it (`MIN_RETRY_READ` at least).
    Without Retry-After the waits are `backoff_base * 2**n` (n = 0, 1, 2 …) capped at
    `backoff_max`, each scaled by a random factor in 1 ± `jitter`.
    """

    budget: float = 10.0
    max_retries: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 8.0
    jitter: float = 0.2

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2.0**retry)
        return delay * (1.0 + self.jitter * (2.0 * rand() - 1.0))


@dataclass(frozen=True)
class CallOptions:
    """Transport settings shared by the clients (built once from Settings).

    `clock` measures the budget and `sleep` waits (time.monotonic / time.sleep); tests pass a
    fake pair so that Retry-After and back-off cost no real time.
    """

    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    gate: ThrottleGate = field(default_factory=NoThrottleGate)
    on_call: Callable[[UpstreamCall], None] | None = None
    # None: the session's User-Agent if decorated (build_session), else DEFAULT_USER_AGENT.
    user_agent: str | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # What a 401 that one silent refresh did not cure becomes: the AuthRequiredError itself
    # (the user signs in again) or, from a loop guard, a lasting error (None: always sign in).
    on_auth_failure: Callable[[AuthRequiredError], UpstreamError] | None = None


# -- tokens --------------------------------------------------------------------------------------


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


def _decorated_or_default(session: requests.Session) -> str:
    user_agent = session.headers.get("User-Agent", "")
    if isinstance(user_agent, bytes):
        user_agent = user_agent.decode("latin-1")
    return user_agent if is_decorated(user_agent) else DEFAULT_USER_AGENT


class _UnreachableError(Exception):
    """The connection failed before any answer (retryable with back-off)."""


# -- the requester -------------------------------------------------------------------------------


class Requester:
    """Sends one logical call to one service with our headers, retries and error mapping.

    Each call gets `Authorization: Bearer` (only ever for the origin the token was issued for,
    `bearer.py`), the decorated `User-Agent` and a `client-request-id` (uuid4, kept across its
    retries; retries also carry `Retry-Attempt`, as Graph's SDK RetryHandler does).
    429/502/503/504 are retried, POST included (our POST is SetMyProfilePicture, idempotent in
    effect; security.md §3.10), honouring Retry-After / RateLimit-Reset or backing off
    exponentially, but only while the call stays within `RetryPolicy.budget`; past it the mapped
    error is raised with `retry_after`. A 401 gets one retry with a force-refreshed token
    (`force_refresh=True` when the provider accepts it), and a 401 carrying a claims challenge
    one with a token refreshed with those claims (`claims_challenge=` when the provider
    accepts it): an expired token's refresh may lack what a Conditional Access policy asks
    for, which the challenge then names. A 401 that persists goes through
    `CallOptions.on_auth_failure`.

    A Retry-After is also recorded in the throttle gate for the next calls: for `account` (the
    signed-in user, e.g. "oid.tid") unless the response says the whole app is throttled
    (`throttle.holds_everyone`); without an account only app-wide holds are recorded.
    """

    def __init__(
        self,
        session: requests.Session,
        service: str,
        options: CallOptions | None = None,
        account: str | None = None,
    ) -> None:
        self.session = session
        self.service = service
        self.options = options or CallOptions()
        self.account = account
        self.user_agent = self.options.user_agent or _decorated_or_default(session)

    def request(
        self,
        method: str,
        url: str,
        *,
        token_provider: Callable[..., str],
        audience: str,
        operation: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        json: object = None,
        success: Container[int] = SUCCESS,
        retry_on: Container[int] = RETRYABLE_STATUSES,
    ) -> requests.Response:
        """The response once its status is in `success`; statuses in `retry_on` are retried.

        `audience` is the origin (`scheme://host[:port]`) the provider's token is issued for;
        a URL that would take it anywhere else raises BadResponseError before anything is sent.
        Raises the `errors.py` type for any other outcome (see the class docstring).
        """
        start = self.options.clock()
        self._wait_for_gate(start)
        token = token_provider()
        request_id = str(uuid.uuid4())
        retry = 0
        refreshed: set[bool] = set()  # after a 401: a plain refresh (False), one with claims
        while True:
            try:
                resp = self._exchange(
                    method,
                    url,
                    operation,
                    start,
                    retry,
                    headers=self._headers(headers, request_id, retry),
                    auth=Bearer(token, audience, self.service),
                    data=data,
                    json=json,
                )
            except _UnreachableError as exc:
                delay = self.options.retry.backoff(retry)
                if self._may_retry(retry, start, delay):
                    retry = self._wait(delay, retry)
                    continue
                raise ServiceUnavailableError(
                    self.service, code="ConnectionFailed", message="could not connect"
                ) from exc.__cause__
            status = resp.status_code
            if status in success:
                return resp
            claims = claims_challenge(resp) if status == 401 else None
            if status == 401 and (claims is not None) not in refreshed:
                refreshed.add(claims is not None)
                fresh = _fresh_token(token_provider, claims)
                if fresh is not None and fresh != token:
                    token = fresh
                    resp.close()
                    continue
            if status not in retry_on:
                raise self._mapped(resp)
            hinted = retry_after_from(resp.headers)
            self._hold(resp, hinted)
            delay = hinted if hinted is not None else self.options.retry.backoff(retry)
            if self._may_retry(retry, start, delay):
                logger.info(
                    "%s %s answered %s; retry in %.1f s", self.service, operation, status, delay
                )
                resp.close()
                retry = self._wait(delay, retry)
                continue
            raise self._final_error(resp, hinted, delay)

    def _mapped(self, resp: requests.Response) -> UpstreamError:
        """The error a final answer means; a lasting 401 as the loop guard decides."""
        error = error_from_response(self.service, resp)
        if isinstance(error, AuthRequiredError) and self.options.on_auth_failure is not None:
            return self.options.on_auth_failure(error)
        return error

    def _headers(
        self, headers: Mapping[str, str] | None, request_id: str, retry: int
    ) -> dict[str, str]:
        sent = {**(headers or {}), "User-Agent": self.user_agent, "client-request-id": request_id}
        if retry:
            sent["Retry-Attempt"] = str(retry)
        return sent

    def _exchange(
        self, method: str, url: str, operation: str, start: float, retry: int, **kwargs: Any
    ) -> requests.Response:
        """One HTTP exchange, recorded; failures without an answer mapped to `errors.py`."""
        began = self.options.clock()
        status: int | None = None
        try:
            resp = self.session.request(
                method,
                url,
                timeout=self._timeout(start, retry),
                allow_redirects=False,
                **kwargs,
            )
            status = resp.status_code
            return resp
        except requests.ConnectTimeout as exc:
            raise UpstreamTimeoutError(
                self.service, code="ConnectTimeout", message="could not connect in time"
            ) from exc
        except requests.Timeout as exc:
            # Not retried: the service may have acted on the request before going quiet.
            raise UpstreamTimeoutError(
                self.service, code="ReadTimeout", message="no answer in time"
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise ServiceUnavailableError(
                self.service, code="TLSError", message="TLS handshake or certificate failed"
            ) from exc
        except requests.ConnectionError as exc:
            raise _UnreachableError() from exc
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise BadResponseError(
                self.service, code="BrokenBody", message="the response body was cut or garbled"
            ) from exc
        finally:
            self._record(operation, method, status, began, retry)

    def _hold(self, resp: requests.Response, hinted: float | None) -> None:
        """Tell the gate about a wait the service named: for everyone, or for this user."""
        if hinted is None or resp.status_code not in (429, 503):
            return
        if holds_everyone(resp.headers):
            self.options.gate.hold(self.service, hinted)
        elif self.account is not None:
            self.options.gate.hold(self.service, hinted, self.account)

    def _final_error(
        self, resp: requests.Response, hinted: float | None, delay: float
    ) -> UpstreamError:
        # Past the budget or the retries. A bare 503 is an outage, not a queue: only a wait
        # the service named (or a 429) makes it ThrottledError.
        if hinted is None and resp.status_code != 429:
            return error_from_response(self.service, resp)
        return error_from_response(self.service, resp, retry_after=delay)

    def _timeout(self, start: float, retry: int) -> tuple[float, float]:
        connect, read = self.options.timeout
        if retry == 0:
            return connect, read
        remaining = self.options.retry.budget - (self.options.clock() - start)
        return connect, min(read, max(remaining, MIN_RETRY_READ))

    def _may_retry(self, retry: int, start: float, delay: float) -> bool:
        return retry < self.options.retry.max_retries and self._fits(start, delay)

    def _fits(self, start: float, delay: float) -> bool:
        return self.options.clock() - start + delay <= self.options.retry.budget

    def _wait(self, delay: float, retry: int) -> int:
        self.options.sleep(delay)
        return retry + 1

    def _wait_for_gate(self, start: float) -> None:
        wait = self.options.gate.wait_time(self.service, self.account)
        if wait <= 0:
            return
        if not self._fits(start, wait):
            raise ThrottledError(
                self.service,
                code="ThrottledElsewhere",
                message="the service asked to wait before the next call",
                retry_after=wait,
            )
        self.options.sleep(wait)

    def _record(
        self, operation: str, method: str, status: int | None, began: float, retry: int
    ) -> None:
        duration = self.options.clock() - began
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

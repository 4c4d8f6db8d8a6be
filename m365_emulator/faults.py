"""Scripted latency and failures per service, for tests, benchmarks and demo users.

A test says what Microsoft will do next ("the next 3 Graph calls answer 429 with
Retry-After: 2", "the PUT of /me/photo/$value answers 403 ErrorAccessDenied", "SharePoint
answers every call with 401 and this x-ms-diagnostics", "the token endpoint drops the
connection on refresh", "Graph accepts the connection and never answers"); the emulator's
request hook consumes the plan before the real handler runs. Each service renders a `Fault`
in its own error shape (`error_response(fault)` in entra.py, graph.py, sharepoint.py).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from flask import Response, has_request_context, request

SERVICES = ("entra", "graph", "sharepoint")

# What a fault does to the connection instead of answering: "drop" closes it without an
# answer (the client sees a connection error); "hang" holds it open for `hang_seconds`
# (the client sees its read timeout), then drops it.
Network = Literal["drop", "hang"]


@dataclass(frozen=True)
class Fault:
    """One scripted failure: which calls it matches and what they get instead of an answer.

    Matching (every given field must match): `user_oid` (the caller's object id: from the
    bearer token, or on the token endpoint the owner of the code or refresh token),
    `path_contains`, `method` (e.g. "PATCH"), `grant_type` (token endpoint only),
    `json_keys` (a JSON object body holding all of these properties, e.g. ("aboutMe",)).
    Answer: `status` with an optional `Retry-After` (seconds, or an HTTP-date string); the
    service's error body with `code` and `message` when given (Entra: `code` is the OAuth
    `error`, `aadsts` the AADSTS number, plus `suberror` and `claims`); extra `headers`
    (e.g. `WWW-Authenticate`, `x-ms-diagnostics`); or a raw `body` with `content_type`
    instead of the service's error body. `network` replaces the answer by a dropped or
    hung connection.
    """

    status: int = 500
    retry_after: int | str | None = None
    user_oid: str | None = None
    path_contains: str | None = None
    method: str | None = None
    grant_type: str | None = None
    json_keys: tuple[str, ...] = ()
    code: str | None = None
    message: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    aadsts: int | None = None
    suberror: str | None = None
    claims: str | None = None
    network: Network | None = None
    hang_seconds: float = 3600.0

    def matches(self, call: Call) -> bool:
        if self.user_oid is not None and self.user_oid != call.user_oid:
            return False
        if self.path_contains is not None and self.path_contains not in call.path:
            return False
        if self.method is not None and self.method.upper() != call.method:
            return False
        if not call.json_keys.issuperset(self.json_keys):
            return False
        return self.grant_type is None or self.grant_type == call.grant_type


@dataclass(frozen=True)
class Call:
    """What a fault can match on in one incoming request."""

    user_oid: str | None
    path: str
    method: str = "GET"
    grant_type: str | None = None
    json_keys: frozenset[str] = frozenset()


class Faults:
    """The fault plan of one tenant; safe to change while requests are served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.clear()

    def clear(self) -> None:
        """Forget the whole plan and let every hung call go."""
        with self._lock:
            self._latency: dict[str, float] = dict.fromkeys(SERVICES, 0.0)
            self._queued: dict[str, deque[Fault]] = {s: deque() for s in SERVICES}
            self._persistent: dict[str, list[Fault]] = {s: [] for s in SERVICES}
            self._hang: dict[str, float] = dict.fromkeys(SERVICES, 0.0)
            self._release_hung()

    def set_latency(self, service: str, seconds: float) -> None:
        """Add `seconds` before every answer of `service` (all services: "*")."""
        with self._lock:
            for s in self._services(service):
                self._latency[s] = seconds

    def add(self, service: str, fault: Fault, times: int | None = None) -> None:
        """Answer the next `times` matching calls to `service` with `fault` (None: every
        matching call until `heal(service)` or `clear()`)."""
        with self._lock:
            if times is None:
                self._persistent[service].append(fault)
            else:
                self._queued[service].extend([fault] * times)

    def fail_next(
        self,
        service: str,
        count: int,
        status: int,
        retry_after: int | str | None = None,
        *,
        user_oid: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Shorthand: the next `count` matching calls to `service` answer `status`."""
        self.add(service, Fault(status, retry_after, user_oid, path_contains), count)

    def fail_always(
        self,
        service: str,
        status: int,
        retry_after: int | str | None = None,
        *,
        user_oid: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Shorthand: every matching call to `service` answers `status` until healed."""
        self.add(service, Fault(status, retry_after, user_oid, path_contains))

    def heal(self, service: str) -> None:
        """Stop the scripted failures of `service` and let its hung calls go (latency stays)."""
        with self._lock:
            self._queued[service].clear()
            self._persistent[service].clear()
            self._hang[service] = 0.0
            self._release_hung()

    def hang(self, service: str, seconds: float = 3600.0) -> None:
        """Accept calls to `service` but answer only after `seconds` (a hung connection)."""
        with self._lock:
            self._hang[service] = seconds

    def latency(self, service: str) -> float:
        with self._lock:
            return self._latency.get(service, 0.0)

    def hang_time(self, service: str) -> float:
        with self._lock:
            return self._hang.get(service, 0.0)

    def wait(self, seconds: float) -> None:
        """Hold a hung call for `seconds`, or until the plan is cleared or healed."""
        with self._lock:
            released = self._release
        released.wait(seconds)

    def take(self, service: str, user_oid: str | None, path: str) -> Fault | None:
        """The fault the current call must answer with, consuming a queued one; None: serve it.

        Method and grant type come from the request being served (the emulator's hook calls
        this inside Flask's request context).
        """
        call = _current_call(user_oid, path)
        with self._lock:
            for fault in self._persistent.get(service, ()):
                if fault.matches(call):
                    return fault
            queue = self._queued.get(service)
            if not queue:
                return None
            for i, fault in enumerate(queue):
                if fault.matches(call):
                    del queue[i]
                    return fault
        return None

    def _release_hung(self) -> None:
        """Wake every waiting call and arm a fresh event for later hangs (lock held)."""
        self._release.set()
        self._release = threading.Event()

    @staticmethod
    def _services(service: str) -> tuple[str, ...]:
        return SERVICES if service == "*" else (service,)


def _current_call(user_oid: str | None, path: str) -> Call:
    """The request being served, as far as faults match on it."""
    if not has_request_context():
        return Call(user_oid, path)
    form = request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded"
    body = request.get_json(silent=True)
    return Call(
        user_oid,
        path,
        request.method,
        request.form.get("grant_type") if form else None,
        frozenset(body) if isinstance(body, dict) else frozenset(),
    )


def render(fault: Fault, error_body: Callable[[], Response]) -> Response:
    """`fault` as a response: its raw body, or the service's error body from `error_body()`;
    then its `Retry-After` and extra headers (which win over the service's own)."""
    if fault.body is not None:
        response = Response(fault.body, status=fault.status, content_type=fault.content_type)
    else:
        response = error_body()
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    for name, value in fault.headers.items():
        response.headers[name] = value
    return response

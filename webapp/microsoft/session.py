"""The `requests.Session` every Microsoft call travels on: default timeouts, a fixed CA bundle,
no redirects, a decorated User-Agent, and a cap on how many calls one worker has in flight.

Built once per process (`create_app`); what one call does with it (tokens, retries, errors)
is `requester.py`'s job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from webapp import about
from webapp.settings import Settings

# security.md §3.10: connect just over a TCP retransmit window, read 20 s; requests has no default.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 20.0)

# Calls in flight per service in ONE worker process (an instance has `workers` of them, see
# config/gunicorn.conf.py: 2 workers x 16 threads by default); fleet-wide in-flight calls =
# instances x workers x these numbers. A page reads both services in parallel (2-4 calls at
# once), so 16 threads could want ~32 Graph and ~32 SharePoint calls at a time. Graph's bound
# equals the thread count. SharePoint's per-app budget (1,200 resource units/min below 1k
# licences, security.md §1.5; ~1-2 units per REST call) is the one a photo campaign exhausts,
# so it gets fewer: 12 still serves a worker's 16 threads at ordinary load (measured with
# benchmarks/load_test.py; 6 made pages wait for slots at 50 users) but stops one slow or
# throttling SharePoint from tying up every thread. Its rate is policed by Retry-After, shared
# through the throttle gate (throttle.py); this cap only bounds the pile-up. Sign-in (Entra)
# sits in between.
OUTBOUND_LIMITS: Mapping[str, int] = {"graph": 16, "sharepoint": 12, "entra": 8}

# How long a call waits for a free slot before it fails like a timeout (no retry: the service
# is already busy with this worker's other calls). Well inside the clients' 10 s budget.
SLOT_WAIT = 5.0

# The parameters of `BaseAdapter.send`, as requests passes them on.
Timeout = float | tuple[float, float] | tuple[float, None] | None
Cert = bytes | str | tuple[bytes | str, bytes | str] | None


def decorated_user_agent(company: str, version: str = about.VERSION) -> str:
    """`NONISV|<company>|ProfileFix/<version>`: SharePoint deprioritises undecorated traffic.

    Format from reference §4.1 and security.md §1.5. Raises ValueError when `company` would
    break the format.
    """
    if not company or any(c in company for c in "| \r\n\t"):
        raise ValueError(f"company name {company!r} cannot go into a User-Agent")
    return f"NONISV|{company}|{about.NAME}/{version}"


DEFAULT_USER_AGENT = decorated_user_agent(about.NAME)


def is_decorated(user_agent: str) -> bool:
    """Whether a User-Agent already follows SharePoint's decoration (reference §4.1)."""
    return user_agent.startswith(("NONISV|", "ISV|"))


class _PolicyAdapter(HTTPAdapter):
    """Transport adapter that applies a default timeout and, if given, a fixed CA bundle."""

    def __init__(self, timeout: tuple[float, float], ca_bundle: str | None) -> None:
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        super().__init__()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if timeout is None:
            timeout = self._timeout
        # requests lets REQUESTS_CA_BUNDLE override `session.verify`; an explicit bundle wins.
        if self._ca_bundle is not None and verify is not False:
            verify = self._ca_bundle
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


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


# -- the cap on calls in flight ------------------------------------------------------------------


class OutboundBusyError(requests.exceptions.ConnectTimeout):
    """No call slot for the service freed up in time; handled like a timeout (no retry)."""


class _BoundedAdapter(BaseAdapter):
    """Wraps a transport adapter so that each service has at most N requests in flight."""

    def __init__(
        self,
        inner: BaseAdapter,
        service_of: Callable[[str], str],
        slots: Mapping[str, threading.BoundedSemaphore],
        slot_wait: float,
    ) -> None:
        super().__init__()
        self.inner = inner
        self._service_of = service_of
        self._slots = slots
        self._slot_wait = slot_wait

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        service = self._service_of(request.url or "")
        slot = self._slots[service]
        if not slot.acquire(timeout=self._slot_wait):
            raise OutboundBusyError(
                f"all {service} call slots of this worker stayed busy for {self._slot_wait} s",
                request=request,
            )
        try:
            # By keyword, as requests passes them: some adapters take only **kwargs.
            return self.inner.send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        finally:
            slot.release()

    def close(self) -> None:
        self.inner.close()


def service_classifier(settings: Settings) -> Callable[[str], str]:
    """Which service a URL belongs to, from the configured endpoints (hosts may coincide, as
    on the emulator, so paths decide first)."""
    graph = settings.graph_endpoint + "/"
    authority = settings.authority + "/"
    login_host = urlsplit(settings.authority).netloc
    sharepoint_host = urlsplit(settings.sharepoint_url).netloc

    def service_of(url: str) -> str:
        if url.startswith(graph):
            return "graph"
        if url.startswith(authority):
            return "entra"
        host = urlsplit(url).netloc
        if host == login_host and host != sharepoint_host:
            return "entra"
        return "sharepoint"  # the SharePoint origin and its My Site host

    return service_of


def bound_concurrency(
    session: requests.Session,
    settings: Settings,
    limits: Mapping[str, int] = OUTBOUND_LIMITS,
    slot_wait: float = SLOT_WAIT,
) -> None:
    """Cap in-flight calls per service on every adapter mounted on `session` (idempotent)."""
    slots = {service: threading.BoundedSemaphore(n) for service, n in limits.items()}
    service_of = service_classifier(settings)
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, _BoundedAdapter):
            session.mount(prefix, _BoundedAdapter(adapter, service_of, slots, slot_wait))

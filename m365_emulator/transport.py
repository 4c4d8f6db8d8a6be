"""A `requests` transport adapter that hands `https://…` calls straight to an in-process WSGI app.

Demo mode gives MSAL and the Graph/SharePoint clients a `requests.Session` with this adapter
mounted for the tenant's hosts: their code path stays the one used against Microsoft (real URLs,
real HTTP semantics), but no socket is opened. MSAL insists on https authorities (reference
§1.1) and accepts any object with `requests.Session`'s `get`/`post` as `http_client` (§1.8).
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

from m365_emulator.tenant import Origins

WSGIApp = Callable[..., Iterable[bytes]]
# Set in the WSGI environ by the emulator when its fault plan drops the connection.
DROPPED_CONNECTION = "m365_emulator.dropped_connection"


class WSGIAdapter(BaseAdapter):
    """Sends each request to `app` as a WSGI call with `wsgi.url_scheme=https`.

    The call runs on a worker thread so that a request `timeout` behaves as over a socket:
    an emulated hung connection (`Faults.hang`) raises `requests.ReadTimeout`.
    """

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        environ = _environ(request)
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["result"] = _run(self.app, environ)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=call, name="m365-emulator-call", daemon=True)
        worker.start()
        worker.join(_read_timeout(timeout))
        if worker.is_alive():
            raise requests.exceptions.ReadTimeout(
                f"The in-process emulator did not answer within {timeout} s", request=request
            )
        if "error" in outcome:
            raise requests.exceptions.ConnectionError(outcome["error"], request=request)
        if environ.get(DROPPED_CONNECTION):
            raise requests.exceptions.ConnectionError(
                "The in-process emulator dropped the connection", request=request
            )
        status, reason, headers, body = outcome["result"]
        return self._build_response(request, status, reason, headers, body)

    def close(self) -> None:
        """Nothing to release: no connections are pooled."""

    def _build_response(
        self,
        request: requests.PreparedRequest,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> requests.Response:
        header_dict = HTTPHeaderDict()
        message = Message()
        for name, value in headers:
            header_dict.add(name, value)
            message[name] = value
        raw = HTTPResponse(
            body=io.BytesIO(body),
            headers=header_dict,
            status=status,
            reason=reason,
            preload_content=False,
            decode_content=False,
            # The stubs want an http.client.HTTPResponse, which needs a socket.
            original_response=_OriginalResponse(message),  # type: ignore[arg-type]  # .msg suffices
            request_method=request.method,
            request_url=request.url,
        )
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = CaseInsensitiveDict(header_dict)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # stubs: HTTPAdapter only
        # Set-Cookie reaches the session's jar as over a socket.
        extract_cookies_to_jar(response.cookies, request, raw)
        return response


class _OriginalResponse:
    """The part of `http.client.HTTPResponse` that cookie extraction reads (`msg`)."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg

    def isclosed(self) -> bool:
        return True


def mount(
    session: requests.Session, wsgi_app: WSGIApp, origins: Origins | Iterable[str]
) -> WSGIAdapter:
    """Route the session's `https://` calls for `origins` (or host[:port] values) to `wsgi_app`."""
    if isinstance(origins, Origins):
        hosts = origins.hosts()
    else:
        hosts = {urlsplit(o).netloc if "://" in o else o for o in origins}
    adapter = WSGIAdapter(wsgi_app)
    for host in sorted(hosts):
        session.mount(f"https://{host}/", adapter)
        if ":" not in host.rsplit("]", 1)[-1]:
            # SharePoint writes picture URLs with an explicit default port
            # (`https://contoso-my.sharepoint.com:443/...`, reference §4.2).
            session.mount(f"https://{host}:443/", adapter)
    return adapter


def _environ(request: requests.PreparedRequest) -> dict[str, Any]:
    url = urlsplit(request.url or "")
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, bytes):
        data = body
    elif hasattr(body, "read"):
        data = body.read()
    else:
        data = b"".join(body)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method or "GET",
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO is the percent-decoded path, bytes carried as latin-1.
        "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port or 443),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": url.netloc,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key not in ("CONTENT_LENGTH", "HOST"):
            environ[f"HTTP_{key}"] = value
    return environ


def _run(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started["status"], started["headers"] = status, headers
        return lambda chunk: chunks.append(chunk)

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    code, _, reason = started["status"].partition(" ")
    return int(code), reason, list(started["headers"]), b"".join(chunks)


def _read_timeout(timeout: float | tuple[float | None, float | None] | None) -> float | None:
    if isinstance(timeout, tuple):
        return timeout[1]
    return timeout

"""Reading what Graph and SharePoint answered: status + error body → one `errors.py` type, and
JSON bodies checked to be objects (STYLE §3.6: here and nowhere else)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import requests

from webapp.microsoft.errors import (
    AuthRequiredError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
)

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


def claims_challenge(resp: requests.Response) -> str | None:
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
            claims_challenge=claims_challenge(resp),
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

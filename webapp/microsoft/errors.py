"""Typed failures of Microsoft Graph and SharePoint calls, one subclass per thing a caller does."""

from __future__ import annotations


class UpstreamError(Exception):
    """A Graph or SharePoint call failed.

    `service` is "graph" or "sharepoint"; `status` the HTTP status (None when no response
    arrived); `code` the service's error code (Graph `error.code`, SharePoint
    `"<HRESULT>, <.NET type>"`); `request_id` the id to quote to Microsoft support;
    `retry_after` seconds after which a retry may succeed, when the service said so.
    """

    def __init__(
        self,
        service: str,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # Exceptions pickle by `args`; keep every field (errors may be stored in a session).
        return (type(self), self._fields())

    def _fields(self) -> tuple[object, ...]:
        return (
            self.service,
            self.status,
            self.code,
            self.message,
            self.request_id,
            self.retry_after,
        )

    def _describe(self) -> str:
        parts = [self.service]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        if self.message:
            text += f": {self.message}"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g} s)"
        if self.request_id:
            text += f" [request-id {self.request_id}]"
        return text


class ThrottledError(UpstreamError):
    """429 (or a shared throttle still in force) lasting longer than the in-request budget."""


class ServiceUnavailableError(UpstreamError):
    """502/503/504 that persisted through the retries, or the connection was refused."""


class AuthRequiredError(UpstreamError):
    """401: the token was refused even after one silent refresh; the user must sign in again.

    `claims_challenge` is the decoded JSON of a Conditional Access / CAE claims challenge
    (`WWW-Authenticate: Bearer error="insufficient_claims", claims="..."`), to pass to MSAL.
    """

    def __init__(
        self,
        service: str,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
        claims_challenge: str | None = None,
    ) -> None:
        self.claims_challenge = claims_challenge
        super().__init__(service, status, code, message, request_id, retry_after)

    def _fields(self) -> tuple[object, ...]:
        return (*super()._fields(), self.claims_challenge)


class ForbiddenError(UpstreamError):
    """403: e.g. a profile field the tenant does not let the user change."""


class NotFoundError(UpstreamError):
    """404 where "not found" is not a normal answer (e.g. the user itself)."""


class BadRequestError(UpstreamError):
    """400: the service refused the request as malformed or unsupported."""


class BadResponseError(UpstreamError):
    """The service answered with something we cannot use (unparseable or unexpected)."""


class UpstreamTimeoutError(UpstreamError):
    """No answer within the configured timeout."""

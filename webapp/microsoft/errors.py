"""Typed failures of Microsoft Graph and SharePoint calls, one subclass per thing a caller does."""

from __future__ import annotations


class UpstreamError(Exception):
    """A Graph or SharePoint call failed.

    `service` is "graph" or "sharepoint"; `status` the HTTP status (None when no response
    arrived); `code` the service's error code (Graph `error.code`, SharePoint
    `"<HRESULT>, <.NET type>"`); `request_id` the id to quote to Microsoft support;
    `retry_after` seconds after which a retry may succeed, when the service said so.
    """

    # Whether asking again right away cannot help (a page then offers no "Try again").
    lasting = False
    # SharePoint's `x-ms-diagnostics` on a refused token; None for every other failure.
    diagnostics: str | None = None

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


class _RefusedTokenError(UpstreamError):
    """The service refused the user's token: what both its forms below carry. `consent` says
    that consent for the service's permissions is missing (AADSTS65001); `diagnostics` is
    SharePoint's `x-ms-diagnostics` header, which says why it refused a token."""

    def __init__(
        self,
        service: str,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
        consent: bool = False,
        diagnostics: str | None = None,
    ) -> None:
        self.consent = consent
        self.diagnostics = diagnostics
        super().__init__(service, status, code, message, request_id, retry_after)

    def _fields(self) -> tuple[object, ...]:
        return (*super()._fields(), self.consent, self.diagnostics)


class AuthRequiredError(_RefusedTokenError):
    """The user must go through sign-in (again) before this service can be called.

    Raised for a 401 that one silent refresh did not cure, and for a token that could not be
    had silently (expired session, missing consent). `claims_challenge` is the JSON of a
    Conditional Access / CAE claims challenge (`WWW-Authenticate: Bearer
    error="insufficient_claims", claims="..."`, reference §9.2) to take to the sign-in.
    """

    def __init__(
        self,
        service: str,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
        consent: bool = False,
        diagnostics: str | None = None,
        claims_challenge: str | None = None,
    ) -> None:
        self.claims_challenge = claims_challenge
        super().__init__(
            service, status, code, message, request_id, retry_after, consent, diagnostics
        )

    def _fields(self) -> tuple[object, ...]:
        return (*super()._fields(), self.claims_challenge)


class AccessRefusedError(_RefusedTokenError):
    """The service still refuses the user's tokens although they signed in again moments ago.

    What a loop guard makes of an AuthRequiredError once the sign-in round it allows was
    used (reference §9.2: never loop through sign-in): a failure of this service to show,
    explain and pass to the helpdesk, with SharePoint's `diagnostics` when it sent them.
    """

    lasting = True

    @classmethod
    def after(cls, error: AuthRequiredError) -> AccessRefusedError:
        """The lasting form of `error`, keeping everything the helpdesk needs."""
        return cls(
            error.service,
            error.status,
            error.code,
            error.message,
            error.request_id,
            consent=error.consent,
            diagnostics=error.diagnostics,
        )


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

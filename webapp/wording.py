"""The shared vocabulary: what every page calls each service, each profile field, an empty
value, a moment in time, a refused photo file, Microsoft failing to answer, and the helpdesk
summary. Feature wording modules (and the change history's, webapp/changes/wording.py) build
on these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from babel.dates import format_skeleton
from flask_babel import LazyString, format_datetime, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp.imaging.pipeline import Rejection
from webapp.microsoft.errors import (
    AccessRefusedError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamError,
    UpstreamTimeoutError,
)

SERVICE_NAMES = {
    "graph": _l("Outlook and Teams (Exchange and Entra ID)"),
    "sharepoint": _l("SharePoint"),
}

EMPTY = _l("(empty)")

# Profile fields by their name in profile/fields.py (the profile page and the history).
FIELD_LABELS = {
    "about_me": _l("About me"),
    "skills": _l("Skills"),
    "interests": _l("Interests"),
    "past_projects": _l("Past projects"),
    "responsibilities": _l("Ask me about"),
    "schools": _l("Schools"),
    "birthday": _l("Birthday"),
    "mobile_phone": _l("Mobile phone"),
    "display_name": _l("Name"),
    "job_title": _l("Job title"),
    "department": _l("Department"),
    "office": _l("Office"),
    "business_phone": _l("Business phone"),
    "manager": _l("Manager"),
    "company": _l("Company"),
}

# Why a photo file was refused (the upload page and the history).
PHOTO_REJECTIONS: dict[Rejection, LazyString] = {
    Rejection.EMPTY: _l("No photo arrived. Please choose a photo file."),
    Rejection.UNSUPPORTED_FORMAT: _l("This file is not a photo ProfileFix can use."),
    Rejection.ANIMATED: _l("Animated pictures cannot be profile photos."),
    Rejection.TOO_LARGE_BYTES: _l("The file is too large."),
    Rejection.TOO_MANY_PIXELS: _l("The picture has too many pixels to handle safely."),
    Rejection.TOO_SMALL: _l("The picture is too small to look sharp."),
    Rejection.CORRUPT: _l("The file is damaged or incomplete and cannot be read."),
    Rejection.BAD_CROP: _l("The chosen square does not fit the photo. Please choose it again."),
    Rejection.OUTPUT_TOO_LARGE: _l("The photo could not be made small enough for Microsoft 365."),
    Rejection.BUSY: _l("Many photos are being processed right now. Please try again in a minute."),
    Rejection.TOO_LARGE_TO_DECODE: _l(
        "The picture is too large to handle safely as it is saved. Save it as a standard JPEG "
        "photo or at a smaller size, and try again."
    ),
}

# Any leap year: a birthday without a year may be 29 February.
_LEAP_YEAR = 2000


def service_name(service: str) -> str:
    return str(SERVICE_NAMES.get(service, service))


def value(text: object) -> str:
    """A profile value for display; unset ones read "(empty)"."""
    return str(EMPTY) if text is None or text == "" else str(text)


def birthday(day: int, month: int, year: int | None) -> str:
    """The day and month in the user's language, with the year only when it is known."""
    locale = str(get_locale() or "en")
    if year is None:
        return format_skeleton("MMMMd", date(_LEAP_YEAR, month, day), locale=locale)
    return format_skeleton("yMMMMd", date(year, month, day), locale=locale)


def when(moment: datetime | None) -> str:
    """A date and time in the user's language and time zone; "unknown" when absent."""
    if moment is None:
        return _("unknown")
    return str(format_datetime(moment, "medium"))


def upstream_failure(error: UpstreamError) -> str:
    """What went wrong when a Microsoft service did not give us an answer."""
    service = service_name(error.service)
    seconds = round(error.retry_after) if error.retry_after is not None else None
    if isinstance(error, AccessRefusedError):
        return access_refused(error)
    if isinstance(error, ThrottledError):
        if seconds:
            return _(
                "Microsoft is busy (%(service)s asked us to slow down): "
                "try again in %(seconds)d s.",
                service=service,
                seconds=seconds,
            )
        return _(
            "Microsoft is busy (%(service)s asked us to slow down): try again in a minute.",
            service=service,
        )
    if isinstance(error, UpstreamTimeoutError):
        return _("%(service)s did not answer in time. Try again in a minute.", service=service)
    if isinstance(error, ServiceUnavailableError):
        if seconds:
            return _(
                "%(service)s is not available right now: try again in %(seconds)d s.",
                service=service,
                seconds=seconds,
            )
        return _(
            "%(service)s is not available right now. Try again in a few minutes.", service=service
        )
    if isinstance(error, ForbiddenError):
        return _(
            "%(service)s refused to show this to your account; your organisation may restrict "
            "it. Contact your helpdesk.",
            service=service,
        )
    if isinstance(error, NotFoundError):
        return _("%(service)s has no profile for your account yet.", service=service)
    if isinstance(error, BadResponseError):
        return _("%(service)s answered with something we could not read.", service=service)
    if isinstance(error, BadRequestError):
        return _("%(service)s refused our request.", service=service)
    return _("%(service)s answered with an error.", service=service)


def access_refused(error: AccessRefusedError) -> str:
    """Why a service's part could not be read although the user just signed in again."""
    service = service_name(error.service)
    if error.consent:
        return _(
            "%(service)s could not be read: your organisation has not allowed ProfileFix to "
            "use it for you, and asking for your consent again did not change that. Your "
            "helpdesk or an administrator can grant it.",
            service=service,
        )
    return _(
        "%(service)s could not be read: it refused your sign-in, and signing in again did not "
        "help. Your helpdesk needs the references below to find out why.",
        service=service,
    )


def entra_unavailable(seconds: int) -> str:
    """The sign-in service (Entra ID) did not answer or failed."""
    return _(
        "Microsoft's sign-in service is not available right now, so ProfileFix cannot reach "
        "your profile: try again in %(seconds)d s. Nothing was changed.",
        seconds=seconds,
    )


def refusal_findings(error: AccessRefusedError, reference: str) -> list[str]:
    """The helpdesk summary's lines for a refused sign-in: what failed, and our reference."""
    return [
        _(
            "What failed: %(service)s refused the sign-in after a new sign-in",
            service=service_name(error.service),
        ),
        _("Reference: %(id)s", id=reference),
    ]


def helpdesk_summary(
    findings: Iterable[str],
    *,
    name: str,
    username: str,
    ticket: str | None,
    taken_at: datetime,
    failures: Iterable[UpstreamError | None],
    version: str,
    recent_changes: Iterable[str] = (),
) -> str:
    """Plain text for a helpdesk ticket: who, when, what the page found (`findings`, one line
    each), the calls Microsoft did not answer, the person's latest changes (`recent_changes`,
    lines from webapp/changes/wording.py) and the app version.

    Holds no token and no photo bytes: only what the page shows, plus Microsoft's request ids.
    """
    lines = [_("ProfileFix summary")]
    if ticket:
        lines.append(_("Ticket: %(ticket)s", ticket=ticket))
    lines.append(_("Who: %(name)s <%(username)s>", name=name, username=username))
    lines.append(_("When: %(time)s UTC", time=taken_at.strftime("%Y-%m-%d %H:%M:%S")))
    lines.extend(findings)
    unique: list[UpstreamError] = []
    for error in failures:
        if error is not None and error not in unique:
            unique.append(error)
    if unique:
        lines.append(
            ngettext("Problem reaching Microsoft:", "Problems reaching Microsoft:", len(unique))
        )
        for error in unique:
            lines.append(
                "  "
                + _(
                    "%(service)s: status %(status)s, code %(code)s, request id %(request_id)s",
                    service=service_name(error.service),
                    status=error.status if error.status is not None else "-",
                    code=error.code or "-",
                    request_id=error.request_id or "-",
                )
            )
            if error.diagnostics:
                lines.append("    " + _("x-ms-diagnostics: %(value)s", value=error.diagnostics))
    lines.extend(recent_changes)
    lines.append(_("App: ProfileFix %(version)s", version=version))
    return "\n".join(lines)

"""Helpdesk links: the page that lists them for helpdesk staff, and where a link to no page lands.

Links are stable nouns (STYLE.md §3.7) that survive sign-in (`auth.views.DEEP_LINK_ENDPOINTS`);
a `?ticket=` in them is checked by `webapp.web.ticket`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import LazyString, force_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from webapp.auth.views import is_deep_link_page
from webapp.web import context, ticket

bp = Blueprint("helpdesk", __name__)

# The staff page's own field: not `ticket`, so trying links out does not tag the visit.
REFERENCE_FIELD = "reference"
# Where the reply texts put the link; the page's script swaps in the link with the ticket.
LINK_MARK = "{link}"
REPLY_LANGUAGES = ("en", "da")

# Paths whose 404 stays a 404 (pictures, files, JSON, probes, sign-in, the emulator), and
# `/console`, which must answer 404 to show the debugger is off (security.md D9).
NOT_PAGES = (
    "/static/",
    "/pictures/",
    "/history/pictures/",
    "/photo/status/",
    "/auth/",
    "/_",
    "/healthz",
    "/readyz",
    "/metrics",
    "/console",
)
# Files a crawler or a stale bookmark asks for: a 404, not a trip to the overview.
FILE_SUFFIXES = (
    ".ico",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
    ".css",
    ".js",
    ".map",
    ".txt",
    ".xml",
    ".json",
    ".webmanifest",
    ".woff",
    ".woff2",
)


@dataclass(frozen=True)
class DeepLink:
    """One page a helpdesk can send an employee to, with a reply text in English source form."""

    endpoint: str
    key: str
    title: LazyString
    purpose: LazyString
    reply: LazyString


# Reply texts stay English msgids so the catalogue gives the Danish ones (`replies()`).
DEEP_LINKS = (
    DeepLink(
        "overview.index",
        "overview",
        _l("Overview: photo and profile in both places"),
        _l(
            "Shows the employee's photo and profile as Outlook and Teams show them and as "
            "SharePoint shows them, says what differs and what to do about it."
        ),
        _l(
            "Hello,\n\nPlease open this link and sign in with your work account: %(link)s\n\n"
            "The page shows your profile photo and details as Outlook and Teams show them and as "
            "SharePoint shows them, and what to do if they differ. If something still looks "
            'wrong, use "Copy for helpdesk" on the page and paste the summary into your reply.'
            "\n\nKind regards"
        ),
    ),
    DeepLink(
        "photo.upload",
        "photo",
        _l("Change the profile photo"),
        _l(
            "The employee chooses a photo, crops it square and saves it to Outlook, Teams and "
            "SharePoint in one go."
        ),
        _l(
            "Hello,\n\nYou can change your profile photo yourself here: %(link)s\n\n"
            "Sign in with your work account and choose a photo from your phone or computer. "
            "The page crops it square, removes location data and saves it to Outlook, Teams "
            "and SharePoint. It can take a little while before every app shows the new photo."
            "\n\nKind regards"
        ),
    ),
    DeepLink(
        "photo.resync",
        "resync",
        _l("Make SharePoint show the current photo"),
        _l(
            "For an old photo or a grey placeholder in SharePoint: offers SharePoint the photo "
            "Outlook and Teams show where the organisation allows it, then checks what "
            "SharePoint shows and says what only SharePoint's cache refreshing fixes."
        ),
        _l(
            "Hello,\n\nSharePoint still shows an old photo or a grey placeholder for you. Open "
            "this link and sign in with your work account: %(link)s\n\n"
            "The page does what your organisation's SharePoint allows to show your current "
            "photo there now, checks what SharePoint shows, and tells you if SharePoint's "
            "cache still needs a while.\n\nKind regards"
        ),
    ),
    DeepLink(
        "overview.attributes",
        "attributes",
        _l("Compare profile details"),
        _l(
            "Job title, department, phone numbers and other details as Entra ID and SharePoint "
            "hold them, side by side, with the differences marked."
        ),
        _l(
            "Hello,\n\nThis link shows your profile details, such as job title, department and "
            "phone numbers, as Entra ID and SharePoint hold them, side by side: %(link)s\n\n"
            "Sign in with your work account. Details that differ are marked, and the page says "
            "how long SharePoint usually takes to catch up.\n\nKind regards"
        ),
    ),
    DeepLink(
        "profile.index",
        "profile",
        _l("Correct profile details"),
        _l(
            "The employee checks their profile details and corrects the ones they may change "
            "themselves; the page says who changes the others."
        ),
        _l(
            "Hello,\n\nYou can check your profile details and correct the ones you may change "
            "yourself here: %(link)s\n\n"
            "Sign in with your work account. For details your organisation manages, such as "
            "job title and department, the page tells you who can change them.\n\nKind regards"
        ),
    ),
    DeepLink(
        "history.index",
        "history",
        _l("The employee's changes"),
        _l(
            "Every change the employee made with ProfileFix, newest first, with the time, what "
            "each step achieved and the request ids; they can put an earlier photo back and "
            "download the list."
        ),
        _l(
            "Hello,\n\nThis link shows every change you made with ProfileFix, with the time and "
            "whether it went through: %(link)s\n\n"
            "Sign in with your work account. If you want, download the list there and attach "
            "it to your reply, or tell us the request id of the change in question."
            "\n\nKind regards"
        ),
    ),
)


def with_ticket(link: str, reference: str | None) -> str:
    return f"{link}?{ticket.PARAMETER}={reference}" if reference else link


def replies(reply: LazyString, link: str) -> dict[str, str]:
    """The reply text in each reply language, whatever language the page itself is in."""
    texts = {}
    for language in REPLY_LANGUAGES:
        with force_locale(language):
            texts[language] = gettext(reply, link=link)
    return texts


@bp.get("/helpdesk")
def index() -> str:
    """The deep links with reply texts, for helpdesk staff (no sign-in)."""
    raw = request.args.get(REFERENCE_FIELD, "").strip()
    reference = raw if raw and ticket.is_valid(raw) else None
    links = []
    for link in DEEP_LINKS:
        base = context.absolute_url(link.endpoint)
        links.append(
            {
                "link": link,
                "base": base,
                "url": with_ticket(base, reference),
                "replies": replies(link.reply, with_ticket(base, reference)),
                "templates": replies(link.reply, LINK_MARK),
            }
        )
    return render_template(
        "helpdesk/index.html",
        links=links,
        reference=reference,
        bad_reference=bool(raw) and reference is None,
        example=ticket.EXAMPLE,
        parameter=ticket.PARAMETER,
        pattern=ticket.PATTERN.pattern,
        link_mark=LINK_MARK,
    )


def _is_page_link() -> bool:
    """Whether this request looks like a person following a link to a page of ours."""
    if request.method != "GET" or not isinstance(request.routing_exception, NotFound):
        return False
    if request.headers.get("Sec-Fetch-Dest", "document") != "document":
        return False  # an image, script or favicon fetch, not a page someone opened
    path = request.path
    return not path.lower().endswith(FILE_SUFFIXES) and not path.startswith(NOT_PAGES)


def _near_miss(path: str) -> str | None:
    """`/Photo/` or `/photo/resync/` for a page we have: the page's path, else None."""
    candidate = "/" + path.strip("/").lower()
    if candidate != path and (candidate == "/helpdesk" or is_deep_link_page(candidate)):
        return candidate
    return None


@bp.before_app_request
def _unknown_link() -> Response | None:
    """A link to no page lands on the overview with a note, never on an error page."""
    if not _is_page_link():
        return None
    reference = ticket.current_ticket()
    target = _near_miss(request.path)
    if target is not None:
        return redirect(with_ticket(target, reference))
    flash(gettext("That link does not lead to a page here, so you are on the start page."), "info")
    return redirect(with_ticket(url_for("overview.index"), reference))

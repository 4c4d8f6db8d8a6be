"""Why Microsoft would not store a field, and the session's memory of it (a refused field
stays read-only for the rest of the session). Reference §8.2 error table, §8.7."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from enum import StrEnum

from webapp.microsoft.errors import BadRequestError, ForbiddenError, UpstreamError
from webapp.profile.fields import EDITABLE_BY_NAME, EditableField


class Refusal(StrEnum):
    """Why Microsoft would not store a field; all but REJECTED make it read-only."""

    # 403 Authorization_RequestDenied: the tenant does not let members change it (§8.2 [S63]).
    ORGANISATION = "organisation"
    # A directory field's PATCH (the mobile phone) refused with 400 although our checks passed:
    # the account is mastered on-premises ("source of authority", §8.1 [S59], §8.2).
    ON_PREMISES = "on_premises"
    # 500 DirectoryObjectUnauthorizedAccessException: SharePoint profile not writable (§8.7).
    SHAREPOINT_NOT_WRITABLE = "sharepoint_not_writable"
    # 400 for this one field on its own: Microsoft refused the value itself.
    REJECTED = "rejected"
    # Graph's 400 "Tenant does not have a SPO license." to the SharePoint-backed fields
    # (reference §9.2, graph-docs #4233): known from reading, never remembered.
    NO_SHAREPOINT = "no_sharepoint"


_REFUSAL_VALUES = frozenset(r.value for r in Refusal)
READ_ONLY_REFUSALS = frozenset(
    {
        Refusal.ORGANISATION,
        Refusal.ON_PREMISES,
        Refusal.SHAREPOINT_NOT_WRITABLE,
        Refusal.NO_SHAREPOINT,
    }
)

# Where the page remembers refusals for this session (a server-side session mapping).
MEMORY_KEY = "profile.read_only"


def refusal(spec: EditableField | None, exc: UpstreamError) -> Refusal | None:
    """How a refused PATCH of `spec` alone (None: of several fields) reads (§8.2 error table,
    §8.7); None when it is a failure, not a refusal."""
    if isinstance(exc, ForbiddenError):
        return Refusal.ORGANISATION
    if isinstance(exc, BadRequestError):
        on_premises = spec is not None and not spec.stored_in_sharepoint
        return Refusal.ON_PREMISES if on_premises else Refusal.REJECTED
    if exc.status == 500 and "DirectoryObjectUnauthorizedAccessException" in (exc.code or ""):
        return Refusal.SHAREPOINT_NOT_WRITABLE
    return None


def remembered_refusals(memory: Mapping[str, object]) -> dict[str, Refusal]:
    """The fields refused earlier in this session (they stay read-only); junk is ignored."""
    stored = memory.get(MEMORY_KEY)
    if not isinstance(stored, dict):
        return {}
    return {
        name: Refusal(reason)
        for name, reason in stored.items()
        if name in EDITABLE_BY_NAME and reason in _REFUSAL_VALUES
    }


def remember_refusals(memory: MutableMapping[str, object], refused: Mapping[str, Refusal]) -> None:
    """Keep the refusals that make a field read-only (not a value Microsoft rejected)."""
    lasting = {n: r for n, r in refused.items() if r in READ_ONLY_REFUSALS}
    if lasting:
        memory[MEMORY_KEY] = {
            **remembered_refusals(memory),
            **{n: r.value for n, r in lasting.items()},
        }

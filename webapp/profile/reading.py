"""Reads your profile from both sides at once and lays it out in rows: the fields you own and
the ones your organisation maintains, each with Graph's and SharePoint's value (§8.2, §4.2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from webapp.microsoft.errors import BadRequestError, UpstreamError
from webapp.microsoft.graph import GraphClient
from webapp.microsoft.models import GraphUser, SharePointProfile
from webapp.microsoft.parallel import ParallelReads, outcome
from webapp.microsoft.properties import RowState, diff_rows
from webapp.microsoft.sharepoint import SharePointClient
from webapp.profile.fields import (
    BACKED_SELECT,
    DIRECTORY_SELECT,
    EDITABLE,
    MANAGED,
    EditableField,
    ManagedField,
    Owner,
)
from webapp.profile.refusals import READ_ONLY_REFUSALS, Refusal, remembered_refusals
from webapp.profile.values import Value, equivalent, graph_value, sharepoint_value, token


@dataclass(frozen=True)
class EditableRow:
    """One field you own: its value on each side, the form token, and a refusal if any."""

    field: EditableField
    graph_value: Value
    sharepoint_value: Value
    graph_read: bool
    sharepoint_read: bool
    read_only: Refusal | None = None

    @property
    def token(self) -> str | None:
        return token(self.graph_value) if self.graph_read else None

    @property
    def owner(self) -> Owner:
        """You, unless Microsoft refused your change (then who holds it instead)."""
        if self.read_only is Refusal.ON_PREMISES:
            return Owner.ON_PREMISES_AD
        if self.read_only in READ_ONLY_REFUSALS:
            return Owner.ENTRA_ID
        return Owner.YOU

    @property
    def state(self) -> RowState:
        if not (self.graph_read and self.sharepoint_read):
            return RowState.UNAVAILABLE
        if equivalent(self.graph_value, self.sharepoint_value):
            return RowState.SAME
        return RowState.DIFFERS if self.field.synced else RowState.NOT_SYNCED


@dataclass(frozen=True)
class ManagedRow:
    """One organisation-owned field with both sides' values (None: unset or not read)."""

    field: ManagedField
    graph_value: str | None
    sharepoint_value: str | None
    state: RowState
    owner: Owner
    graph_read: bool = True
    sharepoint_read: bool = True


@dataclass(frozen=True)
class ProfileView:
    """Both sides of the profile at one moment; an `*_error` is what hid that side."""

    editable: tuple[EditableRow, ...]
    managed: tuple[ManagedRow, ...]
    graph_error: UpstreamError | None = None
    sharepoint_error: UpstreamError | None = None
    # What hid the SharePoint-backed fields on Graph's side while the directory fields were
    # read (a missing SharePoint licence is not an error: those fields are NO_SHAREPOINT).
    backed_error: UpstreamError | None = None

    def row(self, name: str) -> EditableRow:
        return next(r for r in self.editable if r.field.name == name)

    @property
    def tokens(self) -> dict[str, str]:
        return {r.field.name: r.token for r in self.editable if r.token and not r.read_only}

    @property
    def differing(self) -> tuple[EditableRow | ManagedRow, ...]:
        """Rows whose sides disagree although SharePoint is expected to follow (helpdesk)."""
        rows: list[EditableRow | ManagedRow] = [
            r for r in self.editable if r.state is RowState.DIFFERS
        ]
        rows.extend(r for r in self.managed if r.state is RowState.DIFFERS)
        return tuple(rows)


def build_view(
    user: GraphUser | None,
    profile: SharePointProfile | None,
    *,
    read_only: Mapping[str, Refusal],
    graph_error: UpstreamError | None = None,
    sharepoint_error: UpstreamError | None = None,
    backed_error: UpstreamError | None = None,
) -> ProfileView:
    """Pure: the rows of the page from what each side returned.

    `user` lacks the SharePoint-backed fields when `backed_error` hid them, or when Graph said
    the user has no SharePoint licence (`read_only` then marks them NO_SHAREPOINT).
    """
    if user is not None and user.on_premises_sync_enabled:
        # Known before any save: a synced account's directory fields (the phone) are mastered
        # on premises (§8.2).
        on_premises = {f.name: Refusal.ON_PREMISES for f in EDITABLE if not f.stored_in_sharepoint}
        read_only = {**on_premises, **read_only}

    def graph_read(spec: EditableField) -> bool:
        if user is None:
            return False
        return not spec.stored_in_sharepoint or (
            backed_error is None and read_only.get(spec.name) is not Refusal.NO_SHAREPOINT
        )

    editable = tuple(
        EditableRow(
            field=spec,
            graph_value=graph_value(spec, user) if user is not None and graph_read(spec) else None,
            sharepoint_value=sharepoint_value(spec, profile) if profile is not None else None,
            graph_read=graph_read(spec),
            sharepoint_read=profile is not None,
            read_only=read_only.get(spec.name),
        )
        for spec in EDITABLE
    )
    # The organisation's fields are the overview's attribute rows (the property map, §5.5).
    rows = {row.attribute: row for row in diff_rows(user, profile)}
    synced_account = Refusal.ON_PREMISES in read_only.values()
    managed: list[ManagedRow] = []
    read = {"graph_read": user is not None, "sharepoint_read": profile is not None}
    for spec in MANAGED:
        owner = Owner.ON_PREMISES_AD if synced_account else spec.owner
        if spec.attribute is not None:
            row = rows[spec.attribute]
            managed.append(
                ManagedRow(spec, row.graph_value, row.sharepoint_value, row.state, owner, **read)
            )
        else:
            # Only the company is not copied to SharePoint (§5.5).
            value = user.company_name if user is not None else None
            state = RowState.NOT_SYNCED if user is not None else RowState.UNAVAILABLE
            managed.append(ManagedRow(spec, value, None, state, owner, **read))
    return ProfileView(editable, tuple(managed), graph_error, sharepoint_error, backed_error)


# Graph's answer for SharePoint-backed fields of a user without SharePoint (reference §9.2,
# graph-docs #4233: "Tenant does not have a SPO license.").
NO_SPO_LICENSE = "does not have a spo license"


def _no_sharepoint_licence(error: UpstreamError | None) -> bool:
    return isinstance(error, BadRequestError) and NO_SPO_LICENSE in error.message.lower()


def _with_backed(user: GraphUser | None, backed: GraphUser | None) -> GraphUser | None:
    """The directory read with the SharePoint-backed fields of the second read added."""
    if user is None or backed is None:
        return user
    values = {
        f.name: getattr(backed, f.name)
        for f in dataclasses.fields(GraphUser)
        if f.name not in ("id", "fields")
    }
    extra = {k: v for k, v in values.items() if getattr(user, k) is None and v is not None}
    return dataclasses.replace(user, **extra, fields=user.fields | backed.fields)


def read_profile(
    graph: GraphClient, sharepoint: SharePointClient, memory: Mapping[str, object]
) -> ProfileView:
    """Graph's directory fields, Graph's SharePoint-backed fields and SharePoint's
    `GetMyProperties`, all at the same time (§8.2, §4.2, §9.2).

    `memory` holds the refusals seen earlier in this session, which keep fields read-only.

    :raise AuthRequiredError: a service refused the token even after a refresh.
    """
    with ParallelReads("profile", workers=3) as reads:
        me = reads.start(graph.me, select=DIRECTORY_SELECT)
        backed_me = reads.start(graph.me, select=BACKED_SELECT)
        properties = reads.start(sharepoint.my_properties)
        user, graph_error = outcome(me)
        backed, backed_error = outcome(backed_me)
        profile, sharepoint_error = outcome(properties)
    read_only = remembered_refusals(memory)
    if _no_sharepoint_licence(backed_error):
        no_licence = {s.name: Refusal.NO_SHAREPOINT for s in EDITABLE if s.stored_in_sharepoint}
        read_only = {**no_licence, **read_only}
        backed_error = None
    return build_view(
        _with_backed(user, backed),
        profile,
        read_only=read_only,
        graph_error=graph_error,
        sharepoint_error=sharepoint_error,
        backed_error=backed_error if user is not None else None,
    )
